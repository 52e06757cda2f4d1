/*
 * Parsing and formatting trace context allocates nothing. Every heap
 * allocation of the process is counted (tests/alloc_count.c); the test
 * first proves that the counter sees an allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "rpctrace/rpctrace.h"

static void test_allocation_counter_sees_malloc(void **state) {
  (void)state;
  if (!alloc_count_available()) {
    print_message("skipped: under valgrind, whose malloc replaces the counting one\n");
    skip();
  }
  alloc_count_begin();
  void *p = alloc_count_malloc(32);
  size_t n = alloc_count_end();
  free(p);
  assert_int_equal(n, 1);
}

static const char *const inputs[] = {
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future",
    " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\t",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    "garbage",
};

static void test_traceparent_parse_and_format_allocate_nothing(void **state) {
  (void)state;
  if (!alloc_count_available()) {
    print_message("skipped: under valgrind, whose malloc replaces the counting one\n");
    skip();
  }
  rpct_span_context ctx;
  char buf[RPCT_TRACEPARENT_LEN + 1], log[RPCT_LOG_IDS_LEN + 1];
  int ok = 0;
  alloc_count_begin();
  for (int round = 0; round < 1000; round++) {
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
      if (rpct_traceparent_parse(inputs[i], strlen(inputs[i]), &ctx) == RPCT_OK) {
        ok += rpct_traceparent_format(&ctx, buf, sizeof buf) == RPCT_TRACEPARENT_LEN;
        ok += rpct_span_context_format_log(&ctx, log, sizeof log) == RPCT_LOG_IDS_LEN;
      }
    }
  }
  assert_int_equal(alloc_count_end(), 0);
  assert_int_equal(ok, 1000 * 3 * 2);
}

static void test_tracestate_parse_and_id_generation_allocate_nothing(void **state) {
  (void)state;
  if (!alloc_count_available()) {
    print_message("skipped: under valgrind, whose malloc replaces the counting one\n");
    skip();
  }
  static const char ts[] = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,,vendor@tenant=x y";
  rpct_tracestate out;
  rpct_trace_id tid;
  rpct_span_id sid;
  int ok = 0;
  alloc_count_begin();
  for (int round = 0; round < 1000; round++) {
    ok += rpct_tracestate_parse(ts, sizeof ts - 1, &out) == RPCT_OK;
    rpct_trace_id_generate(&tid);
    rpct_span_id_generate(&sid);
  }
  assert_int_equal(alloc_count_end(), 0);
  assert_int_equal(ok, 1000);
}

int main(void) {
  alloc_count_install();
  /* Warm up the per-thread id generator outside the counted region: its
   * first use on a thread registers a fork handler, which glibc may
   * allocate for; that happens once per process, not per call. */
  rpct_trace_id tid;
  rpct_trace_id_generate(&tid);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allocation_counter_sees_malloc),
      cmocka_unit_test(test_traceparent_parse_and_format_allocate_nothing),
      cmocka_unit_test(test_tracestate_parse_and_id_generation_allocate_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
