/* Exporters and processors (src/export/): the exporter and processor
 * handles, the console and memory exporters, the simple processor, the
 * choice made from OTEL_TRACES_EXPORTER, and what the OTLP/gRPC exporter
 * accepts and shows of its configuration (headers, endpoint, RetryInfo). */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/exporter_internal.h"
#include "internal.h"
#include "test_util.h"

/* ---- hand-made span records ---- */

static rpct_str rec_str(rpct_span_data *d, const char *s) {
  size_t n = strlen(s);
  assert_true(d->strings_used + n + 1 <= sizeof d->strings);
  rpct_str r = {.off = d->strings_used, .len = (uint16_t)n};
  memcpy(d->strings + d->strings_used, s, n + 1);
  d->strings_used = (uint16_t)(d->strings_used + n + 1);
  return r;
}

static rpct_span_attr *rec_attr(rpct_span_data *d, const char *key, rpct_value_type type,
                                uint8_t owner) {
  assert_true(d->n_attrs < RPCT_SPAN_MAX_ATTRIBUTES);
  rpct_span_attr *a = &d->attrs[d->n_attrs++];
  a->key = rec_str(d, key);
  a->type = (uint8_t)type;
  a->owner = owner;
  return a;
}

static void rec_attr_str(rpct_span_data *d, const char *key, const char *value) {
  rpct_span_attr *a = rec_attr(d, key, RPCT_VALUE_STRING, RPCT_ATTR_OWNER_SPAN);
  a->v.s = rec_str(d, value);
}

static void rec_attr_int(rpct_span_data *d, const char *key, int64_t value) {
  rec_attr(d, key, RPCT_VALUE_INT, RPCT_ATTR_OWNER_SPAN)->v.i = value;
}

static void rec_attr_double(rpct_span_data *d, const char *key, double value) {
  rec_attr(d, key, RPCT_VALUE_DOUBLE, RPCT_ATTR_OWNER_SPAN)->v.d = value;
}

static void rec_attr_bool(rpct_span_data *d, const char *key, bool value) {
  rec_attr(d, key, RPCT_VALUE_BOOL, RPCT_ATTR_OWNER_SPAN)->v.b = value;
}

#define TRACE_HEX "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN_HEX "00f067aa0ba902b7"
#define PARENT_HEX "53ce929d0e0e4736"
#define START_NS UINT64_C(1700000000123456789)

/* A sampled root INTERNAL span named `name`, 2.5 ms long, status UNSET. */
static void rec_init(rpct_span_data *d, const char *name) {
  memset(d, 0, sizeof *d);
  assert_int_equal(rpct_trace_id_parse(TRACE_HEX, 32, &d->trace_id), RPCT_OK);
  assert_int_equal(rpct_span_id_parse(SPAN_HEX, 16, &d->span_id), RPCT_OK);
  d->flags = RPCT_TRACE_FLAG_SAMPLED;
  d->kind = RPCT_SPAN_KIND_INTERNAL;
  d->name = rec_str(d, name);
  d->start_unix_ns = START_NS;
  d->end_unix_ns = START_NS + 2500000;
}

static void rec_set_parent(rpct_span_data *d) {
  assert_int_equal(rpct_span_id_parse(PARENT_HEX, 16, &d->parent_span_id), RPCT_OK);
}

static const char *rec_name(const rpct_span_data *d) { return rpct_span_data_str(d, d->name); }

/* ---- console output captured from a temporary file ---- */

#define OUT_MAX 32768

static void console_output(const rpct_span_data *const *spans, size_t n, char *out) {
  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_console_exporter_new(&e, f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, spans, n), 0);
  rpct_exporter_del(e);
  rewind(f);
  size_t got = fread(out, 1, OUT_MAX - 1, f);
  out[got] = '\0';
  fclose(f);
}

static void console_line(const rpct_span_data *d, char *out) {
  const rpct_span_data *batch[1] = {d};
  console_output(batch, 1, out);
}

/* ---- diagnostics captured per test ---- */

static const char *const env_vars[] = {"OTEL_TRACES_EXPORTER",
                                       "OTEL_EXPORTER_OTLP_ENDPOINT",
                                       "OTEL_EXPORTER_OTLP_TIMEOUT",
                                       "OTEL_BSP_SCHEDULE_DELAY",
                                       "RPCTRACE_OTLP_FILE_PATH",
                                       "OTEL_EXPORTER_OTLP_HEADERS",
                                       "OTEL_EXPORTER_OTLP_TRACES_HEADERS"};

static int setup_diag(void **state) {
  (void)state;
  tu_diag_begin();
  for (size_t i = 0; i < RPCT__ARRAY_LEN(env_vars); i++) unsetenv(env_vars[i]);
  return 0;
}

static int teardown_diag(void **state) {
  (void)state;
  tu_diag_end();
  for (size_t i = 0; i < RPCT__ARRAY_LEN(env_vars); i++) unsetenv(env_vars[i]);
  return 0;
}

/* ---- a user exporter whose results the test scripts ---- */

typedef struct fake_exporter {
  int results[8]; /* returned by successive exports; 0 once used up */
  size_t n_results;
  size_t calls;
  size_t spans_seen;
  rpct_span_id last_span_id;
  int flushes;
  int shutdowns;
  uint32_t last_timeout_ms;
  int destroyed;
} fake_exporter;

static int fake_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  fake_exporter *f = impl;
  int r = f->calls < f->n_results ? f->results[f->calls] : 0;
  f->calls++;
  f->spans_seen += n;
  f->last_span_id = spans[n - 1]->span_id;
  return r;
}

static int fake_flush(void *impl, uint32_t timeout_ms) {
  fake_exporter *f = impl;
  f->flushes++;
  f->last_timeout_ms = timeout_ms;
  return RPCT_OK;
}

static int fake_shutdown(void *impl, uint32_t timeout_ms) {
  fake_exporter *f = impl;
  f->shutdowns++;
  f->last_timeout_ms = timeout_ms;
  return RPCT_OK;
}

static void fake_destroy(void *impl) { ((fake_exporter *)impl)->destroyed++; }

static const rpct_exporter_ops fake_ops = {
    .export_spans = fake_export,
    .force_flush = fake_flush,
    .shutdown = fake_shutdown,
    .destroy = fake_destroy,
};

static const rpct_exporter_ops export_only_ops = {.export_spans = fake_export};

/* ==== names ==== */

static void test_kind_and_status_names_follow_otlp(void **state) {
  (void)state;
  static const struct {
    int value;
    const char *name;
  } kinds[] = {
      {RPCT_SPAN_KIND_UNSPECIFIED, "UNSPECIFIED"},
      {RPCT_SPAN_KIND_INTERNAL, "INTERNAL"},
      {RPCT_SPAN_KIND_SERVER, "SERVER"},
      {RPCT_SPAN_KIND_CLIENT, "CLIENT"},
      {RPCT_SPAN_KIND_PRODUCER, "PRODUCER"},
      {RPCT_SPAN_KIND_CONSUMER, "CONSUMER"},
      {6, "UNSPECIFIED"},
      {-1, "UNSPECIFIED"},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(kinds); i++)
    assert_string_equal(rpct__span_kind_name(kinds[i].value), kinds[i].name);
  static const struct {
    int value;
    const char *name;
  } codes[] = {
      {RPCT_STATUS_UNSET, "UNSET"},
      {RPCT_STATUS_OK, "OK"},
      {RPCT_STATUS_ERROR, "ERROR"},
      {3, "UNSET"},
      {-1, "UNSET"},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(codes); i++)
    assert_string_equal(rpct__status_code_name(codes[i].value), codes[i].name);
}

/* ==== exporter handle ==== */

static void test_exporter_new_rejects_missing_ops_and_leaves_out(void **state) {
  (void)state;
  fake_exporter f = {0};
  rpct_exporter *sentinel = (rpct_exporter *)&f;
  rpct_exporter *e = sentinel;
  static const rpct_exporter_ops no_export = {.shutdown = fake_shutdown};
  assert_int_equal(rpct_exporter_new(NULL, &fake_ops, &f, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_exporter_new(&e, NULL, &f, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_exporter_new(&e, &no_export, &f, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(e, sentinel);
  assert_int_equal(f.destroyed, 0);
}

static void test_exporter_forwards_to_ops_and_destroys_impl(void **state) {
  (void)state;
  fake_exporter f = {.results = {0}, .n_results = 1};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &fake_ops, &f, NULL), RPCT_OK);
  assert_ptr_equal(rpct__exporter_ops(e), &fake_ops);
  assert_ptr_equal(rpct__exporter_impl(e), &f);

  rpct_span_data d;
  rec_init(&d, "a");
  const rpct_span_data *batch[1] = {&d};
  assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  assert_int_equal(f.calls, 1);
  assert_memory_equal(f.last_span_id.bytes, d.span_id.bytes, 8);
  /* An empty batch does not reach the exporter. */
  assert_int_equal(rpct_exporter_export(e, NULL, 0), 0);
  assert_int_equal(f.calls, 1);
  assert_int_equal(rpct_exporter_export(e, NULL, 1), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_exporter_export(NULL, batch, 1), RPCT_ERR_INVALID_ARGUMENT);

  assert_int_equal(rpct_exporter_force_flush(e, 123), RPCT_OK);
  assert_int_equal(f.flushes, 1);
  assert_int_equal(f.last_timeout_ms, 123);
  assert_int_equal(rpct_exporter_shutdown(e, 456), RPCT_OK);
  assert_int_equal(f.shutdowns, 1);
  assert_int_equal(f.last_timeout_ms, 456);
  assert_int_equal(rpct_exporter_force_flush(NULL, 0), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_exporter_shutdown(NULL, 0), RPCT_ERR_INVALID_ARGUMENT);

  rpct_exporter_del(e);
  assert_int_equal(f.destroyed, 1);
  rpct_exporter_del(NULL);
}

static void test_exporter_without_optional_ops_flushes_and_shuts_down_ok(void **state) {
  (void)state;
  fake_exporter f = {0};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &export_only_ops, &f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_force_flush(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  rpct_exporter_del(e);
  assert_int_equal(f.destroyed, 0);
}

static void test_exporter_export_clamps_rejected_to_batch_size(void **state) {
  (void)state;
  fake_exporter f = {.results = {2, 1, RPCT_ERR_EXPORT}, .n_results = 3};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &fake_ops, &f, NULL), RPCT_OK);
  rpct_span_data a, b;
  rec_init(&a, "a");
  rec_init(&b, "b");
  const rpct_span_data *one[1] = {&a};
  const rpct_span_data *two[2] = {&a, &b};
  assert_int_equal(rpct_exporter_export(e, one, 1), 1);
  assert_int_equal(rpct_exporter_export(e, two, 2), 1);
  assert_int_equal(rpct_exporter_export(e, two, 2), RPCT_ERR_EXPORT);
  rpct_exporter_del(e);
}

/* ==== console exporter ==== */

static void test_console_prints_client_span_with_parent_error_and_attributes(void **state) {
  (void)state;
  rpct_resource *res = NULL;
  assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(res, "service.name", "checkout"), RPCT_OK);

  rpct_span_data d;
  rec_init(&d, "shop.Cart/Add");
  rec_set_parent(&d);
  d.kind = RPCT_SPAN_KIND_CLIENT;
  d.resource = res;
  d.status_code = RPCT_STATUS_ERROR;
  d.status_message = rec_str(&d, "stock \"low\"");
  rec_attr_str(&d, "rpc.system", "grpc");
  rec_attr_int(&d, "rpc.grpc.status_code", 14);
  rec_attr_int(&d, "delta", -42);
  rec_attr_double(&d, "ratio", 0.25);
  rec_attr_bool(&d, "retry", true);
  rec_attr_bool(&d, "cached", false);
  /* Attributes of events and links are not the span's: not printed. */
  rec_attr(&d, "event.key", RPCT_VALUE_INT, RPCT_ATTR_OWNER_EVENT(0))->v.i = 1;
  rec_attr(&d, "link.key", RPCT_VALUE_INT, RPCT_ATTR_OWNER_LINK(0))->v.i = 2;
  d.n_events = 1;
  d.events[0].name = rec_str(&d, "retry");
  d.n_links = 1;

  char out[OUT_MAX];
  console_line(&d, out);
  assert_string_equal(out, "checkout shop.Cart/Add kind=CLIENT trace_id=" TRACE_HEX
                           " span_id=" SPAN_HEX " parent_id=" PARENT_HEX
                           " start=1700000000123456789 duration_us=2500"
                           " status=ERROR(\"stock \\\"low\\\"\")"
                           " {rpc.system=\"grpc\", rpc.grpc.status_code=14, delta=-42, ratio=0.25,"
                           " retry=true, cached=false} events=1 links=1\n");
  rpct_resource_del(res);
}

static void test_console_prints_root_span_with_dash_parent_and_service(void **state) {
  (void)state;
  rpct_span_data d;
  rec_init(&d, "pkg.Svc/Get");
  d.kind = RPCT_SPAN_KIND_SERVER;
  d.status_code = RPCT_STATUS_OK;
  d.end_unix_ns = d.start_unix_ns + 999; /* under a microsecond */
  d.n_links = 2;

  char out[OUT_MAX];
  console_line(&d, out);
  assert_string_equal(out, "- pkg.Svc/Get kind=SERVER trace_id=" TRACE_HEX " span_id=" SPAN_HEX
                           " parent_id=- start=1700000000123456789 duration_us=0 status=OK"
                           " links=2\n");
}

static void test_console_prints_dash_for_resource_without_service_name(void **state) {
  (void)state;
  rpct_resource *res = NULL;
  assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(res, "host.name", "box"), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "work");
  d.resource = res;
  char out[OUT_MAX];
  console_line(&d, out);
  assert_string_equal(out, "- work kind=INTERNAL trace_id=" TRACE_HEX " span_id=" SPAN_HEX
                           " parent_id=- start=1700000000123456789 duration_us=2500"
                           " status=UNSET\n");
  rpct_resource_del(res);
}

static void test_console_omits_message_unless_error_with_text(void **state) {
  (void)state;
  static const struct {
    uint8_t code;
    const char *message;
    const char *status;
  } cases[] = {
      {RPCT_STATUS_ERROR, "", " status=ERROR\n"},
      {RPCT_STATUS_OK, "ignored", " status=OK\n"},
      {RPCT_STATUS_UNSET, "ignored", " status=UNSET\n"},
      {RPCT_STATUS_ERROR, "boom", " status=ERROR(\"boom\")\n"},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    rpct_span_data d;
    rec_init(&d, "s");
    d.status_code = cases[i].code;
    d.status_message = rec_str(&d, cases[i].message);
    char out[OUT_MAX], want[512];
    console_line(&d, out);
    snprintf(want, sizeof want,
             "- s kind=INTERNAL trace_id=" TRACE_HEX " span_id=" SPAN_HEX
             " parent_id=- start=1700000000123456789 duration_us=2500%s",
             cases[i].status);
    assert_string_equal(out, want);
  }
}

static void test_console_escapes_strings_and_control_characters(void **state) {
  (void)state;
  rpct_span_data d;
  rec_init(&d, "bad\nname");
  d.end_unix_ns = d.start_unix_ns - 1; /* clock stepped back: duration 0 */
  rec_attr_str(&d, "msg",
               "a\"b\\c\nd\te\x01"
               "f\x7f"
               "g\xc3\xa9");
  rec_attr_str(&d, "k\tey", "");

  char out[OUT_MAX];
  console_line(&d, out);
  assert_string_equal(out, "- bad\\nname kind=INTERNAL trace_id=" TRACE_HEX " span_id=" SPAN_HEX
                           " parent_id=- start=1700000000123456789 duration_us=0 status=UNSET"
                           " {msg=\"a\\\"b\\\\c\\nd\\te\\x01f\\x7fg\xc3\xa9\", k\\tey=\"\"}\n");
}

/* C1 controls act as escape sequences, bidi controls reorder what follows
 * them on screen, and a byte that is not UTF-8 may be either to a
 * terminal: each is shown escaped, by code point or byte, in names,
 * services and values alike; other characters pass as they are. */
static void test_console_escapes_bidi_c1_and_invalid_bytes(void **state) {
  (void)state;
  static const struct {
    const char *raw, *shown;
  } cases[] = {
      {"a\xe2\x80\xaez", "a\\u202ez"}, /* RLO */
      {"\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "\\u202a\\u202b\\u202c\\u202d"},
      {"\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "\\u2066\\u2067\\u2068\\u2069"},
      {"\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c"},        /* LRM RLM ALM */
      {"\xc2\x80\xc2\x85\xc2\x9b\xc2\x9f", "\\u0080\\u0085\\u009b\\u009f"}, /* C1 */
      {"\x9b[2J\xff", "\\x9b[2J\\xff"},                                     /* not UTF-8 */
      {"\xe2\x80", "\\xe2\\x80"},                                           /* cut short */
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},                                  /* a surrogate */
      {"\xc0\xaf", "\\xc0\\xaf"},                                           /* overlong */
      /* Neighbours of the ranges are ordinary characters. */
      {"\xc2\xa0\xe2\x80\x8d\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xf0\x9f\x98\x80",
       "\xc2\xa0\xe2\x80\x8d\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xf0\x9f\x98\x80"},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    rpct_span_data d;
    rec_init(&d, cases[i].raw);
    rec_attr_str(&d, "v", cases[i].raw);
    rpct_resource *res = NULL;
    assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
    assert_int_equal(rpct_resource_set(res, "service.name", cases[i].raw), RPCT_OK);
    d.resource = res;
    char out[OUT_MAX], want[1024];
    console_line(&d, out);
    snprintf(want, sizeof want,
             "%s %s kind=INTERNAL trace_id=" TRACE_HEX " span_id=" SPAN_HEX
             " parent_id=- start=1700000000123456789 duration_us=2500 status=UNSET {v=\"%s\"}\n",
             cases[i].shown, cases[i].shown, cases[i].shown);
    if (strcmp(out, want) != 0) fail_msg("case %zu:\n got %s want %s", i, out, want);
    rpct_resource_del(res);
  }
}

static void test_console_truncates_overlong_line_with_ellipsis(void **state) {
  (void)state;
  rpct_span_data d, short_span;
  rec_init(&d, "long");
  char value[1800];
  memset(value, '\x01', sizeof value - 1);
  value[sizeof value - 1] = '\0';
  rec_attr_str(&d, "blob", value); /* 1799 bytes escaped to 7196 */
  rec_init(&short_span, "next");
  const rpct_span_data *batch[2] = {&d, &short_span};

  char out[OUT_MAX];
  console_output(batch, 2, out);
  char *nl = strchr(out, '\n');
  assert_non_null(nl);
  size_t first_len = (size_t)(nl - out) + 1;
  assert_true(first_len <= 4096);
  assert_true(first_len > 4096 - 8);
  const char *prefix = "- long kind=INTERNAL trace_id=" TRACE_HEX;
  assert_memory_equal(out, prefix, strlen(prefix));
  /* Cut between escape sequences, never inside one. */
  assert_memory_equal(nl - 7, "\\x01...", 7);
  /* The next span of the batch is whole. */
  assert_string_equal(nl + 1, "- next kind=INTERNAL trace_id=" TRACE_HEX " span_id=" SPAN_HEX
                              " parent_id=- start=1700000000123456789 duration_us=2500"
                              " status=UNSET\n");
}

static void test_console_reports_io_error_when_stream_refuses_writes(void **state) {
  (void)state;
  FILE *f = fopen("/dev/null", "r");
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_console_exporter_new(&e, f, NULL), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "s");
  const rpct_span_data *batch[1] = {&d};
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_IO);
  rpct_exporter_del(e);
  fclose(f);
}

static void test_console_export_after_shutdown_fails_without_writing(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_console_exporter_new(&e, f, NULL), RPCT_OK);
  assert_int_equal(rpct_exporter_shutdown(e, 10), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "s");
  const rpct_span_data *batch[1] = {&d};
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_STATE);
  rpct_exporter_del(e);
  assert_int_equal(ftell(f), 0);
  fclose(f);
}

static void test_console_new_rejects_null_out(void **state) {
  (void)state;
  assert_int_equal(rpct_console_exporter_new(NULL, stdout, NULL), RPCT_ERR_INVALID_ARGUMENT);
}

/* ==== memory exporter ==== */

static void test_memory_exporter_stores_copies_in_order(void **state) {
  (void)state;
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, NULL), RPCT_OK);
  assert_int_equal(rpct_memory_exporter_count(e), 0);

  rpct_span_data a, b, c;
  rec_init(&a, "first");
  rec_attr_int(&a, "n", 1);
  rec_init(&b, "second");
  rec_init(&c, "third");
  const rpct_span_data *two[2] = {&a, &b};
  const rpct_span_data *one[1] = {&c};
  assert_int_equal(rpct_exporter_export(e, two, 2), 0);
  assert_int_equal(rpct_exporter_export(e, one, 1), 0);
  /* What the exporter holds is its own copy. */
  memcpy(a.strings + a.name.off, "FIRST", 5);
  a.attrs[0].v.i = 99;

  assert_int_equal(rpct_memory_exporter_count(e), 3);
  rpct_span_data got;
  const char *names[] = {"first", "second", "third"};
  for (size_t i = 0; i < 3; i++) {
    memset(&got, 0, sizeof got);
    assert_int_equal(rpct_memory_exporter_get(e, i, &got), RPCT_OK);
    assert_string_equal(rec_name(&got), names[i]);
    assert_memory_equal(got.trace_id.bytes, a.trace_id.bytes, 16);
  }
  assert_int_equal(rpct_memory_exporter_get(e, 0, &got), RPCT_OK);
  assert_int_equal(got.n_attrs, 1);
  assert_int_equal(got.attrs[0].v.i, 1);
  assert_int_equal(rpct_memory_exporter_get(e, 3, &got), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_memory_exporter_get(e, SIZE_MAX, &got), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_memory_exporter_get(e, 0, NULL), RPCT_ERR_INVALID_ARGUMENT);
  rpct_exporter_del(e);
}

static void test_memory_exporter_grows_past_initial_capacity(void **state) {
  (void)state;
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, NULL), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "s");
  const rpct_span_data *batch[1] = {&d};
  for (int i = 0; i < 100; i++) {
    d.start_unix_ns = (uint64_t)i;
    assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  }
  assert_int_equal(rpct_memory_exporter_count(e), 100);
  rpct_span_data got;
  for (size_t i = 0; i < 100; i++) {
    assert_int_equal(rpct_memory_exporter_get(e, i, &got), RPCT_OK);
    assert_int_equal(got.start_unix_ns, i);
  }
  rpct_exporter_del(e);
}

static void test_memory_exporter_clear_empties_and_keeps_working(void **state) {
  (void)state;
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, NULL), RPCT_OK);
  rpct_span_data a, b;
  rec_init(&a, "a");
  rec_init(&b, "b");
  const rpct_span_data *two[2] = {&a, &b};
  assert_int_equal(rpct_exporter_export(e, two, 2), 0);
  rpct_memory_exporter_clear(e);
  assert_int_equal(rpct_memory_exporter_count(e), 0);
  rpct_span_data got;
  assert_int_equal(rpct_memory_exporter_get(e, 0, &got), RPCT_ERR_NOT_FOUND);
  assert_int_equal(rpct_exporter_export(e, two + 1, 1), 0);
  assert_int_equal(rpct_memory_exporter_count(e), 1);
  assert_int_equal(rpct_memory_exporter_get(e, 0, &got), RPCT_OK);
  assert_string_equal(rec_name(&got), "b");
  rpct_exporter_del(e);
}

static void test_memory_accessors_reject_other_exporters(void **state) {
  (void)state;
  fake_exporter f = {0};
  rpct_exporter *user = NULL, *console = NULL;
  assert_int_equal(rpct_exporter_new(&user, &fake_ops, &f, NULL), RPCT_OK);
  assert_int_equal(rpct_console_exporter_new(&console, stdout, NULL), RPCT_OK);
  rpct_span_data got;
  assert_int_equal(rpct_memory_exporter_count(user), 0);
  assert_int_equal(rpct_memory_exporter_count(console), 0);
  assert_int_equal(rpct_memory_exporter_count(NULL), 0);
  assert_int_equal(rpct_memory_exporter_get(user, 0, &got), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_memory_exporter_get(console, 0, &got), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_memory_exporter_get(NULL, 0, &got), RPCT_ERR_INVALID_ARGUMENT);
  rpct_memory_exporter_clear(user); /* no effect, no crash */
  rpct_memory_exporter_clear(NULL);
  assert_int_equal(f.calls, 0);
  rpct_exporter_del(user);
  rpct_exporter_del(console);
}

static void test_memory_exporter_refuses_exports_after_shutdown_keeps_spans(void **state) {
  (void)state;
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, NULL), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "kept");
  const rpct_span_data *batch[1] = {&d};
  assert_int_equal(rpct_exporter_export(e, batch, 1), 0);
  assert_int_equal(rpct_exporter_force_flush(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_shutdown(e, 0), RPCT_OK);
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_STATE);
  assert_int_equal(rpct_memory_exporter_count(e), 1);
  rpct_span_data got;
  assert_int_equal(rpct_memory_exporter_get(e, 0, &got), RPCT_OK);
  assert_string_equal(rec_name(&got), "kept");
  rpct_exporter_del(e);
}

/* ==== simple processor ==== */

static void assert_stats(rpct_processor *p, uint64_t accepted, uint64_t exported, uint64_t rejected,
                         uint64_t failed, uint64_t failed_exports, uint64_t dropped_shutdown) {
  rpct_processor_stats s;
  memset(&s, 0xff, sizeof s);
  rpct_processor_get_stats(p, &s);
  assert_int_equal(s.accepted, accepted);
  assert_int_equal(s.exported, exported);
  assert_int_equal(s.rejected, rejected);
  assert_int_equal(s.failed, failed);
  assert_int_equal(s.failed_exports, failed_exports);
  assert_int_equal(s.dropped_shutdown, dropped_shutdown);
  assert_int_equal(s.dropped_full, 0);
  assert_int_equal(s.queued, 0);
}

/* A simple processor that owns a user exporter over `f`. */
static rpct_processor *simple_over_fake(fake_exporter *f) {
  rpct_exporter *e = NULL;
  rpct_processor *p = NULL;
  assert_int_equal(rpct_exporter_new(&e, &fake_ops, f, NULL), RPCT_OK);
  assert_int_equal(rpct_simple_processor_new(&p, e, NULL), RPCT_OK);
  return p;
}

static void test_simple_processor_exports_only_sampled_spans_with_exact_counters(void **state) {
  (void)state;
  fake_exporter f = {.results = {0, 2, RPCT_ERR_EXPORT, 0}, .n_results = 4};
  rpct_processor *p = simple_over_fake(&f);
  assert_stats(p, 0, 0, 0, 0, 0, 0);

  rpct_span_data sampled, unsampled;
  rec_init(&sampled, "yes");
  rec_init(&unsampled, "no");
  unsampled.flags = RPCT_TRACE_FLAG_RANDOM; /* recorded, not sampled */

  rpct__processor_on_end(p, &sampled); /* exporter returns 0: exported */
  assert_int_equal(f.calls, 1);
  assert_stats(p, 1, 1, 0, 0, 0, 0);
  rpct__processor_on_end(p, &unsampled); /* ignored, not counted */
  assert_int_equal(f.calls, 1);
  assert_stats(p, 1, 1, 0, 0, 0, 0);
  rpct__processor_on_end(p, &sampled); /* 2 rejected: the one span was */
  assert_stats(p, 2, 1, 1, 0, 0, 0);
  rpct__processor_on_end(p, &sampled); /* the export failed */
  assert_stats(p, 3, 1, 1, 1, 1, 0);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "span export failed: export failed (later failures are only counted)");
  rpct__processor_on_end(p, &sampled);
  assert_stats(p, 4, 2, 1, 1, 1, 0);
  assert_int_equal(f.calls, 4);
  assert_int_equal(f.spans_seen, 4);
  assert_memory_equal(f.last_span_id.bytes, sampled.span_id.bytes, 8);

  rpct_processor_del(p);
  assert_int_equal(f.destroyed, 1); /* the processor owned the exporter */
}

static void test_simple_processor_shutdown_twice_is_a_state_error(void **state) {
  (void)state;
  fake_exporter f = {0};
  rpct_processor *p = simple_over_fake(&f);
  assert_int_equal(rpct_processor_shutdown(p, 77), RPCT_OK);
  assert_int_equal(f.shutdowns, 1);
  assert_int_equal(f.last_timeout_ms, 77);
  assert_int_equal(rpct_processor_shutdown(p, 77), RPCT_ERR_STATE);
  assert_int_equal(f.shutdowns, 1);
  rpct_processor_del(p);
  assert_int_equal(f.destroyed, 1);
}

static void test_simple_processor_counts_spans_after_shutdown_as_dropped(void **state) {
  (void)state;
  fake_exporter f = {0};
  rpct_processor *p = simple_over_fake(&f);
  rpct_span_data sampled, unsampled;
  rec_init(&sampled, "s");
  rec_init(&unsampled, "u");
  unsampled.flags = 0;
  rpct__processor_on_end(p, &sampled);
  assert_int_equal(rpct_processor_shutdown(p, 0), RPCT_OK);
  rpct__processor_on_end(p, &sampled);
  rpct__processor_on_end(p, &sampled);
  rpct__processor_on_end(p, &unsampled);
  assert_int_equal(f.calls, 1);
  assert_stats(p, 1, 1, 0, 0, 0, 2);
  rpct_processor_del(p);
}

static void test_simple_processor_force_flush_reaches_exporter(void **state) {
  (void)state;
  fake_exporter f = {0};
  rpct_processor *p = simple_over_fake(&f);
  assert_int_equal(rpct_processor_force_flush(p, 55), RPCT_OK);
  assert_int_equal(f.flushes, 1);
  assert_int_equal(f.last_timeout_ms, 55);
  assert_int_equal(rpct_processor_force_flush(NULL, 0), RPCT_ERR_INVALID_ARGUMENT);
  rpct_processor_del(p);
}

static void test_simple_processor_new_rejects_null_and_keeps_out(void **state) {
  (void)state;
  rpct_processor *sentinel = (rpct_processor *)&sentinel;
  rpct_processor *p = sentinel;
  assert_int_equal(rpct_simple_processor_new(&p, NULL, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(p, sentinel);
  fake_exporter f = {0};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &fake_ops, &f, NULL), RPCT_OK);
  assert_int_equal(rpct_simple_processor_new(NULL, e, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(f.destroyed, 0); /* not taken on failure */
  rpct_exporter_del(e);
}

#define THREADS 4
#define SPANS_PER_THREAD 250

static void *end_spans(void *arg) {
  rpct_processor *p = arg;
  rpct_span_data d;
  rec_init(&d, "concurrent");
  for (int i = 0; i < SPANS_PER_THREAD; i++) rpct__processor_on_end(p, &d);
  return NULL;
}

static void test_simple_processor_serialises_concurrent_ends(void **state) {
  (void)state;
  rpct_exporter *e = NULL;
  rpct_processor *p = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, NULL), RPCT_OK);
  assert_int_equal(rpct_simple_processor_new(&p, e, NULL), RPCT_OK);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, end_spans, p), 0);
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  assert_int_equal(rpct_memory_exporter_count(e), THREADS * SPANS_PER_THREAD);
  assert_stats(p, THREADS * SPANS_PER_THREAD, THREADS * SPANS_PER_THREAD, 0, 0, 0, 0);
  rpct_processor_del(p);
}

/* ==== user processor ==== */

typedef struct fake_processor {
  int starts;
  int ends;
  const rpct_span_data *last_end;
  int flushes;
  int shutdowns;
  int destroyed;
} fake_processor;

static void fp_on_start(void *impl, rpct_span *span) {
  (void)span;
  ((fake_processor *)impl)->starts++;
}

static void fp_on_end(void *impl, const rpct_span_data *d) {
  fake_processor *fp = impl;
  fp->ends++;
  fp->last_end = d;
}

static int fp_flush(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  ((fake_processor *)impl)->flushes++;
  return RPCT_OK;
}

static int fp_shutdown(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  ((fake_processor *)impl)->shutdowns++;
  return RPCT_OK;
}

static void fp_stats(void *impl, rpct_processor_stats *out) {
  out->accepted = (uint64_t)((fake_processor *)impl)->ends;
}

static void fp_destroy(void *impl) { ((fake_processor *)impl)->destroyed++; }

static const rpct_processor_ops fp_ops = {
    .on_start = fp_on_start,
    .on_end = fp_on_end,
    .force_flush = fp_flush,
    .shutdown = fp_shutdown,
    .stats = fp_stats,
    .destroy = fp_destroy,
};

static void test_user_processor_receives_span_events_and_reports_stats(void **state) {
  (void)state;
  fake_processor fp = {0};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_processor_new(&p, &fp_ops, &fp, NULL), RPCT_OK);
  rpct_span span;
  memset(&span, 0, sizeof span);
  rpct__processor_on_start(p, &span);
  rpct_span_data d;
  rec_init(&d, "user");
  rpct__processor_on_end(p, &d);
  rpct__processor_on_end(p, &d);
  assert_int_equal(fp.starts, 1);
  assert_int_equal(fp.ends, 2);
  assert_ptr_equal(fp.last_end, &d);
  rpct_processor_stats s;
  memset(&s, 0xff, sizeof s);
  rpct_processor_get_stats(p, &s);
  assert_int_equal(s.accepted, 2);
  assert_int_equal(s.exported, 0); /* zero-filled before the processor's stats */
  assert_int_equal(s.dropped_full, 0);
  assert_int_equal(rpct_processor_force_flush(p, 0), RPCT_OK);
  assert_int_equal(fp.flushes, 1);
  assert_int_equal(rpct_processor_shutdown(p, 0), RPCT_OK);
  assert_int_equal(rpct_processor_shutdown(p, 0), RPCT_ERR_STATE);
  assert_int_equal(fp.shutdowns, 1);
  rpct_processor_del(p);
  assert_int_equal(fp.destroyed, 1);
  rpct_processor_del(NULL);
}

static void test_processor_with_only_on_end_has_zero_stats(void **state) {
  (void)state;
  static const rpct_processor_ops minimal = {.on_end = fp_on_end};
  fake_processor fp = {0};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_processor_new(&p, &minimal, &fp, NULL), RPCT_OK);
  rpct_span span;
  memset(&span, 0, sizeof span);
  rpct__processor_on_start(p, &span); /* no on_start: nothing happens */
  rpct_span_data d;
  rec_init(&d, "x");
  rpct__processor_on_end(p, &d);
  assert_int_equal(fp.ends, 1);
  rpct_processor_stats s;
  memset(&s, 0xff, sizeof s);
  rpct_processor_get_stats(p, &s);
  rpct_processor_stats zero;
  memset(&zero, 0, sizeof zero);
  assert_memory_equal(&s, &zero, sizeof s);
  memset(&s, 0xff, sizeof s);
  rpct_processor_get_stats(NULL, &s);
  assert_memory_equal(&s, &zero, sizeof s);
  assert_int_equal(rpct_processor_force_flush(p, 0), RPCT_OK);
  assert_int_equal(rpct_processor_shutdown(p, 0), RPCT_OK);
  assert_int_equal(rpct_processor_shutdown(p, 0), RPCT_ERR_STATE);
  assert_int_equal(rpct_processor_shutdown(NULL, 0), RPCT_ERR_INVALID_ARGUMENT);
  rpct_processor_del(p);
  assert_int_equal(fp.destroyed, 0);
}

static void test_processor_new_rejects_missing_on_end_and_keeps_out(void **state) {
  (void)state;
  static const rpct_processor_ops no_end = {.on_start = fp_on_start};
  fake_processor fp = {0};
  rpct_processor *sentinel = (rpct_processor *)&fp;
  rpct_processor *p = sentinel;
  assert_int_equal(rpct_processor_new(&p, &no_end, &fp, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_processor_new(&p, NULL, &fp, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_processor_new(NULL, &fp_ops, &fp, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(p, sentinel);
  assert_int_equal(fp.destroyed, 0);
}

/* ==== OTEL_TRACES_EXPORTER ==== */

#define SUPPORTED "(supported: console, none, otlp, otlp_file; one at a time)"

/* rpct__processor_from_env succeeds with no processor, and `messages`
 * diagnostics have been reported since setup. */
static void assert_from_env_gives_none(int messages) {
  rpct_processor *p = (rpct_processor *)&p;
  assert_int_equal(rpct__processor_from_env(&p, NULL), RPCT_OK);
  assert_null(p);
  assert_int_equal(tu_diag_count, messages);
}

/* The processor from the environment, after `messages` diagnostics. */
static rpct_processor *from_env_processor(int messages) {
  rpct_processor *p = NULL;
  assert_int_equal(rpct__processor_from_env(&p, NULL), RPCT_OK);
  assert_non_null(p);
  assert_int_equal(tu_diag_count, messages);
  return p;
}

/* Proves `p` is a batch processor over the OTLP/gRPC exporter: with the
 * endpoint on a closed port, a flushed span is one failed export whose
 * message names that endpoint. */
static void assert_otlp_batch(rpct_processor *p) {
  rpct_span_data d;
  rec_init(&d, "to-otlp");
  rpct__processor_on_end(p, &d);
  rpct_processor_force_flush(p, 5000);
  rpct_processor_stats st;
  rpct_processor_get_stats(p, &st);
  assert_int_equal(st.accepted, 1);
  assert_int_equal(st.failed, 1);
  assert_int_equal(st.failed_exports, 1);
  assert_non_null(strstr(tu_diag, "OTLP export to http://127.0.0.1:1 failed"));
  rpct_processor_shutdown(p, 1000);
  rpct_processor_del(p);
}

static void point_otlp_at_closed_port(void) {
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", 1);
  setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "50", 1);
}

static void test_from_env_console_gives_simple_processor_silently(void **state) {
  (void)state;
  static const char *const values[] = {"console", "  CONSOLE ", "console,", ",Console"};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(values); i++) {
    setenv("OTEL_TRACES_EXPORTER", values[i], 1);
    rpct_processor *p = NULL;
    assert_int_equal(rpct__processor_from_env(&p, NULL), RPCT_OK);
    assert_non_null(p);
    /* An unsampled span prints nothing; the stats are the simple one's. */
    rpct_span_data d;
    rec_init(&d, "quiet");
    d.flags = 0;
    rpct__processor_on_end(p, &d);
    assert_stats(p, 0, 0, 0, 0, 0, 0);
    assert_int_equal(rpct_processor_shutdown(p, 0), RPCT_OK);
    rpct__processor_on_end(p, &(rpct_span_data){.flags = RPCT_TRACE_FLAG_SAMPLED});
    assert_stats(p, 0, 0, 0, 0, 0, 1);
    rpct_processor_del(p);
  }
  assert_int_equal(tu_diag_count, 0);
}

static void test_from_env_none_gives_no_processor_silently(void **state) {
  (void)state;
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  assert_from_env_gives_none(0);
}

static void test_from_env_unset_gives_otlp_batch_silently(void **state) {
  (void)state;
  point_otlp_at_closed_port();
  assert_otlp_batch(from_env_processor(0));
  rpct__diag_reset_once();
  tu_diag_begin();
  setenv("OTEL_TRACES_EXPORTER", "   ", 1); /* empty counts as unset */
  assert_otlp_batch(from_env_processor(0));
}

static void test_from_env_otlp_gives_otlp_batch_silently(void **state) {
  (void)state;
  point_otlp_at_closed_port();
  setenv("OTEL_TRACES_EXPORTER", "OTLP", 1);
  assert_otlp_batch(from_env_processor(0));
}

static void test_from_env_otlp_file_writes_json_lines(void **state) {
  (void)state;
  char path[] = "/tmp/rpct_from_env_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  setenv("RPCTRACE_OTLP_FILE_PATH", path, 1);
  setenv("OTEL_TRACES_EXPORTER", "otlp_file", 1);
  rpct_processor *p = from_env_processor(0);
  rpct_span_data d;
  rec_init(&d, "to-file");
  rpct__processor_on_end(p, &d);
  assert_int_equal(rpct_processor_shutdown(p, 5000), RPCT_OK);
  rpct_processor_del(p);
  unsetenv("RPCTRACE_OTLP_FILE_PATH");
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[8192];
  assert_non_null(fgets(line, sizeof line, f));
  assert_non_null(strstr(line, "\"name\":\"to-file\""));
  assert_null(fgets(line, sizeof line, f)); /* one line */
  fclose(f);
  unlink(path);
}

static void test_from_env_unknown_value_reports_it_and_the_default(void **state) {
  (void)state;
  point_otlp_at_closed_port();
  setenv("OTEL_TRACES_EXPORTER", "zipkin", 1);
  rpct_processor *p = from_env_processor(1);
  assert_string_equal(tu_diag_last, "OTEL_TRACES_EXPORTER=\"zipkin\": ignoring \"zipkin\" " SUPPORTED
                                    "; using the default \"otlp\"");
  assert_otlp_batch(p);
  /* The unknown value is reported once: a second lookup adds nothing to the
   * three messages so far (the value, the exporter's failure with its
   * endpoint, the processor's first failed export). */
  rpct_processor_del(from_env_processor(3));
}

static void test_from_env_list_uses_first_recognised_and_reports_rest(void **state) {
  (void)state;
  setenv("OTEL_TRACES_EXPORTER", "zipkin, console ,otlp", 1);
  rpct_processor *p = NULL;
  assert_int_equal(rpct__processor_from_env(&p, NULL), RPCT_OK);
  assert_non_null(p);
  rpct_processor_del(p);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "OTEL_TRACES_EXPORTER=\"zipkin, console ,otlp\": ignoring "
                      "\"zipkin\", \"otlp\" " SUPPORTED "; using \"console\"");

  rpct__diag_reset_once();
  setenv("OTEL_TRACES_EXPORTER", "none,console", 1);
  assert_from_env_gives_none(2);
  assert_string_equal(tu_diag_last,
                      "OTEL_TRACES_EXPORTER=\"none,console\": ignoring \"console\" " SUPPORTED
                      "; using \"none\"");
}

static void test_from_env_quotes_hostile_values_safely(void **state) {
  (void)state;
  char value[200];
  memset(value, 'x', sizeof value - 1);
  value[sizeof value - 1] = '\0';
  value[0] = '"';
  value[1] = '\n';
  setenv("OTEL_TRACES_EXPORTER", value, 1);
  rpct_processor_del(from_env_processor(1));
  char quoted[80];
  /* Quote and newline escaped as every diagnostic escapes them; cut at 64
   * bytes. */
  snprintf(quoted, sizeof quoted, "\"\\\"\\x0a%.62s...\"", value + 2);
  char want[1024];
  snprintf(want, sizeof want,
           "OTEL_TRACES_EXPORTER=%s: ignoring %s " SUPPORTED "; using the default \"otlp\"",
           quoted, quoted);
  assert_string_equal(tu_diag_last, want);
}

/* ==== the OTLP/gRPC exporter's configuration ==== */

/* Messages of creating (and deleting) an OTLP exporter with `headers`
 * (NULL: from the environment) and `endpoint`; no RPC is made. */
static void otlp_new_and_del(const char *headers, const char *endpoint) {
  tu_diag_begin();
  rpct_otlp_options o = {.endpoint = endpoint, .insecure = RPCT_OTLP_PLAINTEXT, .headers = headers};
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_exporter_new(&e, &o, NULL), RPCT_OK);
  rpct_exporter_del(e);
}

#define NOT_SENT "; no headers are sent"
#define BAD_VALUE                                                                           \
  " has a value with a byte gRPC does not accept in metadata (control or non-ASCII, after " \
  "percent-decoding; only 0x20-0x7E)" NOT_SENT

typedef struct header_case {
  const char *headers;
  const char *where;  /* "member N (key ...)" and why; NULL: accepted silently */
  const char *hidden; /* part of a value that must not be shown, or NULL */
} header_case;

/* gRPC core refuses any non-binary metadata value outside 0x20-0x7E at
 * grpc_call_start_batch, failing every export and logging the value: such
 * a list is refused when the exporter is made, named by member and key. */
static const header_case header_cases[] = {
    {"authorization=Bearer abc123", NULL, NULL},
    {"Authorization=Bearer%20abc123,x-tenant=acme", NULL, NULL},
    {"k=%20!%7E~", NULL, NULL}, /* 0x20 and 0x7E are the bounds */
    {"authorization=Bearer s3cr3t%0D%0A", " member 1 (key \"authorization\")" BAD_VALUE, "s3cr3t"},
    {"x-tenant=acme,authorization=Bearer s3cr3t\r\n", " member 2 (key \"authorization\")" BAD_VALUE,
     "s3cr3t"},
    {"api-key=s3cr3t%0A", " member 1 (key \"api-key\")" BAD_VALUE, "s3cr3t"},
    {"api-key=caf%C3%A9s3cr3t", " member 1 (key \"api-key\")" BAD_VALUE, "s3cr3t"},
    {"api-key=caf\xc3\xa9s3cr3t", " member 1 (key \"api-key\")" BAD_VALUE, "s3cr3t"},
    {"k=s3cr3t%7F", " member 1 (key \"k\")" BAD_VALUE, "s3cr3t"},
    {"k=s3cr3t\tx", " member 1 (key \"k\")" BAD_VALUE, "s3cr3t"},
    {"k=%1Bs3cr3t", " member 1 (key \"k\")" BAD_VALUE, "s3cr3t"},
    {"Bad Key=s3cr3t",
     " member 1 (key \"Bad Key\") has a key that is not a gRPC metadata key (0-9 a-z _ - ., not "
     "ending in -bin)" NOT_SENT,
     "s3cr3t"},
    {"a=1,x-bin=s3cr3t",
     " member 2 (key \"x-bin\") has a key that is not a gRPC metadata key (0-9 a-z _ - ., not "
     "ending in -bin)" NOT_SENT,
     "s3cr3t"},
    {"a=1,,Bearer s3cr3t", " member 2 has no '=' (expected key=value)" NOT_SENT, "s3cr3t"},
    {"k=s3cr3t%zz", " member 1 (key \"k\") has a '%' not followed by two hex digits" NOT_SENT,
     "s3cr3t"},
};

static void test_otlp_headers_with_bytes_grpc_refuses_are_rejected_by_member_and_key(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(header_cases); i++) {
    const header_case *c = &header_cases[i];
    otlp_new_and_del(c->headers, "http://127.0.0.1:1");
    if (!c->where) {
      if (tu_diag_count != 0) fail_msg("case %zu: unexpected message: %s", i, tu_diag_last);
      continue;
    }
    char want[512];
    snprintf(want, sizeof want, "rpct_otlp_options.headers%s", c->where);
    if (tu_diag_count != 1 || strcmp(tu_diag_last, want) != 0)
      fail_msg("case %zu: %d messages, the last:\n %s\nwant\n %s", i, tu_diag_count, tu_diag_last,
               want);
    if (c->hidden && strstr(tu_diag, c->hidden))
      fail_msg("case %zu: the message shows a value: %s", i, tu_diag_last);
  }
}

static void test_otlp_headers_beyond_32_are_rejected_by_position(void **state) {
  (void)state;
  char list[1024] = "";
  for (int i = 1; i <= 33; i++) {
    char one[32];
    snprintf(one, sizeof one, "%sk%d=v%d", i > 1 ? "," : "", i, i);
    strcat(list, one);
  }
  otlp_new_and_del(list, "http://127.0.0.1:1");
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "rpct_otlp_options.headers member 33 (key \"k33\") is one "
                      "header too many (at most 32)" NOT_SENT);
}

static void test_otlp_headers_from_the_environment_name_the_variable(void **state) {
  (void)state;
  setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,authorization=Bearer%20s3cr3t%0A", 1);
  otlp_new_and_del(NULL, "http://127.0.0.1:1");
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "OTEL_EXPORTER_OTLP_HEADERS member 2 (key \"authorization\")" BAD_VALUE);
  /* The traces-specific variable wins, and is the one named. */
  setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=s3cr3t\r", 1);
  otlp_new_and_del(NULL, "http://127.0.0.1:1");
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "OTEL_EXPORTER_OTLP_TRACES_HEADERS member 1 (key \"api-key\")" BAD_VALUE);
  assert_null(strstr(tu_diag, "s3cr3t"));
}

/* Every message that shows the endpoint shows it through
 * rpct__endpoint_shown: credentials masked, controls escaped. */
static void test_endpoint_shown_masks_userinfo_query_values_and_fragment(void **state) {
  (void)state;
  static const struct {
    const char *endpoint, *shown;
  } cases[] = {
      {"http://localhost:4317", "http://localhost:4317"},
      {"collector:4317", "collector:4317"},
      {"http://[::1]:4317/v1/traces", "http://[::1]:4317/v1/traces"},
      {"https://user:pa55@collector:4317", "https://***@collector:4317"},
      {"user:pa55@collector:4317", "***@collector:4317"},
      {"http://a@b:c@collector:4317/p@x", "http://***@collector:4317/p@x"},
      {"http://collector:4317/v1?token=abc&region=eu",
       "http://collector:4317/v1?token=***&region=***"},
      {"http://collector:4317?token=abc", "http://collector:4317?token=***"},
      {"http://collector:4317/?abc123", "http://collector:4317/?***"},
      {"http://collector:4317/?a=1&&b=;c", "http://collector:4317/?a=***&&b=***;***"},
      {"http://u:p@collector:4317/x?k=v#frag", "http://***@collector:4317/x?k=***#***"},
      {"http://collector:4317/#", "http://collector:4317/#"},
      {"http://coll\x1b[2J\xe2\x80\xaeh:4317", "http://coll\\x1b[2J\\u202eh:4317"},
      {"http://collector:4317/?to\nken=x", "http://collector:4317/?to\\x0aken=***"},
      {"", ""},
  };
  char out[RPCT__ENDPOINT_SHOWN_MAX];
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    rpct__endpoint_shown(out, sizeof out, cases[i].endpoint, strlen(cases[i].endpoint));
    if (strcmp(out, cases[i].shown) != 0)
      fail_msg("case %zu: \"%s\", want \"%s\"", i, out, cases[i].shown);
  }
  /* Too long: cut, with "...", within the buffer. */
  char longer[400] = "http://collector:4317/";
  memset(longer + 22, 'p', 300);
  longer[322] = '\0';
  rpct__endpoint_shown(out, 32, longer, strlen(longer));
  assert_string_equal(out, "http://collector:4317/pppppp...");
}

static void test_otlp_endpoint_userinfo_is_reported_masked_and_not_used(void **state) {
  (void)state;
  otlp_new_and_del(NULL, "http://tenant:pa55w0rd@127.0.0.1:1/?token=t0k3n");
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "the OTLP endpoint http://***@127.0.0.1:1/?token=*** has user information: "
                      "it is not sent (give credentials in OTEL_EXPORTER_OTLP_HEADERS)");
  assert_null(strstr(tu_diag, "pa55w0rd"));
  assert_null(strstr(tu_diag, "t0k3n"));
}

/* google.rpc.RetryInfo's delay is a google.protobuf.Duration from the
 * network: any int64 seconds and int32 nanos, either sign. */
static void test_retry_delay_saturates_and_never_overflows(void **state) {
  (void)state;
  static const struct {
    int64_t seconds;
    int32_t nanos;
    int64_t ms;
  } cases[] = {
      {0, 0, 0},
      {0, 1, 1}, /* a partial millisecond counts as one: the delay is a minimum */
      {0, 300000000, 300},
      {1, 500000000, 1500},
      {86400, 999999999, 86401000},
      {INT64_MAX / 1000 - 3, 999999999, (INT64_MAX / 1000 - 3) * 1000 + 1000},
      {INT64_MAX / 1000 - 2, 0, INT64_MAX},  /* would not fit with the nanos: saturated */
      {INT64_MAX / 1000 + 1, -1, INT64_MAX}, /* above INT64_MAX/1000 s, negative nanos */
      {INT64_MAX, 999999999, INT64_MAX},
      {INT64_MAX, INT32_MIN, INT64_MAX},
      {5, -1, 5000},        /* mixed signs (not a valid Duration) */
      {0, INT32_MAX, 2148}, /* nanos out of range */
      {0, -500000000, 0},   /* negative: now */
      {-1, 0, 0},
      {-(INT64_MAX / 1000), -999999999, 0},
      {INT64_MIN, INT32_MIN, 0},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    int64_t got = rpct__retry_delay_ms(cases[i].seconds, cases[i].nanos);
    if (got != cases[i].ms)
      fail_msg("case %zu: {%lld s, %d ns} gave %lld ms, want %lld", i, (long long)cases[i].seconds,
               (int)cases[i].nanos, (long long)got, (long long)cases[i].ms);
  }
}

/* ==== failing allocator: every constructor, every allocation ==== */

typedef int (*ctor_fn)(tu_alloc_state *fa, const rpct_allocator *a, void **out);

static int make_user_exporter(tu_alloc_state *fa, const rpct_allocator *a, void **out) {
  (void)fa;
  static fake_exporter f;
  return rpct_exporter_new((rpct_exporter **)out, &fake_ops, &f, a);
}

static int make_memory_exporter(tu_alloc_state *fa, const rpct_allocator *a, void **out) {
  (void)fa;
  return rpct_memory_exporter_new((rpct_exporter **)out, a);
}

static int make_console_exporter(tu_alloc_state *fa, const rpct_allocator *a, void **out) {
  (void)fa;
  return rpct_console_exporter_new((rpct_exporter **)out, stdout, a);
}

static int make_user_processor(tu_alloc_state *fa, const rpct_allocator *a, void **out) {
  (void)fa;
  static fake_processor fp;
  return rpct_processor_new((rpct_processor **)out, &fp_ops, &fp, a);
}

/* The exporter is made without failures, then the processor's allocations
 * fail in turn; on failure the exporter is still ours to delete. */
static int make_simple_processor(tu_alloc_state *fa, const rpct_allocator *a, void **out) {
  long fail_at = fa->fail_at;
  fa->fail_at = -1;
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, a), RPCT_OK);
  fa->fail_at = fa->calls + fail_at;
  int r = rpct_simple_processor_new((rpct_processor **)out, e, a);
  if (r != RPCT_OK) rpct_exporter_del(e);
  return r;
}

static int make_from_env_console(tu_alloc_state *fa, const rpct_allocator *a, void **out) {
  (void)fa;
  return rpct__processor_from_env((rpct_processor **)out, a);
}

static void walk_failing_allocations(ctor_fn make, bool is_processor) {
  for (long k = 0;; k++) {
    assert_true(k < 100);
    tu_alloc_state fa = {.fail_at = k, .fail_only = 1};
    rpct_allocator a = tu_allocator(&fa);
    void *sentinel = &fa;
    void *obj = sentinel;
    int r = make(&fa, &a, &obj);
    if (r == RPCT_OK) {
      assert_true(k > 0); /* the constructor allocates at least once */
      assert_true(obj != sentinel && obj != NULL);
      if (is_processor)
        rpct_processor_del(obj);
      else
        rpct_exporter_del(obj);
      assert_int_equal(fa.live, 0);
      return;
    }
    assert_int_equal(r, RPCT_ERR_NO_MEMORY);
    assert_ptr_equal(obj, sentinel);
    assert_int_equal(fa.live, 0);
  }
}

static void test_constructors_leak_nothing_when_any_allocation_fails(void **state) {
  (void)state;
  walk_failing_allocations(make_user_exporter, false);
  walk_failing_allocations(make_memory_exporter, false);
  walk_failing_allocations(make_console_exporter, false);
  walk_failing_allocations(make_user_processor, true);
  walk_failing_allocations(make_simple_processor, true);
  setenv("OTEL_TRACES_EXPORTER", "console", 1);
  walk_failing_allocations(make_from_env_console, true);
  unsetenv("OTEL_TRACES_EXPORTER");
}

static void test_memory_exporter_fails_whole_batch_when_growth_fails(void **state) {
  (void)state;
  tu_alloc_state fa = {.fail_at = -1};
  rpct_allocator a = tu_allocator(&fa);
  rpct_exporter *e = NULL;
  rpct_processor *p = NULL;
  assert_int_equal(rpct_memory_exporter_new(&e, &a), RPCT_OK);
  assert_int_equal(rpct_simple_processor_new(&p, e, &a), RPCT_OK);
  rpct_span_data d;
  rec_init(&d, "s");
  const rpct_span_data *batch[1] = {&d};
  tu_alloc_fail_next(&fa); /* the first array allocation */
  assert_int_equal(rpct_exporter_export(e, batch, 1), RPCT_ERR_NO_MEMORY);
  assert_int_equal(rpct_memory_exporter_count(e), 0);
  tu_alloc_fail_next(&fa); /* through the processor: counted as failed */
  rpct__processor_on_end(p, &d);
  assert_stats(p, 1, 0, 0, 1, 1, 0);
  rpct__processor_on_end(p, &d);
  assert_stats(p, 2, 1, 0, 1, 1, 0);
  assert_int_equal(rpct_memory_exporter_count(e), 1);
  rpct_processor_del(p);
  assert_int_equal(fa.live, 0);
}

int main(void) {
#define WITH_DIAG(f) cmocka_unit_test_setup_teardown(f, setup_diag, teardown_diag)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kind_and_status_names_follow_otlp),
      cmocka_unit_test(test_exporter_new_rejects_missing_ops_and_leaves_out),
      cmocka_unit_test(test_exporter_forwards_to_ops_and_destroys_impl),
      cmocka_unit_test(test_exporter_without_optional_ops_flushes_and_shuts_down_ok),
      cmocka_unit_test(test_exporter_export_clamps_rejected_to_batch_size),
      cmocka_unit_test(test_console_prints_client_span_with_parent_error_and_attributes),
      cmocka_unit_test(test_console_prints_root_span_with_dash_parent_and_service),
      cmocka_unit_test(test_console_prints_dash_for_resource_without_service_name),
      cmocka_unit_test(test_console_omits_message_unless_error_with_text),
      cmocka_unit_test(test_console_escapes_strings_and_control_characters),
      cmocka_unit_test(test_console_escapes_bidi_c1_and_invalid_bytes),
      cmocka_unit_test(test_console_truncates_overlong_line_with_ellipsis),
      cmocka_unit_test(test_console_reports_io_error_when_stream_refuses_writes),
      cmocka_unit_test(test_console_export_after_shutdown_fails_without_writing),
      cmocka_unit_test(test_console_new_rejects_null_out),
      cmocka_unit_test(test_memory_exporter_stores_copies_in_order),
      cmocka_unit_test(test_memory_exporter_grows_past_initial_capacity),
      cmocka_unit_test(test_memory_exporter_clear_empties_and_keeps_working),
      cmocka_unit_test(test_memory_accessors_reject_other_exporters),
      cmocka_unit_test(test_memory_exporter_refuses_exports_after_shutdown_keeps_spans),
      WITH_DIAG(test_simple_processor_exports_only_sampled_spans_with_exact_counters),
      cmocka_unit_test(test_simple_processor_shutdown_twice_is_a_state_error),
      cmocka_unit_test(test_simple_processor_counts_spans_after_shutdown_as_dropped),
      cmocka_unit_test(test_simple_processor_force_flush_reaches_exporter),
      cmocka_unit_test(test_simple_processor_new_rejects_null_and_keeps_out),
      cmocka_unit_test(test_simple_processor_serialises_concurrent_ends),
      cmocka_unit_test(test_user_processor_receives_span_events_and_reports_stats),
      cmocka_unit_test(test_processor_with_only_on_end_has_zero_stats),
      cmocka_unit_test(test_processor_new_rejects_missing_on_end_and_keeps_out),
      WITH_DIAG(test_from_env_console_gives_simple_processor_silently),
      WITH_DIAG(test_from_env_none_gives_no_processor_silently),
      WITH_DIAG(test_from_env_unset_gives_otlp_batch_silently),
      WITH_DIAG(test_from_env_otlp_gives_otlp_batch_silently),
      WITH_DIAG(test_from_env_otlp_file_writes_json_lines),
      WITH_DIAG(test_from_env_unknown_value_reports_it_and_the_default),
      WITH_DIAG(test_from_env_list_uses_first_recognised_and_reports_rest),
      WITH_DIAG(test_from_env_quotes_hostile_values_safely),
      WITH_DIAG(test_otlp_headers_with_bytes_grpc_refuses_are_rejected_by_member_and_key),
      WITH_DIAG(test_otlp_headers_beyond_32_are_rejected_by_position),
      WITH_DIAG(test_otlp_headers_from_the_environment_name_the_variable),
      cmocka_unit_test(test_endpoint_shown_masks_userinfo_query_values_and_fragment),
      WITH_DIAG(test_otlp_endpoint_userinfo_is_reported_masked_and_not_used),
      cmocka_unit_test(test_retry_delay_saturates_and_never_overflows),
      WITH_DIAG(test_constructors_leak_nothing_when_any_allocation_fails),
      WITH_DIAG(test_memory_exporter_fails_whole_batch_when_growth_fails),
  };
#undef WITH_DIAG
  return cmocka_run_group_tests(tests, NULL, NULL);
}
