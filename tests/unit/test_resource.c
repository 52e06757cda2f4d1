/* resource.c: the attribute store and the resource built from OTEL_* variables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test_util.h"

#define ATTRS_VAR "OTEL_RESOURCE_ATTRIBUTES"
#define SERVICE_VAR "OTEL_SERVICE_NAME"

/* "unknown_service:" + the base name of this test program, set by main(). */
static char unknown_service[512];

static int setup(void **state) {
  (void)state;
  unsetenv(ATTRS_VAR);
  unsetenv(SERVICE_VAR);
  tu_diag_begin();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_diag_end();
  unsetenv(ATTRS_VAR);
  unsetenv(SERVICE_VAR);
  return 0;
}

/* ---- helpers ---- */

typedef struct kv {
  const char *key;
  const char *value;
} kv;

/* `r` holds exactly `n` attributes, equal to `want` in order. */
static void assert_attrs(const rpct_resource *r, const kv *want, size_t n) {
  assert_int_equal(rpct_resource_count(r), n);
  for (size_t i = 0; i < n; i++) {
    const char *k = NULL, *v = NULL;
    assert_int_equal(rpct_resource_at(r, i, &k, &v), RPCT_OK);
    assert_string_equal(k, want[i].key);
    assert_string_equal(v, want[i].value);
    assert_string_equal(rpct_resource_get(r, want[i].key), want[i].value);
  }
}

static rpct_resource *from_env(void) {
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_from_env(&r, NULL), RPCT_OK);
  assert_non_null(r);
  return r;
}

/* clang-format off */
#define SDK_ATTRS                          \
  {"telemetry.sdk.name", "rpctrace"},      \
  {"telemetry.sdk.language", "c"},         \
  {"telemetry.sdk.version", RPCT_VERSION_STRING}
/* clang-format on */

/* The resource with no OTEL_* variable: the SDK's and unknown_service. */
static void assert_default_attrs(const rpct_resource *r) {
  const kv want[] = {SDK_ATTRS, {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
}

/* ---- the attribute store ---- */

static void test_resource_new_is_empty(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_non_null(r);
  assert_int_equal(rpct_resource_count(r), 0);
  assert_null(rpct_resource_get(r, "service.name"));
  const char *k = "untouched", *v = "untouched";
  assert_int_equal(rpct_resource_at(r, 0, &k, &v), RPCT_ERR_NOT_FOUND);
  assert_string_equal(k, "untouched");
  assert_string_equal(v, "untouched");
  rpct_resource_del(r);
}

static void test_resource_new_rejects_bad_arguments_leaving_out_untouched(void **state) {
  (void)state;
  assert_int_equal(rpct_resource_new(NULL, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_resource_from_env(NULL, NULL), RPCT_ERR_INVALID_ARGUMENT);
  rpct_resource *sentinel = (rpct_resource *)&sentinel;
  rpct_resource *r = sentinel;
  const rpct_allocator no_alloc_fn = {.alloc = NULL, .free = tu_free_fn, .data = NULL};
  assert_int_equal(rpct_resource_new(&r, &no_alloc_fn), RPCT_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(r, sentinel);
}

static void test_resource_set_appends_in_insertion_order(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "c", "3"), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "a", "1"), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "b", "2"), RPCT_OK);
  const kv want[] = {{"c", "3"}, {"a", "1"}, {"b", "2"}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_resource_set_replaces_an_existing_value_in_place(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "a", "1"), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "b", "2"), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "c", "3"), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "b", "twenty"), RPCT_OK);
  const kv want[] = {{"a", "1"}, {"b", "twenty"}, {"c", "3"}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_resource_set_copies_key_and_value(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  char key[] = "host.name", value[] = "alpha";
  assert_int_equal(rpct_resource_set(r, key, value), RPCT_OK);
  key[0] = 'X';
  value[0] = 'X';
  assert_string_equal(rpct_resource_get(r, "host.name"), "alpha");
  assert_null(rpct_resource_get(r, key));
  assert_null(rpct_resource_get(r, value));
  rpct_resource_del(r);
}

static void test_resource_set_accepts_an_empty_value(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "k", ""), RPCT_OK);
  assert_string_equal(rpct_resource_get(r, "k"), "");
  rpct_resource_del(r);
}

static void test_resource_set_rejects_empty_or_null_arguments(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "", "v"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_resource_set(r, NULL, "v"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_resource_set(r, "k", NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_resource_set(NULL, "k", "v"), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_resource_count(r), 0);
  rpct_resource_del(r);
}

static void test_resource_get_of_a_missing_key_is_null(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "service.name", "svc"), RPCT_OK);
  assert_null(rpct_resource_get(r, "service"));        /* a prefix */
  assert_null(rpct_resource_get(r, "service.name.x")); /* an extension */
  assert_null(rpct_resource_get(r, "Service.name"));   /* keys are case-sensitive */
  assert_null(rpct_resource_get(r, NULL));
  assert_null(rpct_resource_get(NULL, "service.name"));
  rpct_resource_del(r);
}

static void test_resource_at_out_of_range_is_not_found(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(r, "a", "1"), RPCT_OK);
  const char *k = "untouched", *v = "untouched";
  assert_int_equal(rpct_resource_at(r, 1, &k, &v), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_resource_at(r, SIZE_MAX, &k, &v), RPCT_ERR_NOT_FOUND);
  assert_string_equal(k, "untouched");
  assert_string_equal(v, "untouched");
  assert_int_equal(rpct_resource_at(NULL, 0, &k, &v), RPCT_ERR_INVALID_ARGUMENT);
  /* Either output may be skipped. */
  assert_int_equal(rpct_resource_at(r, 0, NULL, &v), RPCT_OK);
  assert_string_equal(v, "1");
  assert_int_equal(rpct_resource_at(r, 0, &k, NULL), RPCT_OK);
  assert_string_equal(k, "a");
  rpct_resource_del(r);
}

static void test_resource_keeps_order_while_growing(void **state) {
  (void)state;
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_new(&r, NULL), RPCT_OK);
  char key[16], value[16];
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "k%d", i);
    snprintf(value, sizeof value, "v%d", i);
    assert_int_equal(rpct_resource_set(r, key, value), RPCT_OK);
  }
  assert_int_equal(rpct_resource_count(r), 100);
  for (int i = 0; i < 100; i++) {
    const char *k, *v;
    assert_int_equal(rpct_resource_at(r, (size_t)i, &k, &v), RPCT_OK);
    snprintf(key, sizeof key, "k%d", i);
    snprintf(value, sizeof value, "v%d", i);
    assert_string_equal(k, key);
    assert_string_equal(v, value);
  }
  rpct_resource_del(r);
}

static void test_resource_null_is_accepted_by_count_and_del(void **state) {
  (void)state;
  assert_int_equal(rpct_resource_count(NULL), 0);
  rpct_resource_del(NULL);
}

/* ---- rpct_resource_from_env ---- */

static void test_from_env_without_variables_has_sdk_attributes_and_unknown_service(void **state) {
  (void)state;
  rpct_resource *r = from_env();
  assert_default_attrs(r);
  assert_int_equal(tu_diag_count, 0);
  rpct_resource_del(r);
}

static void test_from_env_takes_service_name_from_otel_service_name_trimmed(void **state) {
  (void)state;
  setenv(SERVICE_VAR, " \tcheckout \t", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS, {"service.name", "checkout"}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_from_env_otel_service_name_wins_over_resource_attributes(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "service.name=from-attributes,deployment.environment=prod", 1);
  setenv(SERVICE_VAR, "checkout", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS, {"service.name", "checkout"}, {"deployment.environment", "prod"}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_from_env_takes_service_name_from_resource_attributes(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "service.name=billing", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS, {"service.name", "billing"}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_from_env_ignores_a_blank_otel_service_name(void **state) {
  (void)state;
  setenv(SERVICE_VAR, " \t ", 1);
  setenv(ATTRS_VAR, "service.name=billing", 1);
  rpct_resource *r = from_env();
  assert_string_equal(rpct_resource_get(r, "service.name"), "billing");
  rpct_resource_del(r);

  unsetenv(ATTRS_VAR);
  r = from_env();
  assert_default_attrs(r);
  rpct_resource_del(r);
}

static void test_from_env_empty_service_name_attribute_falls_back_to_unknown_service(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "service.name=", 1);
  rpct_resource *r = from_env();
  assert_default_attrs(r);
  rpct_resource_del(r);
}

static void test_from_env_percent_decodes_keys_and_values(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "k=a%2Cb%3Dc,my%20key=%c3%A9t%C3%a9,p=100%25,s=%20x%20", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS,
                     {"k", "a,b=c"},
                     {"my key", "\xc3\xa9t\xc3\xa9"},
                     {"p", "100%"},
                     {"s", " x "}, /* encoded spaces are not trimmed */
                     {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  assert_int_equal(tu_diag_count, 0);
  rpct_resource_del(r);
}

static void test_from_env_trims_spaces_and_tabs_around_keys_and_values(void **state) {
  (void)state;
  setenv(ATTRS_VAR, " k1 = v1 ,\tk2\t=\tv2\t, k3 = a b ", 1);
  rpct_resource *r = from_env();
  const kv want[] = {
      SDK_ATTRS, {"k1", "v1"}, {"k2", "v2"}, {"k3", "a b"}, {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_from_env_skips_empty_members(void **state) {
  (void)state;
  setenv(ATTRS_VAR, ",,a=1,, ,\t,b=2,", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS, {"a", "1"}, {"b", "2"}, {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  assert_int_equal(tu_diag_count, 0);
  rpct_resource_del(r);
}

static void test_from_env_with_only_empty_members_adds_nothing(void **state) {
  (void)state;
  setenv(ATTRS_VAR, " , ,,\t", 1);
  rpct_resource *r = from_env();
  assert_default_attrs(r);
  assert_int_equal(tu_diag_count, 0);
  rpct_resource_del(r);
}

static void test_from_env_later_duplicate_key_wins(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "k=1,j=x,k=2", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS, {"k", "2"}, {"j", "x"}, {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_from_env_value_may_be_empty_or_contain_equals(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "a=,b = x=y", 1);
  rpct_resource *r = from_env();
  const kv want[] = {SDK_ATTRS, {"a", ""}, {"b", "x=y"}, {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

static void test_from_env_resource_attributes_override_sdk_defaults(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "telemetry.sdk.language=cpp", 1);
  rpct_resource *r = from_env();
  const kv want[] = {{"telemetry.sdk.name", "rpctrace"},
                     {"telemetry.sdk.language", "cpp"},
                     {"telemetry.sdk.version", RPCT_VERSION_STRING},
                     {"service.name", unknown_service}};
  assert_attrs(r, want, RPCT__ARRAY_LEN(want));
  rpct_resource_del(r);
}

typedef struct malformed_case {
  const char *value;
  const char *message;
  const char *hidden; /* text of the value that must not be shown, or NULL */
} malformed_case;

#define IGNORED "; the whole variable is ignored"
#define NO_EQUALS " has no '=' (expected key=value)" IGNORED
#define EMPTY_KEY " has an empty key" IGNORED
#define BAD_ESCAPE " has a '%' not followed by two hex digits" IGNORED

/* A bad member is named by its position among the non-empty members and
 * by its key, never by its value: values are passwords and tokens often
 * enough, and a member without '=' may be nothing but one. */
static const malformed_case malformed_cases[] = {
    {"novalue", ATTRS_VAR " member 1" NO_EQUALS, "novalue"},
    {"=v", ATTRS_VAR " member 1" EMPTY_KEY, NULL},
    {" \t= v ", ATTRS_VAR " member 1" EMPTY_KEY, NULL},
    {"k=%zz", ATTRS_VAR " member 1 (key \"k\")" BAD_ESCAPE, "%zz"},
    {"k=%4", ATTRS_VAR " member 1 (key \"k\")" BAD_ESCAPE, "%4"},
    {"k=%", ATTRS_VAR " member 1 (key \"k\")" BAD_ESCAPE, NULL},
    {"k=%4g", ATTRS_VAR " member 1 (key \"k\")" BAD_ESCAPE, "%4g"},
    {"k%g1=v", ATTRS_VAR " member 1 (key \"k%g1\")" BAD_ESCAPE, NULL},
    {"k=%00", ATTRS_VAR " member 1 (key \"k\") encodes a NUL byte (%00)" IGNORED, NULL},
    /* One bad member discards the good ones around it. */
    {"a=1,novalue,b=2", ATTRS_VAR " member 2" NO_EQUALS, "novalue"},
    {"a=1, b=%4 ", ATTRS_VAR " member 2 (key \"b\")" BAD_ESCAPE, "%4"},
    {"service.name=svc,=x", ATTRS_VAR " member 2" EMPTY_KEY, NULL},
    /* The first bad member is the one named; empty members do not count. */
    {"a=1,x,=y", ATTRS_VAR " member 2" NO_EQUALS, NULL},
    {",, a=1,,\t,x,=y", ATTRS_VAR " member 2" NO_EQUALS, NULL},
    {"say=\"hi\"\n,bad", ATTRS_VAR " member 2" NO_EQUALS, "bad"},
    {"k=\"%q\"", ATTRS_VAR " member 1 (key \"k\")" BAD_ESCAPE, "%q"},
    /* Secrets: the value is never shown, whatever is wrong. */
    {"service.name=api,db.password=hunter2%zz",
     ATTRS_VAR " member 2 (key \"db.password\")" BAD_ESCAPE, "hunter2"},
    {"Bearer s3cr3t-t0ken", ATTRS_VAR " member 1" NO_EQUALS, "s3cr3t"},
    {"a=1,token=s3cr3t\n%", ATTRS_VAR " member 2 (key \"token\")" BAD_ESCAPE, "s3cr3t"},
    /* The key is shown escaped: it cannot forge a line or reorder one. */
    {"k\x1b[2J\xe2\x80\xae=%", ATTRS_VAR " member 1 (key \"k\\x1b[2J\\u202e\")" BAD_ESCAPE, NULL},
};

static void test_from_env_discards_the_whole_variable_on_a_malformed_member(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(malformed_cases); i++) {
    const malformed_case *c = &malformed_cases[i];
    tu_diag_begin(); /* a fresh start for this case */
    setenv(ATTRS_VAR, c->value, 1);
    rpct_resource *r = from_env();
    if (rpct_resource_count(r) != 4)
      fail_msg("%s=\"%s\": %zu attributes, expected the 4 defaults", ATTRS_VAR, c->value,
               rpct_resource_count(r));
    assert_default_attrs(r);
    assert_int_equal(tu_diag_count, 1);
    assert_string_equal(tu_diag_last, c->message);
    if (c->hidden && strstr(tu_diag, c->hidden))
      fail_msg("case %zu: the message shows \"%s\" of the value: %s", i, c->hidden, tu_diag_last);
    rpct_resource_del(r);
  }
}

static void test_from_env_reports_malformed_attributes_once(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "novalue", 1);
  rpct_resource *r1 = from_env();
  rpct_resource *r2 = from_env();
  assert_int_equal(tu_diag_count, 1);
  assert_default_attrs(r1);
  assert_default_attrs(r2);
  rpct_resource_del(r1);
  rpct_resource_del(r2);
}

static void test_from_env_message_truncates_a_long_key(void **state) {
  (void)state;
  char value[210];
  memset(value, 'k', 200);
  memcpy(value + 200, "=%zz", 5);
  setenv(ATTRS_VAR, value, 1);
  rpct_resource *r = from_env();
  char expected[512];
  snprintf(expected, sizeof expected, ATTRS_VAR " member 1 (key \"%.64s...\")%s", value,
           BAD_ESCAPE);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last, expected);
  rpct_resource_del(r);
}

static void test_from_env_allocates_through_the_given_allocator(void **state) {
  (void)state;
  setenv(ATTRS_VAR, "a=1,b=2", 1);
  tu_alloc_state t = {.fail_at = -1};
  const rpct_allocator a = tu_allocator(&t);
  rpct_resource *r = NULL;
  assert_int_equal(rpct_resource_from_env(&r, &a), RPCT_OK);
  assert_true(t.live > 0);
  assert_string_equal(rpct_resource_get(r, "b"), "2");
  rpct_resource_del(r);
  assert_int_equal(t.live, 0);
}

/* Each environment from_env is walked under: every path that allocates. */
typedef struct env_setup {
  const char *attributes;   /* NULL: unset */
  const char *service_name; /* NULL: unset */
  const char *want_service;
} env_setup;

static void test_from_env_with_failing_allocator_never_leaks(void **state) {
  (void)state;
  static const env_setup setups[] = {
      {NULL, NULL, NULL},
      {"a=1,b=%41,c=3,d=4,e=5,f=6,g=7,h=8,i=9,a=10", NULL, NULL}, /* grows, replaces */
      {"service.name=billing,x=y", NULL, "billing"},
      {"service.name=billing,x=y", "checkout", "checkout"},
      {"novalue", "checkout", "checkout"},
  };
  for (size_t s = 0; s < RPCT__ARRAY_LEN(setups); s++) {
    const env_setup *e = &setups[s];
    if (e->attributes)
      setenv(ATTRS_VAR, e->attributes, 1);
    else
      unsetenv(ATTRS_VAR);
    if (e->service_name)
      setenv(SERVICE_VAR, e->service_name, 1);
    else
      unsetenv(SERVICE_VAR);

    long budget = 0; /* allocations that succeed */
    for (;; budget++) {
      assert_true(budget < 1000);
      tu_alloc_state t = {.fail_at = budget};
      const rpct_allocator a = tu_allocator(&t);
      rpct_resource *sentinel = (rpct_resource *)&t;
      rpct_resource *r = sentinel;
      int rc = rpct_resource_from_env(&r, &a);
      if (rc == RPCT_OK) {
        assert_ptr_not_equal(r, sentinel);
        assert_string_equal(rpct_resource_get(r, "service.name"),
                            e->want_service ? e->want_service : unknown_service);
        assert_string_equal(rpct_resource_get(r, "telemetry.sdk.name"), "rpctrace");
        rpct_resource_del(r);
        assert_int_equal(t.live, 0);
        break;
      }
      assert_int_equal(rc, RPCT_ERR_NO_MEMORY);
      assert_ptr_equal(r, sentinel);
      assert_int_equal(t.live, 0);
      assert_int_equal(t.calls, budget + 1); /* gave up at the first failure */
    }
    /* The resource, its array, 2 strings per attribute: at least 10. */
    assert_true(budget >= 10);
  }
}

static void test_set_with_failing_allocator_leaves_the_resource_unchanged(void **state) {
  (void)state;
  /* 8 attributes fill the first array, so a new key must grow it. */
  static const kv base[] = {{"k0", "v0"}, {"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"},
                            {"k4", "v4"}, {"k5", "v5"}, {"k6", "v6"}, {"k7", "v7"}};
  static const kv changes[] = {{"new", "value"}, {"k3", "replaced"}};
  for (size_t c = 0; c < RPCT__ARRAY_LEN(changes); c++) {
    long budget = 0; /* allocations the change may make */
    for (;; budget++) {
      assert_true(budget < 100);
      tu_alloc_state t = {.fail_at = -1};
      const rpct_allocator a = tu_allocator(&t);
      rpct_resource *r = NULL;
      assert_int_equal(rpct_resource_new(&r, &a), RPCT_OK);
      for (size_t i = 0; i < RPCT__ARRAY_LEN(base); i++)
        assert_int_equal(rpct_resource_set(r, base[i].key, base[i].value), RPCT_OK);
      long live_before = t.live;
      t.fail_at = t.calls + budget;
      int rc = rpct_resource_set(r, changes[c].key, changes[c].value);
      if (rc == RPCT_OK) {
        assert_string_equal(rpct_resource_get(r, changes[c].key), changes[c].value);
        rpct_resource_del(r);
        assert_int_equal(t.live, 0);
        break;
      }
      assert_int_equal(rc, RPCT_ERR_NO_MEMORY);
      assert_int_equal(t.live, live_before);
      assert_attrs(r, base, RPCT__ARRAY_LEN(base));
      rpct_resource_del(r);
      assert_int_equal(t.live, 0);
    }
    assert_true(budget >= 1);
  }
}

int main(int argc, char **argv) {
  (void)argc;
  const char *slash = strrchr(argv[0], '/');
  snprintf(unknown_service, sizeof unknown_service, "unknown_service:%s",
           slash ? slash + 1 : argv[0]);

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_resource_new_is_empty),
      T(test_resource_new_rejects_bad_arguments_leaving_out_untouched),
      T(test_resource_set_appends_in_insertion_order),
      T(test_resource_set_replaces_an_existing_value_in_place),
      T(test_resource_set_copies_key_and_value),
      T(test_resource_set_accepts_an_empty_value),
      T(test_resource_set_rejects_empty_or_null_arguments),
      T(test_resource_get_of_a_missing_key_is_null),
      T(test_resource_at_out_of_range_is_not_found),
      T(test_resource_keeps_order_while_growing),
      T(test_resource_null_is_accepted_by_count_and_del),
      T(test_from_env_without_variables_has_sdk_attributes_and_unknown_service),
      T(test_from_env_takes_service_name_from_otel_service_name_trimmed),
      T(test_from_env_otel_service_name_wins_over_resource_attributes),
      T(test_from_env_takes_service_name_from_resource_attributes),
      T(test_from_env_ignores_a_blank_otel_service_name),
      T(test_from_env_empty_service_name_attribute_falls_back_to_unknown_service),
      T(test_from_env_percent_decodes_keys_and_values),
      T(test_from_env_trims_spaces_and_tabs_around_keys_and_values),
      T(test_from_env_skips_empty_members),
      T(test_from_env_with_only_empty_members_adds_nothing),
      T(test_from_env_later_duplicate_key_wins),
      T(test_from_env_value_may_be_empty_or_contain_equals),
      T(test_from_env_resource_attributes_override_sdk_defaults),
      T(test_from_env_discards_the_whole_variable_on_a_malformed_member),
      T(test_from_env_reports_malformed_attributes_once),
      T(test_from_env_message_truncates_a_long_key),
      T(test_from_env_allocates_through_the_given_allocator),
      T(test_from_env_with_failing_allocator_never_leaks),
      T(test_set_with_failing_allocator_leaves_the_resource_unchanged),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
