/* Trace and span ids: never zero, unique, per thread, fresh after fork. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpctrace/rpctrace.h"

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }
static int cmp8(const void *a, const void *b) { return memcmp(a, b, 8); }

#define N_IDS 100000

static void test_ids_are_valid_and_unique(void **state) {
  (void)state;
  rpct_trace_id *t = malloc(N_IDS * sizeof *t);
  rpct_span_id *s = malloc(N_IDS * sizeof *s);
  assert_non_null(t);
  assert_non_null(s);
  for (int i = 0; i < N_IDS; i++) {
    rpct_trace_id_generate(&t[i]);
    rpct_span_id_generate(&s[i]);
    assert_true(rpct_trace_id_is_valid(&t[i]));
    assert_true(rpct_span_id_is_valid(&s[i]));
  }
  qsort(t, N_IDS, sizeof *t, cmp16);
  qsort(s, N_IDS, sizeof *s, cmp8);
  int dup_t = 0, dup_s = 0;
  for (int i = 1; i < N_IDS; i++) {
    dup_t += memcmp(&t[i], &t[i - 1], 16) == 0;
    dup_s += memcmp(&s[i], &s[i - 1], 8) == 0;
  }
  assert_int_equal(dup_t, 0);
  assert_int_equal(dup_s, 0); /* 1e5 draws of 64 bits: a collision has p < 1e-9 */
  free(t);
  free(s);
}

static void test_zero_ids_are_invalid(void **state) {
  (void)state;
  rpct_trace_id t = {0};
  rpct_span_id s = {0};
  assert_false(rpct_trace_id_is_valid(&t));
  assert_false(rpct_span_id_is_valid(&s));
  assert_false(rpct_trace_id_is_valid(NULL));
  t.bytes[15] = 1;
  s.bytes[0] = 1;
  assert_true(rpct_trace_id_is_valid(&t));
  assert_true(rpct_span_id_is_valid(&s));
}

static void test_id_format_and_parse_round_trip(void **state) {
  (void)state;
  rpct_trace_id t;
  rpct_span_id s;
  assert_int_equal(rpct_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e4736", 32, &t), RPCT_OK);
  assert_int_equal(rpct_span_id_parse("00f067aa0ba902b7", 16, &s), RPCT_OK);
  assert_int_equal(t.bytes[0], 0x4b);
  assert_int_equal(t.bytes[15], 0x36);
  assert_int_equal(s.bytes[1], 0xf0);
  char tb[33], sb[17];
  assert_int_equal(rpct_trace_id_format(&t, tb, sizeof tb), 32);
  assert_int_equal(rpct_span_id_format(&s, sb, sizeof sb), 16);
  assert_string_equal(tb, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert_string_equal(sb, "00f067aa0ba902b7");
  assert_int_equal(rpct_trace_id_format(&t, tb, 32), RPCT_ERR_NO_SPACE);
  assert_int_equal(rpct_span_id_format(&s, sb, 16), RPCT_ERR_NO_SPACE);
}

static void test_id_parse_rejects_uppercase_length_and_junk(void **state) {
  (void)state;
  rpct_trace_id t;
  memset(&t, 0x77, sizeof t);
  rpct_span_id s;
  assert_int_equal(rpct_trace_id_parse("4BF92F3577B34DA6A3CE929D0E0E4736", 32, &t), RPCT_ERR_PARSE);
  assert_int_equal(rpct_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e473", 31, &t), RPCT_ERR_PARSE);
  assert_int_equal(rpct_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e473g", 32, &t), RPCT_ERR_PARSE);
  assert_int_equal(t.bytes[0], 0x77); /* untouched on failure */
  assert_int_equal(rpct_span_id_parse("00f067aa0ba902b", 15, &s), RPCT_ERR_PARSE);
  assert_int_equal(rpct_span_id_parse("00f067aa0ba902b-", 16, &s), RPCT_ERR_PARSE);
  assert_int_equal(rpct_span_id_parse(NULL, 16, &s), RPCT_ERR_PARSE);
}

static void *gen_in_thread(void *out) {
  rpct_span_id_generate(out);
  return NULL;
}

static void test_threads_draw_different_ids(void **state) {
  (void)state;
  rpct_span_id a, b;
  pthread_t ta, tb;
  pthread_create(&ta, NULL, gen_in_thread, &a);
  pthread_join(ta, NULL);
  pthread_create(&tb, NULL, gen_in_thread, &b);
  pthread_join(tb, NULL);
  assert_memory_not_equal(&a, &b, sizeof a);
}

static void test_child_after_fork_draws_different_ids_from_parent(void **state) {
  (void)state;
  rpct_span_id warm;
  rpct_span_id_generate(&warm); /* the parent's generator is seeded */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    rpct_span_id c[4];
    for (int i = 0; i < 4; i++) rpct_span_id_generate(&c[i]);
    ssize_t w = write(fds[1], c, sizeof c);
    _exit(w == (ssize_t)sizeof c ? 0 : 1);
  }
  rpct_span_id p[4], c[4];
  for (int i = 0; i < 4; i++) rpct_span_id_generate(&p[i]);
  assert_int_equal(read(fds[0], c, sizeof c), (ssize_t)sizeof c);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(fds[0]);
  close(fds[1]);
  /* Without reseeding, the child would repeat the parent's next ids. */
  assert_memory_not_equal(p, c, sizeof p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_are_valid_and_unique),
      cmocka_unit_test(test_zero_ids_are_invalid),
      cmocka_unit_test(test_id_format_and_parse_round_trip),
      cmocka_unit_test(test_id_parse_rejects_uppercase_length_and_junk),
      cmocka_unit_test(test_threads_draw_different_ids),
      cmocka_unit_test(test_child_after_fork_draws_different_ids_from_parent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
