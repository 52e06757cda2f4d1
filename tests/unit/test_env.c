/* env.c: reading OTEL_* variables, and how bad values are reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test_util.h"

#define UINT_VAR "OTEL_BSP_MAX_QUEUE_SIZE"
#define OTHER_UINT_VAR "OTEL_BSP_SCHEDULE_DELAY"
#define BOOL_VAR "OTEL_SDK_DISABLED"
#define GET_VAR "RPCT_TEST_ENV_GET"

/* The range and default every uint test reads UINT_VAR with. */
#define UINT_DEF 2048
#define UINT_MIN 1
#define UINT_MAX_ 1000000

static void unset_all(void) {
  unsetenv(UINT_VAR);
  unsetenv(OTHER_UINT_VAR);
  unsetenv(BOOL_VAR);
  unsetenv(GET_VAR);
}

static int setup(void **state) {
  (void)state;
  unset_all();
  tu_diag_begin();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_diag_end();
  unset_all();
  return 0;
}

/* ---- rpct__env_get ---- */

static void test_env_get_returns_null_and_zero_length_when_unset(void **state) {
  (void)state;
  size_t len = 99;
  assert_null(rpct__env_get(GET_VAR, &len));
  assert_int_equal(len, 0);
}

static void test_env_get_returns_null_for_empty_or_blank_value(void **state) {
  (void)state;
  static const char *const values[] = {"", " ", "\t", " \t \t "};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(values); i++) {
    setenv(GET_VAR, values[i], 1);
    size_t len = 99;
    assert_null(rpct__env_get(GET_VAR, &len));
    assert_int_equal(len, 0);
  }
}

static void test_env_get_trims_spaces_and_tabs_at_both_ends_only(void **state) {
  (void)state;
  setenv(GET_VAR, " \t a b\tc \t ", 1);
  size_t len = 0;
  const char *v = rpct__env_get(GET_VAR, &len);
  assert_non_null(v);
  assert_int_equal(len, 5);
  assert_memory_equal(v, "a b\tc", 5);
  /* The environment is not modified: the caller goes by len. */
  assert_string_equal(v, "a b\tc \t ");
}

static void test_env_get_keeps_other_white_space(void **state) {
  (void)state;
  setenv(GET_VAR, "\nx\r", 1);
  size_t len = 0;
  const char *v = rpct__env_get(GET_VAR, &len);
  assert_non_null(v);
  assert_int_equal(len, 3);
  assert_memory_equal(v, "\nx\r", 3);
}

static void test_env_get_accepts_null_len(void **state) {
  (void)state;
  setenv(GET_VAR, "  value", 1);
  const char *v = rpct__env_get(GET_VAR, NULL);
  assert_non_null(v);
  assert_string_equal(v, "value");
}

/* ---- rpct__env_uint ---- */

typedef struct uint_case {
  const char *value;
  uint64_t expected;
  const char *quoted; /* as it appears in the message; NULL: no message */
} uint_case;

static const uint_case uint_cases[] = {
    {"512", 512, NULL},
    {"1", 1, NULL},             /* min */
    {"1000000", 1000000, NULL}, /* max */
    {"007", 7, NULL},
    {" \t42\t ", 42, NULL},
    {"", UINT_DEF, NULL},
    {" \t ", UINT_DEF, NULL},
    {"0", UINT_DEF, "0"},             /* below min */
    {"1000001", UINT_DEF, "1000001"}, /* above max */
    {"abc", UINT_DEF, "abc"},
    {"12abc", UINT_DEF, "12abc"},
    {"-5", UINT_DEF, "-5"},
    {"-0", UINT_DEF, "-0"},
    {"+5", UINT_DEF, "+5"},
    {"0x10", UINT_DEF, "0x10"},
    {"1e3", UINT_DEF, "1e3"},
    {"1.5", UINT_DEF, "1.5"},
    {"4 2", UINT_DEF, "4 2"},
    {" 4\t2 ", UINT_DEF, "4\\x092"}, /* inner tab kept, escaped */
    {"18446744073709551616", UINT_DEF, "18446744073709551616"},
};

static void test_env_uint_accepts_decimal_in_range_and_rejects_the_rest(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(uint_cases); i++) {
    const uint_case *c = &uint_cases[i];
    tu_diag_begin(); /* a fresh start for this case */
    setenv(UINT_VAR, c->value, 1);
    uint64_t got = rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_);
    if (got != c->expected)
      fail_msg("%s=\"%s\": got %" PRIu64 ", expected %" PRIu64, UINT_VAR, c->value, got,
               c->expected);
    if (!c->quoted) {
      if (tu_diag_count != 0)
        fail_msg("%s=\"%s\": unexpected message: %s", UINT_VAR, c->value, tu_diag_last);
      continue;
    }
    char expected[512];
    snprintf(expected, sizeof expected,
             UINT_VAR "=\"%s\" is not an integer in [1, 1000000]; using the default 2048",
             c->quoted);
    assert_int_equal(tu_diag_count, 1);
    assert_string_equal(tu_diag_last, expected);
  }
}

static void test_env_uint_unset_gives_default_silently(void **state) {
  (void)state;
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  assert_int_equal(tu_diag_count, 0);
}

static void test_env_uint_message_names_variable_value_range_and_default(void **state) {
  (void)state;
  setenv(UINT_VAR, "abc", 1);
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "OTEL_BSP_MAX_QUEUE_SIZE=\"abc\" is not an integer in [1, 1000000]; "
                      "using the default 2048");
}

static void test_env_uint_reads_the_full_64_bit_range(void **state) {
  (void)state;
  setenv(UINT_VAR, "18446744073709551615", 1);
  assert_true(rpct__env_uint(UINT_VAR, 7, 0, UINT64_MAX) == UINT64_MAX);
  setenv(UINT_VAR, "0", 1);
  assert_int_equal(rpct__env_uint(UINT_VAR, 7, 0, UINT64_MAX), 0);
  assert_int_equal(tu_diag_count, 0);
}

static void test_env_uint_rejects_overflow(void **state) {
  (void)state;
  static const char *const values[] = {"18446744073709551616", "18446744073709551620",
                                       "184467440737095516150", "99999999999999999999999"};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(values); i++) {
    tu_diag_begin(); /* a fresh start for this case */
    setenv(UINT_VAR, values[i], 1);
    assert_int_equal(rpct__env_uint(UINT_VAR, 7, 0, UINT64_MAX), 7);
    char expected[256];
    snprintf(expected, sizeof expected,
             UINT_VAR "=\"%s\" is not an integer in [0, 18446744073709551615]; using the default 7",
             values[i]);
    assert_int_equal(tu_diag_count, 1);
    assert_string_equal(tu_diag_last, expected);
  }
}

static void test_env_uint_reports_a_bad_variable_once(void **state) {
  (void)state;
  setenv(UINT_VAR, "lots", 1);
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  assert_int_equal(tu_diag_count, 1);

  /* Another bad variable still gets its own message. */
  setenv(OTHER_UINT_VAR, "soon", 1);
  assert_int_equal(rpct__env_uint(OTHER_UINT_VAR, 5000, 0, 3600000), 5000);
  assert_int_equal(tu_diag_count, 2);
  assert_string_equal(tu_diag_last,
                      "OTEL_BSP_SCHEDULE_DELAY=\"soon\" is not an integer in [0, 3600000]; "
                      "using the default 5000");
}

static void test_env_uint_message_truncates_a_long_value(void **state) {
  (void)state;
  char value[101];
  memset(value, 'x', 100);
  value[100] = '\0';
  setenv(UINT_VAR, value, 1);
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  char expected[256];
  snprintf(expected, sizeof expected,
           UINT_VAR "=\"%.64s...\" is not an integer in [1, 1000000]; using the default 2048",
           value);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last, expected);
}

static void test_env_uint_message_does_not_cut_a_utf8_character(void **state) {
  (void)state;
  /* 63 ASCII bytes, then "é" (2 bytes) straddling the 64-byte cut. */
  char value[80];
  memset(value, 'a', 63);
  memcpy(value + 63, "\xc3\xa9zzz", 6);
  setenv(UINT_VAR, value, 1);
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  char expected[256];
  snprintf(expected, sizeof expected,
           UINT_VAR "=\"%.63s...\" is not an integer in [1, 1000000]; using the default 2048",
           value);
  assert_string_equal(tu_diag_last, expected);
}

static void test_env_uint_message_escapes_quotes_and_control_bytes(void **state) {
  (void)state;
  setenv(UINT_VAR, "1\"\\\n2", 1);
  assert_int_equal(rpct__env_uint(UINT_VAR, UINT_DEF, UINT_MIN, UINT_MAX_), UINT_DEF);
  assert_string_equal(tu_diag_last,
                      "OTEL_BSP_MAX_QUEUE_SIZE=\"1\\\"\\\\\\x0a2\" is not an integer in "
                      "[1, 1000000]; using the default 2048");
}

/* Diagnostics go to terminals and logs: a value echoed in one shows C1
 * controls, Unicode bidi controls (which reorder the rest of the line on
 * screen) and bytes that are not UTF-8 as escapes, like C0 controls. */
static void test_quote_escapes_c1_bidi_controls_and_bytes_that_are_not_utf8(void **state) {
  (void)state;
  static const struct {
    const char *raw, *quoted;
  } cases[] = {
      {"plain caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80",
       "plain caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"},
      {"1\xe2\x80\xaez", "1\\u202ez"},
      {"\xe2\x80\xaa\xe2\x80\xad\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c",
       "\\u202a\\u202d\\u2066\\u2069\\u200e\\u200f\\u061c"},
      {"\xc2\x80\xc2\x9b[2J\xc2\x9f", "\\u0080\\u009b[2J\\u009f"},
      {"\x1b\x7f\"\\", "\\x1b\\x7f\\\"\\\\"},
      {"\x9b\xff\xc3", "\\x9b\\xff\\xc3"},                   /* not UTF-8, cut short */
      {"\xed\xa0\x80\xc0\xaf", "\\xed\\xa0\\x80\\xc0\\xaf"}, /* surrogate, overlong */
      {"\xc2\xa0\xe2\x80\xaf\xe2\x81\xaa", "\xc2\xa0\xe2\x80\xaf\xe2\x81\xaa"}, /* neighbours */
  };
  char out[RPCT__QUOTE_BUF];
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    rpct__quote(out, cases[i].raw, strlen(cases[i].raw));
    if (strcmp(out, cases[i].quoted) != 0)
      fail_msg("case %zu: \"%s\", want \"%s\"", i, out, cases[i].quoted);
  }
  /* The worst case, 64 bytes each escaped 4 bytes long, fits the buffer. */
  char worst[RPCT__QUOTE_MAX + 10];
  memset(worst, 0xff, sizeof worst);
  rpct__quote(out, worst, sizeof worst);
  assert_int_equal(strlen(out), RPCT__QUOTE_MAX * 4 + 3);
  assert_string_equal(out + RPCT__QUOTE_MAX * 4, "...");
}

/* ---- rpct__env_bool ---- */

typedef struct bool_case {
  const char *value;
  int expected;       /* 0, 1, or -1 for the default */
  const char *quoted; /* NULL: no message */
} bool_case;

/* clang-format off */
static const bool_case bool_cases[] = {
    {"true", 1, NULL},
    {"TRUE", 1, NULL},
    {"True", 1, NULL},
    {"tRuE", 1, NULL},
    {"false", 0, NULL},
    {"FALSE", 0, NULL},
    {"False", 0, NULL},
    {" \ttrue\t ", 1, NULL},
    {"\tfalse ", 0, NULL},
    {"", -1, NULL},
    {" \t", -1, NULL},
    {"yes", -1, "yes"},
    {"no", -1, "no"},
    {"1", -1, "1"},
    {"0", -1, "0"},
    {"on", -1, "on"},
    {"t", -1, "t"},
    {"tru", -1, "tru"},
    {"truex", -1, "truex"},
    {"falsey", -1, "falsey"},
    {"true false", -1, "true false"},
};
/* clang-format on */

static void check_bool_cases(bool def) {
  for (size_t i = 0; i < RPCT__ARRAY_LEN(bool_cases); i++) {
    const bool_case *c = &bool_cases[i];
    tu_diag_begin(); /* a fresh start for this case */
    setenv(BOOL_VAR, c->value, 1);
    bool expected = c->expected < 0 ? def : c->expected == 1;
    bool got = rpct__env_bool(BOOL_VAR, def);
    if (got != expected)
      fail_msg("%s=\"%s\" (default %d): got %d, expected %d", BOOL_VAR, c->value, def, got,
               expected);
    if (!c->quoted) {
      if (tu_diag_count != 0)
        fail_msg("%s=\"%s\": unexpected message: %s", BOOL_VAR, c->value, tu_diag_last);
      continue;
    }
    char msg[256];
    snprintf(msg, sizeof msg,
             BOOL_VAR "=\"%s\" is not a boolean (true or false); using the default %s", c->quoted,
             def ? "true" : "false");
    assert_int_equal(tu_diag_count, 1);
    assert_string_equal(tu_diag_last, msg);
  }
}

static void test_env_bool_reads_true_false_any_case_with_default_false(void **state) {
  (void)state;
  check_bool_cases(false);
}

static void test_env_bool_reads_true_false_any_case_with_default_true(void **state) {
  (void)state;
  check_bool_cases(true);
}

static void test_env_bool_unset_gives_default_silently(void **state) {
  (void)state;
  assert_false(rpct__env_bool(BOOL_VAR, false));
  assert_true(rpct__env_bool(BOOL_VAR, true));
  assert_int_equal(tu_diag_count, 0);
}

static void test_env_bool_reports_a_bad_variable_once(void **state) {
  (void)state;
  setenv(BOOL_VAR, "yes", 1);
  assert_false(rpct__env_bool(BOOL_VAR, false));
  assert_false(rpct__env_bool(BOOL_VAR, false));
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "OTEL_SDK_DISABLED=\"yes\" is not a boolean (true or false); "
                      "using the default false");
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_env_get_returns_null_and_zero_length_when_unset),
      T(test_env_get_returns_null_for_empty_or_blank_value),
      T(test_env_get_trims_spaces_and_tabs_at_both_ends_only),
      T(test_env_get_keeps_other_white_space),
      T(test_env_get_accepts_null_len),
      T(test_env_uint_accepts_decimal_in_range_and_rejects_the_rest),
      T(test_env_uint_unset_gives_default_silently),
      T(test_env_uint_message_names_variable_value_range_and_default),
      T(test_env_uint_reads_the_full_64_bit_range),
      T(test_env_uint_rejects_overflow),
      T(test_env_uint_reports_a_bad_variable_once),
      T(test_env_uint_message_truncates_a_long_value),
      T(test_env_uint_message_does_not_cut_a_utf8_character),
      T(test_env_uint_message_escapes_quotes_and_control_bytes),
      T(test_quote_escapes_c1_bidi_controls_and_bytes_that_are_not_utf8),
      T(test_env_bool_reads_true_false_any_case_with_default_false),
      T(test_env_bool_reads_true_false_any_case_with_default_true),
      T(test_env_bool_unset_gives_default_silently),
      T(test_env_bool_reports_a_bad_variable_once),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
