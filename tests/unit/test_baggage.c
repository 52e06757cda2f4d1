/*
 * W3C baggage: parsing (one and several header values) into the canonical
 * form, the skip-the-bad-member policy, the 64-member / 8192-byte limits,
 * and get / set / format. The parse tables follow the grammar of the W3C
 * Baggage specification.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include "test_util.h"

#include "internal.h"

enum {
  OK = RPCT_OK,
  BAD = RPCT_ERR_PARSE,
  LIMIT = RPCT_ERR_LIMIT,
};

/* Every tchar, and every baggage-octet (0x21, 0x23-0x2b, 0x2d-0x3a,
 * 0x3c-0x5b, 0x5d-0x7e). */
#define ALLTCHAR "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define ALLOCTET                                             \
  "!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[" \
  "]^_`abcdefghijklmnopqrstuvwxyz{|}~"

#define MAX_PIECES 4

/* rpct_baggage is 8 KB: the tests keep theirs out of the stack. */
static rpct_baggage bag, bag2;

/* ---- helpers ---- */

static void expect_bag(const char *name, const rpct_baggage *b, const char *want, int count) {
  size_t wl = strlen(want);
  if (b->len != wl || memcmp(b->buf, want, wl) != 0 || b->count != count)
    fail_msg("%s: got \"%.*s\" (%d members), want \"%s\" (%d members)", name,
             b->len > 200 ? 200 : (int)b->len, b->buf, b->count, want, count);
}

/* A baggage holding something, to show that a parse replaces it. */
static void fill_stale(rpct_baggage *b) {
  memset(b, 0, sizeof *b);
  assert_int_equal(rpct_baggage_parse("stale=1", 7, b), RPCT_OK);
}

static void parse_str(rpct_baggage *b, const char *s) {
  memset(b, 0, sizeof *b);
  assert_int_equal(rpct_baggage_parse(s, strlen(s), b), RPCT_OK);
}

/* ---- parse tables ---- */

typedef struct parse_case {
  const char *name;
  const char *in[MAX_PIECES]; /* header values; one: parse(), several: parse_multi() */
  int rc;
  int count;       /* members after the call */
  const char *out; /* canonical baggage after the call */
} parse_case;

static void run_parse_cases(const parse_case *cases, size_t n_cases) {
  for (size_t i = 0; i < n_cases; i++) {
    const parse_case *c = &cases[i];
    const char *vals[MAX_PIECES];
    size_t lens[MAX_PIECES], n = 0;
    while (n < MAX_PIECES && c->in[n]) {
      vals[n] = c->in[n];
      lens[n] = strlen(c->in[n]);
      n++;
    }
    fill_stale(&bag);
    int rc = n == 1 ? rpct_baggage_parse(vals[0], lens[0], &bag)
                    : rpct_baggage_parse_multi(vals, lens, n, &bag);
    tu_expect_rc(c->name, rc, c->rc);
    expect_bag(c->name, &bag, c->out, c->count);
    if (n == 1) { /* one value through parse_multi: the same answer */
      fill_stale(&bag);
      tu_expect_rc(c->name, rpct_baggage_parse_multi(vals, lens, 1, &bag), c->rc);
      expect_bag(c->name, &bag, c->out, c->count);
    }
  }
}

static const parse_case valid_lists[] = {
    {"one member", {"userId=alice"}, OK, 1, "userId=alice"},
    {"two members", {"userId=alice,serverNode=DF28"}, OK, 2, "userId=alice,serverNode=DF28"},
    {"property with a value", {"k=v;p=1"}, OK, 1, "k=v;p=1"},
    {"property without a value", {"k=v;flag"}, OK, 1, "k=v;flag"},
    {"several properties", {"k=v;a=1;flag;b=2"}, OK, 1, "k=v;a=1;flag;b=2"},
    {"white space around members is removed", {" \tk1=v1 \t, k2=v2\t"}, OK, 2, "k1=v1,k2=v2"},
    {"white space around '=' and ';' is removed",
     {"k \t= v ; p = 1 ;\tflag \t, k2 =v2"},
     OK,
     2,
     "k=v;p=1;flag,k2=v2"},
    {"empty value", {"k="}, OK, 1, "k="},
    {"empty value with white space", {"k = ,k2=v2"}, OK, 2, "k=,k2=v2"},
    {"empty property value", {"k=v;p="}, OK, 1, "k=v;p="},
    {"every token character in a key", {ALLTCHAR "=v"}, OK, 1, ALLTCHAR "=v"},
    {"every baggage-octet in a value", {"k=" ALLOCTET}, OK, 1, "k=" ALLOCTET},
    {"percent-encoded value kept as is", {"k=a%20b%2C%3B"}, OK, 1, "k=a%20b%2C%3B"},
    {"stray percent kept as is", {"k=100%;p=%zz"}, OK, 1, "k=100%;p=%zz"},
    {"'=' inside a value", {"k=a=b;p=c=d"}, OK, 1, "k=a=b;p=c=d"},
    {"duplicate keys are kept", {"k=1,k=2"}, OK, 2, "k=1,k=2"},
    {"keys are case-sensitive", {"K=1,k=2"}, OK, 2, "K=1,k=2"},
    {"empty members are skipped silently", {",k1=1,,\t,k2=2,"}, OK, 2, "k1=1,k2=2"},
    {"empty header", {""}, OK, 0, ""},
    {"only separators and white space", {" , ,\t"}, OK, 0, ""},
};

/* The baggage specification asks that a malformed entry not cost the
 * others: it is skipped, RPCT_ERR_PARSE tells, the rest is kept. */
static const parse_case invalid_members[] = {
    {"space inside a value", {"a=1,b=x y,c=3"}, BAD, 2, "a=1,c=3"},
    {"member without '='", {"a=1,b,c=3"}, BAD, 2, "a=1,c=3"},
    {"empty key", {"a=1,=v,c=3"}, BAD, 2, "a=1,c=3"},
    {"space inside a key", {"a=1,b c=2,c=3"}, BAD, 2, "a=1,c=3"},
    {"'(' in a key", {"a(=1,c=3"}, BAD, 1, "c=3"},
    {"'@' in a key", {"a@b=1,c=3"}, BAD, 1, "c=3"},
    {"'\"' in a value", {"a=\"x\",c=3"}, BAD, 1, "c=3"},
    {"'\\' in a value", {"a=x\\y,c=3"}, BAD, 1, "c=3"},
    {"byte above 0x7e in a value", {"a=\xc3\xa9,c=3"}, BAD, 1, "c=3"},
    {"control byte in a value", {"a=\x01,c=3"}, BAD, 1, "c=3"},
    {"DEL in a value", {"a=\x7f,c=3"}, BAD, 1, "c=3"},
    {"trailing ';'", {"a=1;,c=3"}, BAD, 1, "c=3"},
    {"property with an empty key", {"a=1;=x,c=3"}, BAD, 1, "c=3"},
    {"property value with a space", {"a=1;p=x y,c=3"}, BAD, 1, "c=3"},
    {"two '=' separated by a space", {"a=1 =2,c=3"}, BAD, 1, "c=3"},
    {"newline is not white space", {"a=1\n,c=3"}, BAD, 1, "c=3"},
    {"every member malformed", {"a b=1, c d=2"}, BAD, 0, ""},
};

static const parse_case multi_values[] = {
    {"two values", {"a=1", "b=2"}, OK, 2, "a=1,b=2"},
    {"empty value between two", {"a=1", "", "b=2"}, OK, 2, "a=1,b=2"},
    {"values with dangling separators", {"a=1,", ",b=2", ","}, OK, 2, "a=1,b=2"},
    {"values are joined by a comma, not glued", {"a=1", "2"}, BAD, 1, "a=1"},
    {"a key is not continued in the next value", {"a", "b=1"}, BAD, 1, "b=1"},
    {"bad member in a later value keeps the others", {"a=1", "b c=2", "d=4"}, BAD, 2, "a=1,d=4"},
    {"duplicates across values are kept", {"k=1", "k=2;p"}, OK, 2, "k=1,k=2;p"},
};

static void test_baggage_accepts_valid_lists_in_canonical_form(void **state) {
  (void)state;
  run_parse_cases(valid_lists, RPCT__ARRAY_LEN(valid_lists));
}

static void test_baggage_skips_invalid_members_and_keeps_the_rest(void **state) {
  (void)state;
  run_parse_cases(invalid_members, RPCT__ARRAY_LEN(invalid_members));
}

static void test_baggage_parse_multi_combines_values_as_one_list(void **state) {
  (void)state;
  run_parse_cases(multi_values, RPCT__ARRAY_LEN(multi_values));
}

static void test_baggage_tables_have_enough_cases(void **state) {
  (void)state;
  assert_true(RPCT__ARRAY_LEN(valid_lists) + RPCT__ARRAY_LEN(invalid_members) +
                  RPCT__ARRAY_LEN(multi_values) >=
              25);
  /* The character sets are exactly the grammar's. */
  char all[128];
  size_t n = 0;
  for (int c = 0x21; c <= 0x7e; c++)
    if (c != '"' && c != ',' && c != ';' && c != '\\') all[n++] = (char)c;
  all[n] = '\0';
  assert_string_equal(ALLOCTET, all);
  assert_int_equal(strlen(ALLTCHAR), 15 + 10 + 26 + 26);
}

/* ---- limits ---- */

/* "k00=v,k01=v,...": `n` members of 5 characters, joined by ','. */
static size_t members(char *out, int first, int n) {
  size_t len = 0;
  for (int i = first; i < first + n; i++)
    len += (size_t)sprintf(out + len, "%sk%02d=v", len ? "," : "", i);
  return len;
}

static void test_baggage_keeps_64_members_and_drops_the_65th(void **state) {
  (void)state;
  static char in[1024], want[1024];
  size_t n64 = members(want, 0, 64);

  members(in, 0, 64);
  fill_stale(&bag);
  tu_expect_rc("64 members", rpct_baggage_parse(in, n64, &bag), OK);
  expect_bag("64 members", &bag, want, 64);

  size_t n65 = members(in, 0, 65);
  fill_stale(&bag);
  tu_expect_rc("65 members", rpct_baggage_parse(in, n65, &bag), LIMIT);
  expect_bag("65 members", &bag, want, 64);

  /* Across values: 40 + 30 members keep the first 64, in order. */
  static char a[512], b[512];
  const char *vals[2] = {a, b};
  size_t lens[2] = {members(a, 0, 40), members(b, 40, 30)};
  fill_stale(&bag);
  tu_expect_rc("40 + 30 members", rpct_baggage_parse_multi(vals, lens, 2, &bag), LIMIT);
  expect_bag("40 + 30 members", &bag, want, 64);

  /* Malformed and empty members do not count against the limit. */
  static char mixed[2048];
  size_t m = 0;
  for (int i = 0; i < 64; i++) m += (size_t)sprintf(mixed + m, "k%02d=v,bad key,,", i);
  fill_stale(&bag);
  tu_expect_rc("64 valid among 64 malformed", rpct_baggage_parse(mixed, m, &bag), BAD);
  expect_bag("64 valid among 64 malformed", &bag, want, 64);
}

/* "<key>=xxx...": a member of exactly `len` characters (len >= 3). */
static void member_of_len(char *out, const char *key, size_t len) {
  size_t kn = strlen(key);
  memcpy(out, key, kn);
  out[kn] = '=';
  memset(out + kn + 1, 'x', len - kn - 1);
  out[len] = '\0';
}

static void test_baggage_keeps_8192_bytes_and_drops_members_past_them(void **state) {
  (void)state;
  static char a[8200], b[8200], in[16500], want[16500];

  /* 4095 + ',' + 4096 = 8192: kept whole. */
  member_of_len(a, "a", 4095);
  member_of_len(b, "b", 4096);
  snprintf(in, sizeof in, "%s,%s", a, b);
  assert_int_equal(strlen(in), 8192);
  fill_stale(&bag);
  tu_expect_rc("8192 bytes", rpct_baggage_parse(in, strlen(in), &bag), OK);
  expect_bag("8192 bytes", &bag, in, 2);

  /* The limit is on the canonical text: white space that is removed does
   * not count. */
  snprintf(in, sizeof in, "  %s  ,\t%s\t", a, b);
  fill_stale(&bag);
  tu_expect_rc("8192 bytes after removing OWS", rpct_baggage_parse(in, strlen(in), &bag), OK);
  snprintf(want, sizeof want, "%s,%s", a, b);
  expect_bag("8192 bytes after removing OWS", &bag, want, 2);

  /* 8193: the last member goes, never a part of it. */
  member_of_len(b, "b", 4097);
  snprintf(in, sizeof in, "%s,%s", a, b);
  assert_int_equal(strlen(in), 8193);
  fill_stale(&bag);
  tu_expect_rc("8193 bytes", rpct_baggage_parse(in, strlen(in), &bag), LIMIT);
  expect_bag("8193 bytes", &bag, a, 1);

  /* One member of 8192 alone fits; of 8193 it leaves nothing. */
  member_of_len(a, "a", 8192);
  fill_stale(&bag);
  tu_expect_rc("one member of 8192", rpct_baggage_parse(a, 8192, &bag), OK);
  expect_bag("one member of 8192", &bag, a, 1);
  member_of_len(a, "a", 8193);
  fill_stale(&bag);
  tu_expect_rc("one member of 8193", rpct_baggage_parse(a, 8193, &bag), LIMIT);
  expect_bag("one member of 8193", &bag, "", 0);

  /* Dropping is from the end: once a member does not fit, the members
   * after it go too, even short ones, so what is kept is a prefix. */
  member_of_len(b, "big", 8190);
  snprintf(in, sizeof in, "a=1,%s,c=3", b);
  fill_stale(&bag);
  tu_expect_rc("too big in the middle", rpct_baggage_parse(in, strlen(in), &bag), LIMIT);
  expect_bag("too big in the middle", &bag, "a=1", 1);

  /* A malformed member with a dropped one: the parse error is reported. */
  snprintf(in, sizeof in, "a=1,x y=2,%s", b);
  fill_stale(&bag);
  tu_expect_rc("malformed and too big", rpct_baggage_parse(in, strlen(in), &bag), BAD);
  expect_bag("malformed and too big", &bag, "a=1", 1);
}

/* ---- parse: arguments and edge cases ---- */

static void test_baggage_rejects_null_arguments(void **state) {
  (void)state;
  const char *v = "a=1";
  size_t l = 3;
  const char *value = "x";
  size_t value_len = 9;

  assert_int_equal(rpct_baggage_parse("a=1", 3, NULL), RPCT_ERR_INVALID_ARGUMENT);
  fill_stale(&bag);
  assert_int_equal(rpct_baggage_parse(NULL, 0, &bag), RPCT_ERR_INVALID_ARGUMENT);
  expect_bag("parse(NULL)", &bag, "", 0);

  assert_int_equal(rpct_baggage_parse_multi(&v, &l, 1, NULL), RPCT_ERR_INVALID_ARGUMENT);
  fill_stale(&bag);
  assert_int_equal(rpct_baggage_parse_multi(NULL, &l, 1, &bag), RPCT_ERR_INVALID_ARGUMENT);
  expect_bag("parse_multi(NULL values)", &bag, "", 0);
  fill_stale(&bag);
  assert_int_equal(rpct_baggage_parse_multi(&v, NULL, 1, &bag), RPCT_ERR_INVALID_ARGUMENT);
  expect_bag("parse_multi(NULL lens)", &bag, "", 0);
  const char *with_null[2] = {"a=1", NULL};
  size_t lens2[2] = {3, 0};
  fill_stale(&bag);
  assert_int_equal(rpct_baggage_parse_multi(with_null, lens2, 2, &bag), RPCT_ERR_INVALID_ARGUMENT);
  expect_bag("parse_multi(NULL value)", &bag, "", 0);

  parse_str(&bag, "a=1");
  char buf[8];
  assert_int_equal(rpct_baggage_get(NULL, "a", &value, &value_len), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_get(&bag, NULL, &value, &value_len), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_get(&bag, "a", NULL, &value_len), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_get(&bag, "a", &value, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_set(NULL, "a", "1"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_set(&bag, NULL, "1"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_set(&bag, "a", NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_format(NULL, buf, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_baggage_format(&bag, NULL, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  expect_bag("after NULL arguments", &bag, "a=1", 1);
}

static void test_baggage_parse_multi_of_no_values_is_empty(void **state) {
  (void)state;
  fill_stale(&bag);
  assert_int_equal(rpct_baggage_parse_multi(NULL, NULL, 0, &bag), RPCT_OK);
  expect_bag("no values", &bag, "", 0);
}

static void test_baggage_parse_reads_only_len_bytes(void **state) {
  (void)state;
  fill_stale(&bag);
  /* The bytes after len would be a malformed member. */
  assert_int_equal(rpct_baggage_parse("a=1,b=2,x y", 7, &bag), RPCT_OK);
  expect_bag("prefix", &bag, "a=1,b=2", 2);
}

static void test_baggage_parse_accepts_its_own_buffer(void **state) {
  (void)state;
  parse_str(&bag, "a=1,b=2,c=3");
  assert_int_equal(rpct_baggage_parse(bag.buf + 4, bag.len - 4u, &bag), RPCT_OK);
  expect_bag("own buffer", &bag, "b=2,c=3", 2);
  /* Canonicalising in place, where the output is shorter than the input. */
  memset(&bag, 0, sizeof bag);
  memcpy(bag.buf, " a = 1 , b = 2 ", 15);
  assert_int_equal(rpct_baggage_parse(bag.buf, 15, &bag), RPCT_OK);
  expect_bag("own buffer, canonicalised", &bag, "a=1,b=2", 2);
}

static void test_baggage_zero_filled_is_empty(void **state) {
  (void)state;
  memset(&bag, 0, sizeof bag);
  const char *v;
  size_t vl;
  char buf[4];
  assert_int_equal(rpct_baggage_get(&bag, "a", &v, &vl), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_baggage_format(&bag, buf, 1), 0);
  assert_string_equal(buf, "");
  assert_int_equal(rpct_baggage_set(&bag, "a", "1"), RPCT_OK);
  expect_bag("set on zero-filled", &bag, "a=1", 1);
}

/* ---- get ---- */

typedef struct get_case {
  const char *name;
  const char *baggage;
  const char *key;
  int rc;
  const char *value; /* when found */
} get_case;

static const get_case get_cases[] = {
    {"single member", "k=v", "k", OK, "v"},
    {"second member", "a=1,k=v", "k", OK, "v"},
    {"first of duplicates", "k=1,k=2", "k", OK, "1"},
    {"properties are not part of the value", "k=v;p=1;flag", "k", OK, "v"},
    {"empty value is found", "a=1,k=,b=2", "k", OK, ""},
    {"value is returned still percent-encoded", "k=a%20b", "k", OK, "a%20b"},
    {"value holding '='", "k=a=b", "k", OK, "a=b"},
    {"absent key", "a=1,b=2", "c", RPCT_ERR_NOT_FOUND, NULL},
    {"prefix of a key does not match", "key=1", "k", RPCT_ERR_NOT_FOUND, NULL},
    {"longer key does not match", "k=1", "key", RPCT_ERR_NOT_FOUND, NULL},
    {"case matters", "K=1", "k", RPCT_ERR_NOT_FOUND, NULL},
    {"property keys are not members", "a=1;p=2", "p", RPCT_ERR_NOT_FOUND, NULL},
    {"empty key", "a=1", "", RPCT_ERR_NOT_FOUND, NULL},
    {"key spanning '='", "a=1", "a=1", RPCT_ERR_NOT_FOUND, NULL},
};

static void test_baggage_get_finds_the_first_exact_key(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(get_cases); i++) {
    const get_case *c = &get_cases[i];
    parse_str(&bag, c->baggage);
    const char *v = "stale";
    size_t vl = 99;
    tu_expect_rc(c->name, rpct_baggage_get(&bag, c->key, &v, &vl), c->rc);
    if (c->rc != OK) {
      assert_null(v);
      assert_int_equal(vl, 0);
      continue;
    }
    assert_true(v >= bag.buf && v + vl <= bag.buf + bag.len); /* points into the baggage */
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
  const char *after;
} set_case;

static const set_case set_cases[] = {
    {"append to empty", "", "k", "v", OK, 1, "k=v"},
    {"append at the end", "a=1,b=2", "k", "v", OK, 3, "a=1,b=2,k=v"},
    {"replace in place", "a=1,k=old,b=2", "k", "new", OK, 3, "a=1,k=new,b=2"},
    {"replace drops the old properties", "k=old;p=1;flag,b=2", "k", "new", OK, 2, "k=new,b=2"},
    {"replace the first, remove later duplicates", "k=1,a=2,k=3,k=4", "k", "x", OK, 2, "k=x,a=2"},
    {"empty value", "a=1", "k", "", OK, 2, "a=1,k="},
    {"space is percent-encoded", "", "k", "a b", OK, 1, "k=a%20b"},
    {"'%' is percent-encoded", "", "k", "100%", OK, 1, "k=100%25"},
    {"delimiters are percent-encoded", "", "k", "\",;\\", OK, 1, "k=%22%2C%3B%5C"},
    {"UTF-8 is percent-encoded byte by byte", "", "k", "caf\xc3\xa9", OK, 1, "k=caf%C3%A9"},
    {"control bytes are percent-encoded", "", "k", "\x01\t\x7f", OK, 1, "k=%01%09%7F"},
    {"baggage-octets are kept", "", "k", ALLOCTET "x", OK, 1,
     "k=!#$%25&'()*+-./0123456789:<=>?@"
     "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~x"},
    {"every token character in a key", "a=1", ALLTCHAR, "v", OK, 2, "a=1," ALLTCHAR "=v"},
    {"key with a space is refused", "a=1", "b c", "v", BAD, 1, "a=1"},
    {"key with '=' is refused", "a=1", "b=c", "v", BAD, 1, "a=1"},
    {"empty key is refused", "a=1", "", "v", BAD, 1, "a=1"},
    {"non-ASCII key is refused", "a=1", "caf\xc3\xa9", "v", BAD, 1, "a=1"},
};

static void test_baggage_set_replaces_or_appends_and_encodes(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(set_cases); i++) {
    const set_case *c = &set_cases[i];
    memset(&bag, 0, sizeof bag);
    if (c->initial[0]) parse_str(&bag, c->initial);
    tu_expect_rc(c->name, rpct_baggage_set(&bag, c->key, c->value), c->rc);
    expect_bag(c->name, &bag, c->after, c->count);
    /* What set writes, parse accepts unchanged. */
    char buf[256];
    int n = rpct_baggage_format(&bag, buf, sizeof buf);
    assert_true(n >= 0);
    memset(&bag2, 0, sizeof bag2);
    tu_expect_rc(c->name, rpct_baggage_parse(buf, (size_t)n, &bag2), OK);
    expect_bag(c->name, &bag2, c->after, c->count);
  }
}

static void test_baggage_set_refuses_to_exceed_the_limits(void **state) {
  (void)state;
  static char in[1024], want[1024];
  size_t n = members(in, 0, 64);
  parse_str(&bag, in);
  memcpy(want, in, n + 1);

  /* A 65th member is refused; replacing one of the 64 is not. */
  tu_expect_rc("65th member", rpct_baggage_set(&bag, "k64", "v"), LIMIT);
  expect_bag("65th member", &bag, want, 64);
  tu_expect_rc("replace at 64", rpct_baggage_set(&bag, "k10", "w"), OK);
  want[10 * 6 + 4] = 'w';
  expect_bag("replace at 64", &bag, want, 64);

  /* Bytes: a value that would take the total past 8192, before or after
   * its encoding. */
  static char big[8200];
  memset(big, 'x', 8190);
  big[8190] = '\0';
  parse_str(&bag, "a=1");
  tu_expect_rc("3 + 1 + 8192 bytes", rpct_baggage_set(&bag, "b", big), LIMIT);
  expect_bag("3 + 1 + 8192 bytes", &bag, "a=1", 1);
  memset(&bag, 0, sizeof bag);
  tu_expect_rc("exactly 8192 bytes", rpct_baggage_set(&bag, "b", big), OK);
  assert_int_equal(bag.len, 8192);
  memset(big, ' ', 2731); /* 2731 * 3 encoded bytes: over 8192 */
  big[2731] = '\0';
  memset(&bag2, 0, sizeof bag2);
  tu_expect_rc("too long once encoded", rpct_baggage_set(&bag2, "b", big), LIMIT);
  memset(big, ' ', 2730); /* "b=" + 8190 */
  big[2730] = '\0';
  memset(&bag2, 0, sizeof bag2);
  tu_expect_rc("8192 once encoded", rpct_baggage_set(&bag2, "b", big), OK);
  assert_int_equal(bag2.len, 8192);
}

/* ---- format ---- */

static void test_baggage_format_copies_the_canonical_text(void **state) {
  (void)state;
  parse_str(&bag, " a = 1 ; p , b=2");
  char buf[16];
  memset(buf, 'x', sizeof buf);
  assert_int_equal(rpct_baggage_format(&bag, buf, sizeof buf), 9);
  assert_string_equal(buf, "a=1;p,b=2");
  assert_int_equal(rpct_baggage_format(&bag, buf, 10), 9);
  assert_int_equal(rpct_baggage_format(&bag, buf, 9), RPCT_ERR_NO_SPACE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_baggage_tables_have_enough_cases),
      cmocka_unit_test(test_baggage_accepts_valid_lists_in_canonical_form),
      cmocka_unit_test(test_baggage_skips_invalid_members_and_keeps_the_rest),
      cmocka_unit_test(test_baggage_parse_multi_combines_values_as_one_list),
      cmocka_unit_test(test_baggage_keeps_64_members_and_drops_the_65th),
      cmocka_unit_test(test_baggage_keeps_8192_bytes_and_drops_members_past_them),
      cmocka_unit_test(test_baggage_rejects_null_arguments),
      cmocka_unit_test(test_baggage_parse_multi_of_no_values_is_empty),
      cmocka_unit_test(test_baggage_parse_reads_only_len_bytes),
      cmocka_unit_test(test_baggage_parse_accepts_its_own_buffer),
      cmocka_unit_test(test_baggage_zero_filled_is_empty),
      cmocka_unit_test(test_baggage_get_finds_the_first_exact_key),
      cmocka_unit_test(test_baggage_set_replaces_or_appends_and_encodes),
      cmocka_unit_test(test_baggage_set_refuses_to_exceed_the_limits),
      cmocka_unit_test(test_baggage_format_copies_the_canonical_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
