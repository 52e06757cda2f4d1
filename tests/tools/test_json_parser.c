/* The strict JSON parser of the `rpctrace` command (tools/json.c): valid
 * and invalid documents from tables, string escapes and UTF-8, numbers,
 * the depth limit, error positions, the reading helpers, and random,
 * truncated and mutated inputs, none of which may crash (run under ASan). */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- a canonical dump of a DOM, to compare parses exactly ---- */

typedef struct dump {
  char buf[4096];
  size_t len;
} dump;

static void dump_put(dump *d, const char *s, size_t n) {
  assert_true(d->len + n < sizeof d->buf);
  memcpy(d->buf + d->len, s, n);
  d->len += n;
  d->buf[d->len] = '\0';
}

static void dump_str(dump *d, const char *s, size_t n) {
  dump_put(d, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == '"' || c == '\\') {
      char esc[8];
      snprintf(esc, sizeof esc, "\\x%02x", c);
      dump_put(d, esc, 4);
    } else {
      dump_put(d, s + i, 1);
    }
  }
  dump_put(d, "\"", 1);
}

/* Compact JSON-like text: numbers as written, strings with \xNN for
 * control bytes, quotes and backslashes. */
static void dump_value(dump *d, const rtt_json *v) {
  switch (v->type) {
    case RTT_JSON_NULL: dump_put(d, "null", 4); break;
    case RTT_JSON_BOOL: v->u.boolean ? dump_put(d, "true", 4) : dump_put(d, "false", 5); break;
    case RTT_JSON_NUMBER: dump_put(d, v->u.number.text, v->u.number.len); break;
    case RTT_JSON_STRING: dump_str(d, v->u.string.s, v->u.string.len); break;
    case RTT_JSON_ARRAY:
      dump_put(d, "[", 1);
      for (size_t i = 0; i < v->u.array.n; i++) {
        if (i) dump_put(d, ",", 1);
        dump_value(d, &v->u.array.items[i]);
      }
      dump_put(d, "]", 1);
      break;
    case RTT_JSON_OBJECT:
      dump_put(d, "{", 1);
      for (size_t i = 0; i < v->u.object.n; i++) {
        if (i) dump_put(d, ",", 1);
        dump_str(d, v->u.object.members[i].key, v->u.object.members[i].key_len);
        dump_put(d, ":", 1);
        dump_value(d, &v->u.object.members[i].value);
      }
      dump_put(d, "}", 1);
      break;
  }
}

/* Parse `text` (n bytes) and dump it; fails the test when it does not
 * parse. */
static void parse_dump(const char *text, size_t n, dump *d) {
  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  int r = rtt_json_parse(text, n, 0, &doc, &err);
  if (r != RTT_JSON_OK) fail_msg("%s: %s (column %zu)", text, err.message, err.column);
  d->len = 0;
  d->buf[0] = '\0';
  dump_value(d, rtt_json_root(doc));
  rtt_json_doc_free(doc);
}

/* ---- valid documents ---- */

static void test_valid_documents_parse_to_the_expected_tree(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"null", "null"},
      {"true", "true"},
      {"false", "false"},
      {"0", "0"},
      {"-0", "-0"},
      {"12345678901234567890123", "12345678901234567890123"},
      {"-1.5e+10", "-1.5e+10"},
      {"\"\"", "\"\""},
      {"\"abc\"", "\"abc\""},
      {"[]", "[]"},
      {"{}", "{}"},
      {" \t\r\n[ 1 , 2 ,3 ] \n", "[1,2,3]"},
      {"{\"a\":{\"b\":[true,false,null]},\"c\":\"d\"}",
       "{\"a\":{\"b\":[true,false,null]},\"c\":\"d\"}"},
      {"[[[[]]],{}]", "[[[[]]],{}]"},
      {"{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}"}, /* duplicates kept */
      {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\x22\\x5c/\\x08\\x0c\\x0a\\x0d\\x09\"]"},
      {"\"\\u0041\\u00e9\\u20AC\"", "\"A\xC3\xA9\xE2\x82\xAC\""},
      {"\"\\ud83d\\ude00\"", "\"\xF0\x9F\x98\x80\""}, /* a surrogate pair: U+1F600 */
      {"\"\\uDBFF\\uDFFF\"", "\"\xF4\x8F\xBF\xBF\""}, /* U+10FFFF */
      {"\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""},
      {"\"\xEF\xBF\xBF\"", "\"\xEF\xBF\xBF\""}, /* U+FFFF is a character */
      {"\"a\\u0000b\"", "\"a\\x00b\""},         /* NUL inside a string */
  };
  dump d;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    parse_dump(cases[i].in, strlen(cases[i].in), &d);
    if (strcmp(d.buf, cases[i].out) != 0)
      fail_msg("case %zu: %s gave %s, expected %s", i, cases[i].in, d.buf, cases[i].out);
  }
}

static void test_string_with_nul_keeps_its_length(void **state) {
  (void)state;
  rtt_json_doc *doc = NULL;
  const char in[] = "\"a\\u0000b\"";
  assert_int_equal(rtt_json_parse(in, sizeof in - 1, 0, &doc, NULL), RTT_JSON_OK);
  const rtt_json *v = rtt_json_root(doc);
  assert_int_equal(v->type, RTT_JSON_STRING);
  assert_int_equal(v->u.string.len, 3);
  assert_memory_equal(v->u.string.s, "a\0b", 4); /* NUL-terminated too */
  rtt_json_doc_free(doc);
}

/* ---- invalid documents ---- */

static void test_invalid_documents_are_rejected_with_position(void **state) {
  (void)state;
  static const struct {
    const char *in;
    size_t column; /* 1-based byte column of the error */
    const char *message;
  } cases[] = {
      {"", 1, "no value (empty input)"},
      {"   ", 4, "no value (empty input)"},
      {"nul", 1, "invalid literal (expected 'null')"},
      {"True", 1, "unexpected character 'T', expected a value"},
      {"[1,]", 4, "unexpected character ']', expected a value"},
      {"[1 2]", 4, "unexpected character '2', expected ',' or ']'"},
      {"{\"a\":1,}", 8, "unexpected character '}', expected a member name (a string)"},
      {"{\"a\" 1}", 6, "unexpected character '1', expected ':'"},
      {"{a:1}", 2, "unexpected character 'a', expected a member name (a string)"},
      {"[1]x", 4, "unexpected character 'x', expected the end of input after the value"},
      {"1 2", 3, "unexpected character '2', expected the end of input after the value"},
      {"[", 2, "unexpected end of input, expected a value"},
      {"{\"a\":", 6, "unexpected end of input, expected a value"},
      {"\"abc", 5, "unterminated string (opened at byte 0)"},
      {"\"a\nb\"", 3, "control character U+000A in a string (must be escaped)"},
      {"\"\t\"", 2, "control character U+0009 in a string (must be escaped)"},
      {"\"\\x\"", 2, "invalid escape '\\x'"},
      {"\"\\u12\"", 6, "invalid \\u escape: expected 4 hex digits"},
      {"\"\\ud800\"", 2, "high surrogate \\uD800 not followed by a low one"},
      {"\"\\ud800\\u0041\"", 8, "high surrogate \\uD800 followed by \\u0041, not a low one"},
      {"\"\\udc00\"", 2, "lone low surrogate \\uDC00"},
      {"01", 2, "leading zero in a number"},
      {"-", 2, "unexpected end of input, expected a digit"},
      {"-a", 2, "unexpected character 'a', expected a digit"},
      {"1.", 3, "unexpected end of input, expected a digit after '.'"},
      {".5", 1, "unexpected character '.', expected a value"},
      {"+1", 1, "unexpected character '+', expected a value"},
      {"1e", 3, "unexpected end of input, expected a digit in the exponent"},
      {"1e+", 4, "unexpected end of input, expected a digit in the exponent"},
      {"NaN", 1, "unexpected character 'N', expected a value"},
      {"0x10", 2, "unexpected character 'x', expected the end of input after the value"},
      {"[1,2]//c", 6, "unexpected character '/', expected the end of input after the value"},
      {"\xEF\xBB\xBF{}", 1, "unexpected byte 0xEF, expected a value"}, /* no BOM */
      {"\"\xC0\x80\"", 2, "invalid UTF-8 (byte 0xC0)"},                /* overlong NUL */
      {"\"\xE0\x80\x80\"", 2, "invalid UTF-8 (byte 0xE0)"},            /* overlong */
      {"\"\xED\xA0\x80\"", 2, "invalid UTF-8 (byte 0xED)"},            /* a surrogate */
      {"\"\xF4\x90\x80\x80\"", 2, "invalid UTF-8 (byte 0xF4)"},        /* above U+10FFFF */
      {"\"\xF5\x80\x80\x80\"", 2, "invalid UTF-8 (byte 0xF5)"},
      {"\"\x80\"", 2, "invalid UTF-8 (byte 0x80)"}, /* lone continuation */
      {"\"\xC3\"", 2, "invalid UTF-8 (byte 0xC3)"}, /* truncated sequence */
      {"\"\xE2\x82\"", 2, "invalid UTF-8 (byte 0xE2)"},
      {"[\xFF]", 2, "unexpected byte 0xFF, expected a value"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rtt_json_doc *doc = (rtt_json_doc *)&cases; /* must stay untouched */
    rtt_json_error err;
    int r = rtt_json_parse(cases[i].in, strlen(cases[i].in), 0, &doc, &err);
    if (r != RTT_JSON_ESYNTAX) fail_msg("case %zu (%s) parsed", i, cases[i].in);
    assert_ptr_equal(doc, (rtt_json_doc *)&cases);
    if (strcmp(err.message, cases[i].message) != 0 || err.column != cases[i].column)
      fail_msg("case %zu (%s): column %zu \"%s\", expected column %zu \"%s\"", i, cases[i].in,
               err.column, err.message, cases[i].column, cases[i].message);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.offset, cases[i].column - 1);
  }
}

static void test_nul_byte_in_input_is_an_error(void **state) {
  (void)state;
  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  assert_int_equal(rtt_json_parse("[1,\0]", 5, 0, &doc, &err), RTT_JSON_ESYNTAX);
  assert_string_equal(err.message, "unexpected byte 0x00, expected a value");
  assert_int_equal(err.offset, 3);
  assert_int_equal(rtt_json_parse("\"a\0\"", 4, 0, &doc, &err), RTT_JSON_ESYNTAX);
  assert_string_equal(err.message, "control character U+0000 in a string (must be escaped)");
}

static void test_error_positions_count_lines_and_columns(void **state) {
  (void)state;
  const char in[] = "{\n  \"a\": [1,\n    tru]\n}";
  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  assert_int_equal(rtt_json_parse(in, sizeof in - 1, 0, &doc, &err), RTT_JSON_ESYNTAX);
  assert_int_equal(err.line, 3);
  assert_int_equal(err.column, 5);
  assert_int_equal(err.offset, 17);
  assert_string_equal(err.message, "invalid literal (expected 'true')");
}

/* ---- numbers ---- */

static void test_numbers_convert_to_doubles(void **state) {
  (void)state;
  static const struct {
    const char *in;
    double value;
  } cases[] = {
      {"0", 0.0},          {"-0", -0.0},          {"1", 1.0},
      {"-12.5", -12.5},    {"1e3", 1000.0},       {"1E-2", 0.01},
      {"2.5e+1", 25.0},    {"0.1", 0.1},          {"123456789012", 123456789012.0},
      {"1e400", HUGE_VAL}, {"-1e400", -HUGE_VAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rtt_json_doc *doc = NULL;
    assert_int_equal(rtt_json_parse(cases[i].in, strlen(cases[i].in), 0, &doc, NULL), RTT_JSON_OK);
    const rtt_json *v = rtt_json_root(doc);
    assert_int_equal(v->type, RTT_JSON_NUMBER);
    assert_true(v->u.number.value == cases[i].value);
    assert_string_equal(v->u.number.text, cases[i].in);
    assert_int_equal(v->u.number.len, strlen(cases[i].in));
    rtt_json_doc_free(doc);
  }
}

static void test_integer_helpers_take_strings_and_numbers(void **state) {
  (void)state;
  const char in[] =
      "[\"18446744073709551615\",18446744073709551615,\"18446744073709551616\",\"-1\","
      "\"9223372036854775807\",\"-9223372036854775808\",-9223372036854775809,1.5,1e3,"
      "\"\",\"12a\",true,\"-\",\"007\"]";
  rtt_json_doc *doc = NULL;
  assert_int_equal(rtt_json_parse(in, sizeof in - 1, 0, &doc, NULL), RTT_JSON_OK);
  const rtt_json *a = rtt_json_root(doc);
  uint64_t u;
  int64_t s;
  assert_true(rtt_json_u64(rtt_json_at(a, 0), &u));
  assert_true(u == UINT64_MAX);
  assert_true(rtt_json_u64(rtt_json_at(a, 1), &u));
  assert_true(u == UINT64_MAX);
  assert_false(rtt_json_u64(rtt_json_at(a, 2), &u)); /* overflow */
  assert_false(rtt_json_u64(rtt_json_at(a, 3), &u)); /* negative */
  assert_true(rtt_json_i64(rtt_json_at(a, 3), &s));
  assert_true(s == -1);
  assert_true(rtt_json_i64(rtt_json_at(a, 4), &s));
  assert_true(s == INT64_MAX);
  assert_true(rtt_json_i64(rtt_json_at(a, 5), &s));
  assert_true(s == INT64_MIN);
  assert_false(rtt_json_i64(rtt_json_at(a, 6), &s)); /* below INT64_MIN */
  assert_false(rtt_json_u64(rtt_json_at(a, 7), &u)); /* fraction */
  assert_false(rtt_json_u64(rtt_json_at(a, 8), &u)); /* exponent */
  assert_false(rtt_json_u64(rtt_json_at(a, 9), &u));
  assert_false(rtt_json_u64(rtt_json_at(a, 10), &u));
  assert_false(rtt_json_u64(rtt_json_at(a, 11), &u));
  assert_false(rtt_json_i64(rtt_json_at(a, 12), &s));
  assert_true(rtt_json_u64(rtt_json_at(a, 13), &u)); /* a string may have leading zeros */
  assert_true(u == 7);
  assert_false(rtt_json_u64(NULL, &u));
  rtt_json_doc_free(doc);
}

static void test_get_returns_the_last_duplicate_and_tolerates_other_types(void **state) {
  (void)state;
  const char in[] = "{\"a\":1,\"b\":\"x\",\"a\":2,\"arr\":[10,20]}";
  rtt_json_doc *doc = NULL;
  assert_int_equal(rtt_json_parse(in, sizeof in - 1, 0, &doc, NULL), RTT_JSON_OK);
  const rtt_json *o = rtt_json_root(doc);
  assert_string_equal(rtt_json_get(o, "a")->u.number.text, "2");
  assert_string_equal(rtt_json_str(rtt_json_get(o, "b")), "x");
  assert_null(rtt_json_get(o, "missing"));
  assert_null(rtt_json_get(rtt_json_get(o, "b"), "a")); /* not an object */
  assert_null(rtt_json_str(rtt_json_get(o, "a")));      /* not a string */
  const rtt_json *arr = rtt_json_get(o, "arr");
  assert_int_equal(rtt_json_array_len(arr), 2);
  assert_string_equal(rtt_json_at(arr, 1)->u.number.text, "20");
  assert_null(rtt_json_at(arr, 2));
  assert_int_equal(rtt_json_array_len(o), 0);
  assert_null(rtt_json_at(o, 0));
  assert_null(rtt_json_get(NULL, "a"));
  rtt_json_doc_free(doc);
}

/* ---- depth ---- */

static char *nested(size_t depth, char open, char close) {
  char *s = malloc(2 * depth + 1);
  assert_non_null(s);
  memset(s, open, depth);
  memset(s + depth, close, depth);
  s[2 * depth] = '\0';
  return s;
}

static void test_depth_limit_is_exact(void **state) {
  (void)state;
  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  char *ten = nested(10, '[', ']');
  assert_int_equal(rtt_json_parse(ten, 20, 10, &doc, &err), RTT_JSON_OK);
  rtt_json_doc_free(doc);
  doc = NULL;
  assert_int_equal(rtt_json_parse(ten, 20, 9, &doc, &err), RTT_JSON_ESYNTAX);
  assert_string_equal(err.message, "nesting deeper than 9 levels");
  assert_int_equal(err.column, 10);
  free(ten);

  /* Objects count alike; the default is RTT_JSON_DEFAULT_MAX_DEPTH. */
  size_t max = RTT_JSON_DEFAULT_MAX_DEPTH;
  char *ok = malloc(6 * max + 8);
  assert_non_null(ok);
  size_t n = 0;
  for (size_t i = 0; i < max - 1; i++) n += (size_t)sprintf(ok + n, "{\"a\":");
  n += (size_t)sprintf(ok + n, "[]");
  for (size_t i = 0; i < max - 1; i++) ok[n++] = '}';
  assert_int_equal(rtt_json_parse(ok, n, 0, &doc, &err), RTT_JSON_OK);
  rtt_json_doc_free(doc);
  ok[n - max + 1 - 2] = '['; /* the innermost [] becomes [[ ... : one level too deep */
  ok[n - max + 1 - 1] = '[';
  assert_int_equal(rtt_json_parse(ok, n, 0, &doc, &err), RTT_JSON_ESYNTAX);
  assert_string_equal(err.message, "nesting deeper than 256 levels");
  free(ok);

  /* A million levels: refused at the limit, without deep recursion. */
  char *deep = nested(1000000, '[', ']');
  assert_int_equal(rtt_json_parse(deep, 2000000, 0, &doc, &err), RTT_JSON_ESYNTAX);
  assert_int_equal(err.offset, RTT_JSON_DEFAULT_MAX_DEPTH);
  free(deep);
}

/* ---- robustness ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Du;
}

/* Parse data[0..n) from a heap block of exactly n bytes, so ASan sees any
 * read past the end; the result may be anything but a crash. */
static int parse_exact(const char *data, size_t n) {
  char *copy = malloc(n ? n : 1);
  assert_non_null(copy);
  if (n) memcpy(copy, data, n);
  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  int r = rtt_json_parse(copy, n, 32, &doc, &err);
  if (r == RTT_JSON_OK) {
    rtt_json_doc_free(doc);
  } else {
    assert_int_equal(r, RTT_JSON_ESYNTAX);
    assert_true(err.offset <= n);
    assert_true(err.message[0] != '\0');
  }
  free(copy);
  return r;
}

static const char *const samples[] = {
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0af7651916cd43dd"
    "8448eb211c80319c\",\"spanId\":\"b7ad6b7169203331\",\"name\":\"a\\u00e9\\ud83d\\ude00\","
    "\"kind\":2,\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\",\"status\":{\"code\":2}}]}]}]"
    "}",
    "[1,-2.5e10,true,false,null,\"x\\n\",{\"a\":[{}]},[],\"\xC3\xA9\"]",
    "{\"a\":{\"b\":{\"c\":{\"d\":[0.5,1E+2,\"\\\\\\\"\"]}}}}",
};

static void test_every_prefix_of_a_container_is_rejected(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
    size_t n = strlen(samples[s]);
    assert_int_equal(parse_exact(samples[s], n), RTT_JSON_OK);
    for (size_t k = 0; k < n; k++)
      if (parse_exact(samples[s], k) == RTT_JSON_OK)
        fail_msg("sample %zu: prefix %zu parsed", s, k);
  }
}

static void test_mutated_inputs_never_crash(void **state) {
  (void)state;
  static const char syntax[] = "{}[]\",:\\u0eE.-+ \x80\xC3\xED\xF0";
  char buf[512];
  for (int iter = 0; iter < 30000; iter++) {
    const char *src = samples[rng() % (sizeof samples / sizeof samples[0])];
    size_t n = strlen(src);
    memcpy(buf, src, n);
    int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits; e++) {
      size_t at = (size_t)(rng() % n);
      switch (rng() % 4) {
        case 0: buf[at] = (char)rng(); break;                   /* any byte */
        case 1: buf[at] = syntax[rng() % sizeof syntax]; break; /* a syntax byte (or NUL) */
        case 2: n = at; break;                                  /* truncate */
        default:                                                /* delete one */
          memmove(buf + at, buf + at + 1, n - at - 1);
          n--;
          break;
      }
      if (n == 0) break;
    }
    parse_exact(buf, n);
  }
}

static void test_random_inputs_never_crash(void **state) {
  (void)state;
  static const char alphabet[] =
      "{}[]\"\\:,0123456789-+.eEtrufalsn u\\\"\n\t\x01\x80\xBF\xC3\xE2\xF0\xFF";
  char buf[256];
  int parsed = 0;
  for (int iter = 0; iter < 50000; iter++) {
    size_t n = (size_t)(rng() % sizeof buf);
    bool any_byte = rng() % 8 == 0;
    for (size_t i = 0; i < n; i++)
      buf[i] = any_byte ? (char)rng() : alphabet[rng() % (sizeof alphabet - 1)];
    parsed += parse_exact(buf, n) == RTT_JSON_OK;
  }
  /* Some short random strings ("1", "[]") are JSON: the test exercised
   * both outcomes. */
  assert_true(parsed > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_documents_parse_to_the_expected_tree),
      cmocka_unit_test(test_string_with_nul_keeps_its_length),
      cmocka_unit_test(test_invalid_documents_are_rejected_with_position),
      cmocka_unit_test(test_nul_byte_in_input_is_an_error),
      cmocka_unit_test(test_error_positions_count_lines_and_columns),
      cmocka_unit_test(test_numbers_convert_to_doubles),
      cmocka_unit_test(test_integer_helpers_take_strings_and_numbers),
      cmocka_unit_test(test_get_returns_the_last_duplicate_and_tolerates_other_types),
      cmocka_unit_test(test_depth_limit_is_exact),
      cmocka_unit_test(test_every_prefix_of_a_container_is_rejected),
      cmocka_unit_test(test_mutated_inputs_never_crash),
      cmocka_unit_test(test_random_inputs_never_crash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
