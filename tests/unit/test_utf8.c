/* UTF-8 checking, repair and cutting (src/utf8.c), the validator every
 * exported string goes through: tables of the Unicode cases, and the JSON
 * writer and the protobuf path agreeing on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "export/json_writer.h"
#include "internal.h"
#include "utf8.h"

#define FFFD "\xEF\xBF\xBD"

/* Ill-formed input, its longest valid prefix, and its repair: one U+FFFD
 * per maximal subpart (Unicode 15 §3.9, Table 3-8's own example last). */
static const struct {
  const char *in;
  size_t valid_prefix;
  const char *repaired;
} CASES[] = {
    {"", 0, ""},
    {"plain ascii, long enough for the word-at-a-time loop", 52,
     "plain ascii, long enough for the word-at-a-time loop"},
    {"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"},
    {"\xF4\x8F\xBF\xBF", 4, "\xF4\x8F\xBF\xBF"}, /* U+10FFFF, the last code point */
    {"\xFF", 0, FFFD},
    {"abcdefgh\xFE", 8, "abcdefgh" FFFD},
    {"\xC0\x80", 0, FFFD FFFD},                   /* overlong NUL */
    {"\xC1\xBF", 0, FFFD FFFD},                   /* overlong, C1 never starts one */
    {"\xE0\x9F\xBF", 0, FFFD FFFD FFFD},          /* overlong, 3 bytes */
    {"\xF0\x8F\xBF\xBF", 0, FFFD FFFD FFFD FFFD}, /* overlong, 4 bytes */
    {"\xED\xA0\x80", 0, FFFD FFFD FFFD},          /* U+D800 */
    {"\xED\x9F\xBF", 3, "\xED\x9F\xBF"},          /* U+D7FF, just below */
    {"\xF4\x90\x80\x80", 0, FFFD FFFD FFFD FFFD}, /* above U+10FFFF */
    {"\xF5\x80", 0, FFFD FFFD},
    {"a\xE2\x82", 1, "a" FFFD}, /* truncated: one subpart */
    {"\xF0\x9F\x98", 0, FFFD},
    {"\xE2\x82\x62", 0, FFFD "b"},
    {"\x80", 0, FFFD},
    {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 1,
     "\x61" FFFD FFFD FFFD "\x62" FFFD "\x63" FFFD FFFD "\x64"},
};

static void test_utf8_valid_prefix_and_repair_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const char *in = CASES[i].in, *want = CASES[i].repaired;
    size_t n = strlen(in), wn = strlen(want);
    if (rpct__utf8_valid_prefix(in, n) != CASES[i].valid_prefix)
      fail_msg("CASES[%zu]: valid prefix %zu, want %zu", i, rpct__utf8_valid_prefix(in, n),
               CASES[i].valid_prefix);
    assert_int_equal(rpct__utf8_repaired_len(in, n), wn);
    char out[128];
    assert_int_equal(rpct__utf8_repair(in, n, out), wn);
    if (memcmp(out, want, wn) != 0) fail_msg("CASES[%zu]: repaired differently", i);
    /* A repair is valid and repairs to itself. */
    assert_int_equal(rpct__utf8_valid_prefix(out, wn), wn);
  }
}

/* The JSON writer reads the same subparts: each becomes one U+FFFD. */
static void test_json_writer_replaces_the_same_subparts(void **state) {
  (void)state;
  rpct__json_buf b;
  rpct__json_init(&b, NULL, 0);
  rpct__json_str(&b, "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13);
  static const char want[] = "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd" "d\"";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.buf, want, b.len);
  rpct__json_release(&b);
}

/* Where a copy of at most `max` bytes ends. */
static void test_utf8_cut_never_splits_a_character(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t max, want;
  } cuts[] = {
      {"abcdef", 10, 6}, /* shorter: whole */
      {"abcdef", 3, 3},
      {"ab\xC3\xA9", 3, 2}, /* 'é' across the cut */
      {"ab\xC3\xA9"
       "c",
       4, 4},                      /* 'é' ends at the cut */
      {"a\xE2\x82\xAC", 2, 1},     /* euro sign: cut after its first byte */
      {"a\xE2\x82\xAC", 3, 1},     /* ... after its second */
      {"a\xF0\x9F\x98\x80", 4, 1}, /* 4 bytes, cut after 3 */
      {"a\xF0\x9F\x98\x80\x62", 5, 5},
      {"\x80\x80\x80\x80\x80", 3, 3}, /* no character: cut anywhere */
      {"a\xE2\x82\x62", 2, 2},        /* an ill-formed lead: not a character */
      {"\xE2\x82\xAC", 0, 0},
  };
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    size_t got = rpct__utf8_cut(cuts[i].s, strlen(cuts[i].s), cuts[i].max);
    if (got != cuts[i].want) fail_msg("cuts[%zu]: %zu, want %zu", i, got, cuts[i].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_valid_prefix_and_repair_table),
      cmocka_unit_test(test_json_writer_replaces_the_same_subparts),
      cmocka_unit_test(test_utf8_cut_never_splits_a_character),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
