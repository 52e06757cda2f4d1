/* The thread's current context: attach, detach, nesting, isolation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "test_util.h"

static rpct_span_context make_ctx(void) {
  rpct_span_context c = {0};
  rpct_trace_id_generate(&c.trace_id);
  rpct_span_id_generate(&c.span_id);
  return c;
}

static void test_attach_and_detach_nest(void **state) {
  (void)state;
  rpct_span_context a = make_ctx(), b = make_ctx();
  assert_null(rpct_context_current());
  rpct_context_token ta = rpct_context_attach(&a);
  assert_ptr_equal(rpct_context_current(), &a);
  rpct_context_token tb = rpct_context_attach(&b);
  assert_ptr_equal(rpct_context_current(), &b);
  assert_int_equal(rpct_context_detach(tb), RPCT_OK);
  assert_ptr_equal(rpct_context_current(), &a);
  assert_int_equal(rpct_context_detach(ta), RPCT_OK);
  assert_null(rpct_context_current());
}

static void test_detach_out_of_order_is_refused(void **state) {
  (void)state;
  rpct_span_context a = make_ctx(), b = make_ctx();
  rpct_context_token ta = rpct_context_attach(&a);
  rpct_context_token tb = rpct_context_attach(&b);
  assert_int_equal(rpct_context_detach(ta), RPCT_ERR_STATE);
  assert_ptr_equal(rpct_context_current(), &b);
  assert_int_equal(rpct_context_detach(tb), RPCT_OK);
  assert_int_equal(rpct_context_detach(ta), RPCT_OK);
  assert_int_equal(rpct_context_detach(ta), RPCT_ERR_STATE);
  assert_null(rpct_context_current());
}

static void test_attach_null_hides_the_outer_context(void **state) {
  (void)state;
  rpct_span_context a = make_ctx();
  rpct_context_token ta = rpct_context_attach(&a);
  rpct_context_token tn = rpct_context_attach(NULL);
  assert_null(rpct_context_current());
  rpct_context_detach(tn);
  assert_ptr_equal(rpct_context_current(), &a);
  rpct_context_detach(ta);
}

static void test_attach_beyond_max_depth_is_a_reported_no_op(void **state) {
  (void)state;
  tu_diag_begin();
  rpct_span_context c[RPCT_CONTEXT_MAX_DEPTH + 2];
  rpct_context_token t[RPCT_CONTEXT_MAX_DEPTH + 2];
  for (int i = 0; i < RPCT_CONTEXT_MAX_DEPTH + 2; i++) {
    c[i] = make_ctx();
    t[i] = rpct_context_attach(&c[i]);
  }
  assert_ptr_equal(rpct_context_current(), &c[RPCT_CONTEXT_MAX_DEPTH - 1]);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag,
                      "context attached more than 64 levels deep on one thread; deeper attaches "
                      "are ignored\n");
  for (int i = RPCT_CONTEXT_MAX_DEPTH + 1; i >= 0; i--)
    assert_int_equal(rpct_context_detach(t[i]), RPCT_OK);
  assert_null(rpct_context_current());
  tu_diag_end();
}

static void *other_thread(void *out) {
  *(const rpct_span_context **)out = rpct_context_current();
  return NULL;
}

static void test_context_is_per_thread(void **state) {
  (void)state;
  rpct_span_context a = make_ctx();
  rpct_context_token ta = rpct_context_attach(&a);
  const rpct_span_context *seen = &a;
  pthread_t th;
  pthread_create(&th, NULL, other_thread, &seen);
  pthread_join(th, NULL);
  assert_null(seen);
  rpct_context_detach(ta);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attach_and_detach_nest),
      cmocka_unit_test(test_detach_out_of_order_is_refused),
      cmocka_unit_test(test_attach_null_hides_the_outer_context),
      cmocka_unit_test(test_attach_beyond_max_depth_is_a_reported_no_op),
      cmocka_unit_test(test_context_is_per_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
