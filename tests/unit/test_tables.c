/* The dispatcher's call and op tables (interceptors/tables.c) with more
 * entries at once than their first level holds (16,384): every entry is
 * found again, none is lost, removal works, and the test limit refuses
 * exactly the entries past it. Keys are made-up pointers: the tables never
 * dereference them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "tables.h"

#define N_CALLS 100000
#define N_OPS 50000

static grpc_call *fake_call(size_t i) { return (grpc_call *)(uintptr_t)(0x100000 + 64 * i); }
static call_state *fake_state(size_t i) { return (call_state *)(uintptr_t)(0x900000 + 16 * i); }

static void test_call_table_grows_past_its_first_level(void **state) {
  (void)state;
  assert_int_equal(rpct__tables_call_capacity(), 16384);
  for (size_t i = 0; i < N_CALLS; i++) {
    call_slot *s = rpct__call_claim(fake_call(i));
    assert_non_null(s);
    rpct__call_publish(s, fake_call(i), fake_state(i));
  }
  assert_true(rpct__tables_call_capacity() >= N_CALLS);
  for (size_t i = 0; i < N_CALLS; i++)
    assert_ptr_equal(rpct__call_lookup(fake_call(i)), fake_state(i));
  assert_null(rpct__call_lookup(fake_call(N_CALLS)));
  for (size_t i = 0; i < N_CALLS; i += 2)
    rpct__call_remove(rpct__call_find(fake_call(i)), fake_call(i));
  for (size_t i = 0; i < N_CALLS; i++)
    assert_ptr_equal(rpct__call_lookup(fake_call(i)), i % 2 ? fake_state(i) : NULL);
  for (size_t i = 1; i < N_CALLS; i += 2)
    rpct__call_remove(rpct__call_find(fake_call(i)), fake_call(i));
  for (size_t i = 0; i < N_CALLS; i++) assert_null(rpct__call_find(fake_call(i)));
}

/* A claimed slot is invisible until published, and gone when given back. */
static void test_claimed_call_slot_is_found_only_once_published(void **state) {
  (void)state;
  grpc_call *c = fake_call(7);
  call_slot *s = rpct__call_claim(c);
  assert_non_null(s);
  assert_null(rpct__call_find(c));
  rpct__call_unclaim(s);
  assert_null(rpct__call_find(c));
  s = rpct__call_claim(c);
  rpct__call_publish(s, c, fake_state(7));
  assert_ptr_equal(rpct__call_lookup(c), fake_state(7));
  rpct__call_remove(s, c);
  assert_null(rpct__call_find(c));
}

static void test_call_limit_refuses_exactly_the_calls_past_it(void **state) {
  (void)state;
  rpct__tables_set_call_limit(3);
  call_slot *s[4];
  for (size_t i = 0; i < 3; i++) assert_non_null(s[i] = rpct__call_claim(fake_call(i)));
  assert_null(rpct__call_claim(fake_call(3)));
  assert_null(rpct__call_claim(fake_call(4)));
  rpct__call_unclaim(s[0]);
  assert_non_null(s[3] = rpct__call_claim(fake_call(3)));
  rpct__call_publish(s[1], fake_call(1), fake_state(1));
  rpct__call_remove(s[1], fake_call(1));
  assert_non_null(s[0] = rpct__call_claim(fake_call(0)));
  assert_null(rpct__call_claim(fake_call(5)));
  rpct__call_unclaim(s[0]);
  rpct__call_unclaim(s[2]);
  rpct__call_unclaim(s[3]);
  rpct__tables_set_call_limit(0);
}

static void test_op_table_grows_past_its_first_level(void **state) {
  (void)state;
  grpc_completion_queue *cq = (grpc_completion_queue *)(uintptr_t)0x5000;
  for (size_t i = 0; i < N_OPS; i++) {
    pending_op op = {.kind = OP_BATCH, .cq = cq, .sent_bytes = i};
    assert_non_null(rpct__op_publish((void *)(uintptr_t)(i + 1), &op));
  }
  /* Callback slots come from the same levels. */
  op_slot *cb[100];
  for (size_t i = 0; i < 100; i++) assert_non_null(cb[i] = rpct__op_reserve());
  for (size_t i = 0; i < N_OPS; i++) {
    pending_op out;
    assert_true(rpct__op_take(cq, (void *)(uintptr_t)(i + 1), &out));
    assert_int_equal(out.sent_bytes, i);
    assert_false(rpct__op_take(cq, (void *)(uintptr_t)(i + 1), &out));
  }
  for (size_t i = 0; i < 100; i++) rpct__op_release(cb[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_table_grows_past_its_first_level),
      cmocka_unit_test(test_claimed_call_slot_is_found_only_once_published),
      cmocka_unit_test(test_call_limit_refuses_exactly_the_calls_past_it),
      cmocka_unit_test(test_op_table_grows_past_its_first_level),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
