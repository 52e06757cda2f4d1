/*
 * W3C tracestate: parsing (one and several header values), truncation, and
 * get / set / delete. The parse tables follow the W3C Trace Context Level 2
 * grammar and the cases of its test suite (w3c/trace-context test/test.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include "test_util.h"

#include "internal.h"

/* ---- building blocks for long inputs (lengths checked in a test) ---- */

#define D10 "0123456789"
#define D50 D10 D10 D10 D10 D10
#define A16 "abcdefghijklmnop"
#define A64 A16 A16 A16 A16
#define A240 A64 A64 A64 A16 A16 A16

#define KEY256 A64 A64 A64 A64
#define KEY257 KEY256 "a"
#define TENANT241 A240 "a"
#define TENANT242 A240 "aa"
#define SYS14 "abcdefghijklmn"
#define SYS15 "abcdefghijklmno"
/* 256 characters with '@' in them, and 257. */
#define AT256 TENANT241 "@" SYS14
#define AT257 TENANT242 "@" SYS14
#define V255 D50 D50 D50 D50 D50 "abcde"
#define V256 V255 "f"
#define V257 V256 "g"

/* Every key character, and every value character (0x20-0x2b, 0x2d-0x3c,
 * 0x3e-0x7e: note the leading space, which belongs to the value). */
#define ALLKEY "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
#define ALLVAL       \
  " !\"#$%&'()*+"    \
  "-./0123456789:;<" \
  ">?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

/* Members of exact lengths for truncation: k is two characters. */
#define V60 D50 D10
#define V61 V60 "x"
#define M63(k) k "=" V60
#define M64(k) k "=" V61
#define BIG200 "big=" D50 D50 D50 D10 D10 D10 D10 "abcdef"
#define EARLY130 "early=" D50 D50 D10 D10 "abcd"
#define LARGE129 "large=" D50 D50 D10 D10 "abc"
#define M128 "m128=" D50 D50 D10 D10 "abc"
#define M63_1_7 \
  M63("k1") "," M63("k2") "," M63("k3") "," M63("k4") "," M63("k5") "," M63("k6") "," M63("k7")
#define K1_7 \
  M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5") "," M64("k6") "," M64("k7")

#define BAR01_10 \
  "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,bar07=07,bar08=08,bar09=09,bar10=10"
#define BAR11_20 \
  "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,bar17=17,bar18=18,bar19=19,bar20=20"
#define BAR21_30 \
  "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,bar27=27,bar28=28,bar29=29,bar30=30"
#define BAR01_31 BAR01_10 "," BAR11_20 "," BAR21_30 ",bar31=31"
#define BAR32 BAR01_31 ",bar32=32"
#define BAR33 BAR32 ",bar33=33"

/* ---- helpers ---- */

#define MAX_PIECES 5

static void expect_ts(const char *name, const rpct_tracestate *ts, const char *want, int count) {
  size_t wl = strlen(want);
  if (ts->len != wl || memcmp(ts->buf, want, wl) != 0 || ts->count != count)
    fail_msg("%s: got \"%.*s\" (%d members), want \"%s\" (%d members)", name, (int)ts->len, ts->buf,
             ts->count, want, count);
}

/* A tracestate holding something, to show that a failed parse empties it. */
static void fill_stale(rpct_tracestate *ts) {
  memset(ts, 0, sizeof *ts);
  assert_int_equal(rpct_tracestate_parse("stale=1", 7, ts), RPCT_OK);
}

static void parse_str(rpct_tracestate *ts, const char *s) {
  memset(ts, 0, sizeof *ts);
  assert_int_equal(rpct_tracestate_parse(s, strlen(s), ts), RPCT_OK);
}

/* ---- parse tables ---- */

typedef struct parse_case {
  const char *name;
  const char *in[MAX_PIECES]; /* header values; one: parse(), several: parse_multi() */
  int rc;
  int count;       /* members after the call */
  const char *out; /* the tracestate after the call */
} parse_case;

static void run_parse_case(const parse_case *c) {
  const char *vals[MAX_PIECES];
  size_t lens[MAX_PIECES], n = 0;
  while (n < MAX_PIECES && c->in[n]) {
    vals[n] = c->in[n];
    lens[n] = strlen(c->in[n]);
    n++;
  }
  rpct_tracestate ts;
  fill_stale(&ts);
  int rc = n == 1 ? rpct_tracestate_parse(vals[0], lens[0], &ts)
                  : rpct_tracestate_parse_multi(vals, lens, n, &ts);
  tu_expect_rc(c->name, rc, c->rc);
  expect_ts(c->name, &ts, c->out, c->count);

  if (n == 1) { /* one value through parse_multi: the same answer */
    fill_stale(&ts);
    tu_expect_rc(c->name, rpct_tracestate_parse_multi(vals, lens, 1, &ts), c->rc);
    expect_ts(c->name, &ts, c->out, c->count);
  }
  if (c->rc == RPCT_OK) { /* the canonical form is a fixed point */
    rpct_tracestate again;
    fill_stale(&again);
    tu_expect_rc(c->name, rpct_tracestate_parse(ts.buf, ts.len, &again), RPCT_OK);
    expect_ts(c->name, &again, c->out, c->count);
  }
}

static void run_parse_cases(const parse_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) run_parse_case(&cases[i]);
}

#define OK RPCT_OK
#define BAD RPCT_ERR_PARSE

static const parse_case valid_lists[] = {
    {"empty header value", {""}, OK, 0, ""},
    {"white space only", {" \t \t"}, OK, 0, ""},
    {"only separators", {",,, ,\t,"}, OK, 0, ""},
    {"one member", {"foo=1"}, OK, 1, "foo=1"},
    {"order kept", {"b=1,a=2"}, OK, 2, "b=1,a=2"},
    {"OWS around members", {"foo=1 \t , \t bar=2, \t baz=3"}, OK, 3, "foo=1,bar=2,baz=3"},
    {"empty members around one", {" , ,a=1,,"}, OK, 1, "a=1"},
    {"empty member between two", {"a=1,,b=2"}, OK, 2, "a=1,b=2"},
    {"trailing OWS after value", {"foo=1 "}, OK, 1, "foo=1"},
    {"trailing tab after value", {"foo=1\t"}, OK, 1, "foo=1"},
    {"leading OWS before key", {" \tfoo=1"}, OK, 1, "foo=1"},
    {"value starting with space", {"foo= 1"}, OK, 1, "foo= 1"},
    {"value with inner spaces", {"foo=a b  c"}, OK, 1, "foo=a b  c"},
    {"key and value of every allowed character", {ALLKEY "=" ALLVAL}, OK, 1, ALLKEY "=" ALLVAL},
    {"multi-tenant key of every allowed character",
     {ALLKEY "@a-z0-9_-*/=" ALLVAL},
     OK,
     1,
     ALLKEY "@a-z0-9_-*/=" ALLVAL},
    {"simple key of 256 characters", {KEY256 "=1"}, OK, 1, KEY256 "=1"},
    {"tenant id of 241 characters", {TENANT241 "@a=1"}, OK, 1, TENANT241 "@a=1"},
    {"system id of 14 characters", {"t@" SYS14 "=1"}, OK, 1, "t@" SYS14 "=1"},
    {"tenant id starting with a digit", {"1tenant@sys=1"}, OK, 1, "1tenant@sys=1"},
    {"one-character keys", {"a=1,1@b=2"}, OK, 2, "a=1,1@b=2"},
    /* Level 2 (2026): '@' is a key character like the others; only the
     * whole key's 256 characters bound it. These were invalid before. */
    {"@ at the end of a key", {"foo@=1"}, OK, 1, "foo@=1"},
    {"@ at the end, with another member", {"foo@=1,bar=2"}, OK, 2, "foo@=1,bar=2"},
    {"two adjacent @", {"foo@@bar=1,bar=2"}, OK, 2, "foo@@bar=1,bar=2"},
    {"two separate @", {"foo@bar@baz=1,bar=2"}, OK, 2, "foo@bar@baz=1,bar=2"},
    {"15 characters after @", {"foo=1", "t@" SYS15 "=1"}, OK, 2, "foo=1,t@" SYS15 "=1"},
    {"242 characters before @v", {"foo=1", TENANT242 "@v=1"}, OK, 2, "foo=1," TENANT242 "@v=1"},
    {"241 before @ and 14 after: 256 in all", {"foo=1", AT256 "=1"}, OK, 2, "foo=1," AT256 "=1"},
    {"simple key starting with a digit", {"1foo=1"}, OK, 1, "1foo=1"},
    {"digit right after @", {"foo@1bar=1"}, OK, 1, "foo@1bar=1"},
    {"@ then a key character other than a letter", {"a@_-*/=1"}, OK, 1, "a@_-*/=1"},
    {"value of 256 characters", {"foo=" V256}, OK, 1, "foo=" V256},
    {"same key under different tenants",
     {"foo=1,foo@bar=2,foo@baz=3,t@foo=4"},
     OK,
     4,
     "foo=1,foo@bar=2,foo@baz=3,t@foo=4"},
};

static const parse_case invalid_keys[] = {
    {"space inside key", {"foo =1"}, BAD, 0, ""},
    {"uppercase key", {"FOO=1"}, BAD, 0, ""},
    {"one uppercase letter", {"fOo=1"}, BAD, 0, ""},
    {"dot in key", {"foo.bar=1"}, BAD, 0, ""},
    {"key starting with @", {"@foo=1"}, BAD, 0, ""},
    {"key starting with @, before a good member", {"@vendor=1,bar=2"}, BAD, 0, ""},
    {"key of @ alone", {"@=1"}, BAD, 0, ""},
    {"simple key starting with _", {"_foo=1"}, BAD, 0, ""},
    {"key starting with /", {"/foo=1"}, BAD, 0, ""},
    {"empty key", {"=1"}, BAD, 0, ""},
    {"member without =", {"foo"}, BAD, 0, ""},
    {"simple key of 257 characters", {KEY257 "=1"}, BAD, 0, ""},
    {"key of 257 characters in a later value", {"foo=1", KEY257 "=1"}, BAD, 0, ""},
    {"key with @ of 257 characters", {"foo=1", AT257 "=1"}, BAD, 0, ""},
    {"one bad key among good members", {"a=1,B=2,c=3"}, BAD, 0, ""},
    {"non-ASCII key", {"f\xc3\xa9=1"}, BAD, 0, ""},
};

static const parse_case invalid_values[] = {
    {"= in value", {"foo=bar=baz"}, BAD, 0, ""},
    {"empty value", {"foo="}, BAD, 0, ""},
    {"value of white space only", {"foo= \t "}, BAD, 0, ""},
    {"comma in value leaves a member without =", {"foo=a,b"}, BAD, 0, ""},
    {"DEL in value", {"foo=a\177b"}, BAD, 0, ""},
    {"control character 0x19 in value", {"foo=a\031b"}, BAD, 0, ""},
    {"tab inside value", {"foo=a\tb"}, BAD, 0, ""},
    {"non-ASCII value", {"foo=\xc3\xa9"}, BAD, 0, ""},
    {"value of 257 characters", {"foo=" V257}, BAD, 0, ""},
    {"one bad value among good members", {"a=1,b=,c=3"}, BAD, 0, ""},
};

/* A repeated key is inherited: the first entry kept, the later dropped. */
static const parse_case duplicates[] = {
    {"same member twice", {"foo=1,foo=1"}, OK, 1, "foo=1"},
    {"same key twice", {"foo=1,foo=2"}, OK, 1, "foo=1"},
    {"same member in two values", {"foo=1", "foo=1"}, OK, 1, "foo=1"},
    {"same key in two values", {"foo=1", "foo=2"}, OK, 1, "foo=1"},
    {"same member twice among others", {"foo=1,bar=2,foo=1"}, OK, 2, "foo=1,bar=2"},
    {"same key with @ twice", {"foo@bar=1,foo@bar=2"}, OK, 1, "foo@bar=1"},
    {"same key in two header values", {"foo=1", "bar=2,foo=2"}, OK, 2, "foo=1,bar=2"},
    {"same key in the first and last of four values",
     {"a=1", "b=2", "c=3", "a=4"},
     OK,
     3,
     "a=1,b=2,c=3"},
    {"keys differing only by @ are different", {"foo=1,foo@=2"}, OK, 2, "foo=1,foo@=2"},
    {"a repeat still counts toward 32 members", {BAR32 ",bar01=99"}, BAD, 0, ""},
    {"a bad member after a repeat discards all", {"foo=1,foo=2,B=3"}, BAD, 0, ""},
};

static const parse_case member_limits[] = {
    {"32 members", {BAR32}, OK, 32, BAR32},
    {"33 members", {BAR33}, BAD, 0, ""},
    {"32 members and empty ones", {" ," BAR32 ",, \t,"}, OK, 32, BAR32},
    {"32 members over 4 values",
     {BAR01_10, BAR11_20, BAR21_30, "bar31=31,bar32=32"},
     OK,
     32,
     BAR32},
    {"33 members over 4 values",
     {BAR01_10, BAR11_20, BAR21_30, "bar31=31,bar32=32,bar33=33"},
     BAD,
     0,
     ""},
    {"33rd member alone in a last value", {BAR32, "bar33=33"}, BAD, 0, ""},
};

static const parse_case truncation[] = {
    {"exactly 512 characters kept", {M63_1_7 "," M64("k8")}, OK, 8, M63_1_7 "," M64("k8")},
    {"large middle member dropped, earlier large one kept",
     {EARLY130 "," M64("k1") "," M64("k2") "," M64("k3") "," BIG200 "," M64("k4") "," M64("k5")},
     OK,
     6,
     EARLY130 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5")},
    {"last large member dropped first even when an earlier one is larger",
     {BIG200 "," M64("k1") "," M64("k2") "," EARLY130 "," M64("k3") "," M64("k4")},
     OK,
     5,
     BIG200 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4")},
    {"no large member: 9 members lose the last two",
     {K1_7 "," M64("k8") "," M64("k9")},
     OK,
     7,
     K1_7},
    {"large member dropped, then the tail", {LARGE129 "," K1_7 "," M64("k8")}, OK, 7, K1_7},
    {"member of exactly 128 characters is not large",
     {M128 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5") "," M64("k6")},
     OK,
     6,
     M128 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5")},
    {"member of 513 characters alone leaves nothing", {KEY256 "=" V256}, OK, 0, ""},
    {"member of 513 characters dropped, short ones kept",
     {"a=1," KEY256 "=" V256 ",b=2"},
     OK,
     2,
     "a=1,b=2"},
    {"truncation across several values",
     {EARLY130 "," M64("k1"), M64("k2") "," M64("k3"), BIG200, M64("k4") "," M64("k5")},
     OK,
     6,
     EARLY130 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5")},
};

static const parse_case multi_values[] = {
    {"two values", {"foo=1", "bar=2"}, OK, 2, "foo=1,bar=2"},
    {"empty value between two", {"foo=1", "", "bar=2"}, OK, 2, "foo=1,bar=2"},
    {"white space value between two", {"foo=1", " \t ", "bar=2"}, OK, 2, "foo=1,bar=2"},
    {"values with dangling separators", {"a=1,", ",b=2", ","}, OK, 2, "a=1,b=2"},
    {"only empty values", {"", " ", ""}, OK, 0, ""},
    {"values are joined by a comma, not glued", {"foo=1", "2"}, BAD, 0, ""},
    {"a key is not continued in the next value", {"fo", "o=1"}, BAD, 0, ""},
    {"bad member in a later value", {"foo=1", "BAR=2"}, BAD, 0, ""},
};

static void test_tracestate_accepts_valid_lists(void **state) {
  (void)state;
  run_parse_cases(valid_lists, RPCT__ARRAY_LEN(valid_lists));
}

static void test_tracestate_discards_invalid_keys(void **state) {
  (void)state;
  run_parse_cases(invalid_keys, RPCT__ARRAY_LEN(invalid_keys));
}

static void test_tracestate_discards_invalid_values(void **state) {
  (void)state;
  run_parse_cases(invalid_values, RPCT__ARRAY_LEN(invalid_values));
}

static void test_tracestate_keeps_the_first_of_repeated_keys(void **state) {
  (void)state;
  run_parse_cases(duplicates, RPCT__ARRAY_LEN(duplicates));
}

static void test_tracestate_discards_more_than_32_members(void **state) {
  (void)state;
  run_parse_cases(member_limits, RPCT__ARRAY_LEN(member_limits));
}

static void test_tracestate_truncates_large_members_first_then_the_tail(void **state) {
  (void)state;
  run_parse_cases(truncation, RPCT__ARRAY_LEN(truncation));
}

static void test_tracestate_parse_multi_combines_values_as_one_list(void **state) {
  (void)state;
  run_parse_cases(multi_values, RPCT__ARRAY_LEN(multi_values));
}

/* ---- parse: arguments and edge cases ---- */

static void test_tracestate_test_inputs_have_intended_lengths(void **state) {
  (void)state;
  assert_int_equal(strlen(KEY256), 256);
  assert_int_equal(strlen(TENANT241), 241);
  assert_int_equal(strlen(SYS14), 14);
  assert_int_equal(strlen(SYS15), 15);
  assert_int_equal(strlen(TENANT242), 242);
  assert_int_equal(strlen(AT256), 256);
  assert_int_equal(strlen(AT257), 257);
  assert_int_equal(strlen(V256), 256);
  assert_int_equal(strlen(M63("k1")), 63);
  assert_int_equal(strlen(M64("k1")), 64);
  assert_int_equal(strlen(BIG200), 200);
  assert_int_equal(strlen(EARLY130), 130);
  assert_int_equal(strlen(LARGE129), 129);
  assert_int_equal(strlen(M128), 128);
  assert_int_equal(strlen(BAR32), 32 * 8 + 31);

  char all[128];
  size_t n = 0;
  for (int c = 0x20; c <= 0x7e; c++)
    if (c != ',' && c != '=') all[n++] = (char)c;
  all[n] = '\0';
  assert_string_equal(ALLVAL, all);
}

static void test_tracestate_rejects_null_arguments(void **state) {
  (void)state;
  rpct_tracestate ts;
  const char *v = "a=1";
  size_t l = 3;
  const char *value = "x";
  size_t value_len = 9;

  assert_int_equal(rpct_tracestate_parse("a=1", 3, NULL), RPCT_ERR_INVALID_ARGUMENT);
  fill_stale(&ts);
  assert_int_equal(rpct_tracestate_parse(NULL, 0, &ts), RPCT_ERR_INVALID_ARGUMENT);
  expect_ts("parse(NULL)", &ts, "", 0);

  assert_int_equal(rpct_tracestate_parse_multi(&v, &l, 1, NULL), RPCT_ERR_INVALID_ARGUMENT);
  fill_stale(&ts);
  assert_int_equal(rpct_tracestate_parse_multi(NULL, &l, 1, &ts), RPCT_ERR_INVALID_ARGUMENT);
  expect_ts("parse_multi(NULL values)", &ts, "", 0);
  fill_stale(&ts);
  assert_int_equal(rpct_tracestate_parse_multi(&v, NULL, 1, &ts), RPCT_ERR_INVALID_ARGUMENT);
  expect_ts("parse_multi(NULL lens)", &ts, "", 0);
  const char *with_null[2] = {"a=1", NULL};
  size_t lens2[2] = {3, 0};
  fill_stale(&ts);
  assert_int_equal(rpct_tracestate_parse_multi(with_null, lens2, 2, &ts),
                   RPCT_ERR_INVALID_ARGUMENT);
  expect_ts("parse_multi(NULL value)", &ts, "", 0);

  parse_str(&ts, "a=1");
  assert_int_equal(rpct_tracestate_get(NULL, "a", &value, &value_len), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_get(&ts, NULL, &value, &value_len), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_get(&ts, "a", NULL, &value_len), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_get(&ts, "a", &value, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_set(NULL, "a", "1"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_set(&ts, NULL, "1"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_set(&ts, "a", NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_delete(NULL, "a"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_tracestate_delete(&ts, NULL), RPCT_ERR_INVALID_ARGUMENT);
  expect_ts("after NULL arguments", &ts, "a=1", 1);
}

static void test_tracestate_parse_multi_of_no_values_is_empty(void **state) {
  (void)state;
  rpct_tracestate ts;
  fill_stale(&ts);
  assert_int_equal(rpct_tracestate_parse_multi(NULL, NULL, 0, &ts), RPCT_OK);
  expect_ts("no values", &ts, "", 0);
}

static void test_tracestate_parse_reads_only_len_bytes(void **state) {
  (void)state;
  rpct_tracestate ts;
  fill_stale(&ts);
  /* The bytes after len would be a duplicate and an invalid member. */
  assert_int_equal(rpct_tracestate_parse("a=1,b=2,a=3,X", 7, &ts), RPCT_OK);
  expect_ts("prefix", &ts, "a=1,b=2", 2);
}

static void test_tracestate_parse_accepts_its_own_buffer(void **state) {
  (void)state;
  rpct_tracestate ts;
  parse_str(&ts, "a=1,b=2,c=3");
  /* Parse a part of the buffer that starts after where output begins. */
  assert_int_equal(rpct_tracestate_parse(ts.buf + 4, ts.len - 4, &ts), RPCT_OK);
  expect_ts("own buffer", &ts, "b=2,c=3", 2);
}

static void test_tracestate_zero_filled_is_empty(void **state) {
  (void)state;
  rpct_tracestate ts;
  memset(&ts, 0, sizeof ts);
  const char *v;
  size_t vl;
  assert_int_equal(rpct_tracestate_get(&ts, "a", &v, &vl), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_tracestate_delete(&ts, "a"), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_tracestate_set(&ts, "a", "1"), RPCT_OK);
  expect_ts("set on zero-filled", &ts, "a=1", 1);
}

/* ---- get ---- */

typedef struct get_case {
  const char *name;
  const char *initial;
  const char *key;
  int rc;
  const char *value; /* NULL when not found */
} get_case;

static const get_case get_cases[] = {
    {"first member", "a=1,bb=22,c= 3", "a", OK, "1"},
    {"middle member", "a=1,bb=22,c= 3", "bb", OK, "22"},
    {"value starting with space", "a=1,bb=22,c= 3", "c", OK, " 3"},
    {"prefix of a key", "a=1,bb=22,c= 3", "b", RPCT_ERR_NOT_FOUND, NULL},
    {"longer than a key", "a=1,bb=22,c= 3", "bbb", RPCT_ERR_NOT_FOUND, NULL},
    {"a value is not a key", "a=1,bb=22,c= 3", "1", RPCT_ERR_NOT_FOUND, NULL},
    {"multi-tenant key", "t@s=x,t=y", "t@s", OK, "x"},
    {"tenant alone is another key", "t@s=x,t=y", "t", OK, "y"},
    {"tenant of a multi-tenant key only", "t@s=x", "t", RPCT_ERR_NOT_FOUND, NULL},
    {"empty key", "a=1", "", RPCT_ERR_NOT_FOUND, NULL},
    {"empty tracestate", "", "a", RPCT_ERR_NOT_FOUND, NULL},
    {"key of 256 characters", KEY256 "=v", KEY256, OK, "v"},
    {"key over 256 characters", KEY256 "=v", KEY257, RPCT_ERR_NOT_FOUND, NULL},
};

static void test_tracestate_get_finds_exact_keys_only(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(get_cases); i++) {
    const get_case *c = &get_cases[i];
    rpct_tracestate ts;
    parse_str(&ts, c->initial);
    const char *v = "stale";
    size_t vl = 99;
    tu_expect_rc(c->name, rpct_tracestate_get(&ts, c->key, &v, &vl), c->rc);
    if (c->value == NULL) {
      if (v != NULL || vl != 0) fail_msg("%s: value not cleared", c->name);
      continue;
    }
    if (v < ts.buf || v + vl > ts.buf + ts.len) fail_msg("%s: value outside ts.buf", c->name);
    if (vl != strlen(c->value) || memcmp(v, c->value, vl) != 0)
      fail_msg("%s: got \"%.*s\", want \"%s\"", c->name, (int)vl, v, c->value);
  }
}

/* ---- set ---- */

typedef struct set_case {
  const char *name;
  const char *initial;
  const char *key, *value;
  int rc;
  int count;
  const char *out;
} set_case;

static const set_case set_cases[] = {
    {"set on empty", "", "foo", "1", OK, 1, "foo=1"},
    {"new key goes to the front", "a=1,b=2", "c", "3", OK, 3, "c=3,a=1,b=2"},
    {"existing last key moves to the front", "a=1,b=2,c=3", "c", "9", OK, 3, "c=9,a=1,b=2"},
    {"existing middle key moves to the front", "a=1,b=2,c=3", "b", "x", OK, 3, "b=x,a=1,c=3"},
    {"existing first key updated in place", "a=1,b=2", "a", "5", OK, 2, "a=5,b=2"},
    {"same value moves to the front", "a=1,b=2", "b", "2", OK, 2, "b=2,a=1"},
    {"multi-tenant key", "a=1,t=2", "t@s", "v", OK, 3, "t@s=v,a=1,t=2"},
    {"key with two @", "a=1", "a@b@c", "1", OK, 2, "a@b@c=1,a=1"},
    {"key of 256 characters with @", "a=1", AT256, "1", OK, 2, AT256 "=1,a=1"},
    {"value starting with space", "a=1", "k", " 1", OK, 2, "k= 1,a=1"},
    {"every allowed character", "a=1", ALLKEY, ALLVAL, OK, 2, ALLKEY "=" ALLVAL ",a=1"},
    {"33rd member drops the last", BAR32, "new", "1", OK, 32, "new=1," BAR01_31},
    {"update on 32 members keeps them all", BAR32, "bar32", "xx", OK, 32, "bar32=xx," BAR01_31},
    {"over 512 characters drops from the end", K1_7, "new", V61, OK, 7,
     "new=" V61
     "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5") "," M64("k6")},
    {"over 512 characters drops the tail, not large members first",
     EARLY130 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5"), "new", V61, OK,
     6, "new=" V61 "," EARLY130 "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4")},
    {"a short member after one that does not fit is dropped too", K1_7 ",b=2", "new", V61, OK, 7,
     "new=" V61
     "," M64("k1") "," M64("k2") "," M64("k3") "," M64("k4") "," M64("k5") "," M64("k6")},
    {"member of 512 characters replaces all others", "a=1,b=2", KEY256, V255, OK, 1,
     KEY256 "=" V255},
    {"member of 513 characters does not fit", "a=1", KEY256, V256, RPCT_ERR_NO_SPACE, 1, "a=1"},
    {"uppercase key", "a=1", "FOO", "1", BAD, 1, "a=1"},
    {"empty key", "a=1", "", "1", BAD, 1, "a=1"},
    {"key with space", "a=1", "foo bar", "1", BAD, 1, "a=1"},
    {"key starting with @", "a=1", "@b", "1", BAD, 1, "a=1"},
    {"key of 257 characters", "a=1", KEY257, "1", BAD, 1, "a=1"},
    {"empty value", "a=1", "a", "", BAD, 1, "a=1"},
    {"value ending in space", "a=1", "a", "1 ", BAD, 1, "a=1"},
    {"value with =", "a=1", "b", "x=y", BAD, 1, "a=1"},
    {"value with comma", "a=1", "b", "x,y", BAD, 1, "a=1"},
    {"value with tab", "a=1", "b", "x\ty", BAD, 1, "a=1"},
    {"value of 257 characters", "a=1", "b", V257, BAD, 1, "a=1"},
};

static void test_tracestate_set_moves_member_to_front(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(set_cases); i++) {
    const set_case *c = &set_cases[i];
    rpct_tracestate ts;
    parse_str(&ts, c->initial);
    tu_expect_rc(c->name, rpct_tracestate_set(&ts, c->key, c->value), c->rc);
    expect_ts(c->name, &ts, c->out, c->count);
    if (c->rc == RPCT_OK) {
      const char *v;
      size_t vl;
      tu_expect_rc(c->name, rpct_tracestate_get(&ts, c->key, &v, &vl), RPCT_OK);
      if (vl != strlen(c->value) || memcmp(v, c->value, vl) != 0)
        fail_msg("%s: get after set gave \"%.*s\"", c->name, (int)vl, v);
    }
  }
}

/* ---- delete ---- */

typedef struct delete_case {
  const char *name;
  const char *initial;
  const char *key;
  int rc;
  int count;
  const char *out;
} delete_case;

static const delete_case delete_cases[] = {
    {"first member", "a=1,b=2,c=3", "a", OK, 2, "b=2,c=3"},
    {"middle member", "a=1,b=2,c=3", "b", OK, 2, "a=1,c=3"},
    {"last member", "a=1,b=2,c=3", "c", OK, 2, "a=1,b=2"},
    {"only member", "a=1", "a", OK, 0, ""},
    {"multi-tenant key", "t=1,t@s=2", "t@s", OK, 1, "t=1"},
    {"missing key", "a=1,b=2", "c", RPCT_ERR_NOT_FOUND, 2, "a=1,b=2"},
    {"prefix of a key", "ab=1", "a", RPCT_ERR_NOT_FOUND, 1, "ab=1"},
    {"tenant of a multi-tenant key", "t@s=1", "t", RPCT_ERR_NOT_FOUND, 1, "t@s=1"},
    {"empty key", "a=1", "", RPCT_ERR_NOT_FOUND, 1, "a=1"},
    {"empty tracestate", "", "a", RPCT_ERR_NOT_FOUND, 0, ""},
};

static void test_tracestate_delete_removes_one_member(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(delete_cases); i++) {
    const delete_case *c = &delete_cases[i];
    rpct_tracestate ts;
    parse_str(&ts, c->initial);
    tu_expect_rc(c->name, rpct_tracestate_delete(&ts, c->key), c->rc);
    expect_ts(c->name, &ts, c->out, c->count);
  }
}

static void test_tracestate_delete_then_set_rebuilds(void **state) {
  (void)state;
  rpct_tracestate ts;
  parse_str(&ts, "a=1,b=2,c=3");
  assert_int_equal(rpct_tracestate_delete(&ts, "a"), RPCT_OK);
  assert_int_equal(rpct_tracestate_delete(&ts, "c"), RPCT_OK);
  assert_int_equal(rpct_tracestate_delete(&ts, "c"), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_tracestate_set(&ts, "d", "4"), RPCT_OK);
  assert_int_equal(rpct_tracestate_delete(&ts, "b"), RPCT_OK);
  assert_int_equal(rpct_tracestate_delete(&ts, "d"), RPCT_OK);
  expect_ts("all deleted", &ts, "", 0);
  assert_int_equal(rpct_tracestate_set(&ts, "e", "5"), RPCT_OK);
  expect_ts("set after deleting all", &ts, "e=5", 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tracestate_test_inputs_have_intended_lengths),
      cmocka_unit_test(test_tracestate_accepts_valid_lists),
      cmocka_unit_test(test_tracestate_discards_invalid_keys),
      cmocka_unit_test(test_tracestate_discards_invalid_values),
      cmocka_unit_test(test_tracestate_keeps_the_first_of_repeated_keys),
      cmocka_unit_test(test_tracestate_discards_more_than_32_members),
      cmocka_unit_test(test_tracestate_truncates_large_members_first_then_the_tail),
      cmocka_unit_test(test_tracestate_parse_multi_combines_values_as_one_list),
      cmocka_unit_test(test_tracestate_rejects_null_arguments),
      cmocka_unit_test(test_tracestate_parse_multi_of_no_values_is_empty),
      cmocka_unit_test(test_tracestate_parse_reads_only_len_bytes),
      cmocka_unit_test(test_tracestate_parse_accepts_its_own_buffer),
      cmocka_unit_test(test_tracestate_zero_filled_is_empty),
      cmocka_unit_test(test_tracestate_get_finds_exact_keys_only),
      cmocka_unit_test(test_tracestate_set_moves_member_to_front),
      cmocka_unit_test(test_tracestate_delete_removes_one_member),
      cmocka_unit_test(test_tracestate_delete_then_set_rebuilds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
