/* The error table: every code has its own message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpctrace/rpctrace.h"

static void test_strerror_gives_a_distinct_message_per_code(void **state) {
  (void)state;
  const char *seen[16];
  int n = 0;
  for (int code = RPCT_OK; code >= RPCT_ERR_UNSUPPORTED; code--) {
    const char *m = rpct_strerror(code);
    assert_non_null(m);
    assert_string_not_equal(m, "unknown error");
    for (int i = 0; i < n; i++) assert_string_not_equal(m, seen[i]);
    seen[n++] = m;
  }
  assert_int_equal(n, 12);
  assert_string_equal(rpct_strerror(RPCT_OK), "success");
  assert_string_equal(rpct_strerror(RPCT_ERR_PARSE), "malformed input");
}

static void test_strerror_of_unknown_code(void **state) {
  (void)state;
  assert_string_equal(rpct_strerror(RPCT_ERR_UNSUPPORTED - 1), "unknown error");
  assert_string_equal(rpct_strerror(1), "unknown error");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strerror_gives_a_distinct_message_per_code),
      cmocka_unit_test(test_strerror_of_unknown_code),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
