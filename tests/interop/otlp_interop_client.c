/*
 * OTLP interop client: records a fixed set of spans with known ids, times,
 * attributes, events, links and statuses, and exports each of them twice,
 * through the OTLP/gRPC exporter (to the test receiver) and through the
 * OTLP/JSON lines file exporter. It then writes what it recorded, as the C
 * side knows it, to an expectations file that check_otlp.js compares with
 * what a third-party decoder (the OpenTelemetry JS project's generated
 * protobuf code) read off the wire, and with the JSON lines.
 *
 * Usage: otlp_interop_client ENDPOINT JSONL_PATH EXPECTATIONS_PATH [none|gzip]
 *   ENDPOINT   "host:port" or "http://host:port" of the OTLP/gRPC receiver
 *              (plaintext; loopback only)
 *
 * Exit status 0 when every span was accepted by both exporters and the
 * expectations file was written; 1 otherwise (with the reason on stderr).
 *
 * The expectations file is one JSON object:
 *   { "resource": { "attributes": [ATTR...] },
 *     "scope": { "name", "version" },
 *     "spans": [ { "traceId", "spanId", "parentSpanId" ("" for a root),
 *                  "parentRemote", "traceFlags" (W3C flags of its context),
 *                  "traceState", "name", "kind" (OTLP SpanKind number),
 *                  "startTimeUnixNano", "endTimeUnixNano" (decimal strings),
 *                  "attributes": [ATTR...], "status": { "code", "message" },
 *                  "events": [ { "timeUnixNano", "name", "attributes" } ],
 *                  "links": [ { "traceId", "spanId", "traceState",
 *                               "traceFlags", "remote", "attributes" } ] } ] }
 *   ATTR: { "key", "type": "string"|"int"|"double"|"bool", "value" }, int
 *   values as decimal strings, doubles as JSON numbers (17 significant digits).
 * Spans are listed in the order they ended (the order they were exported).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpctrace/rpctrace.h"

#define N_SPANS 3

/* Known times: 2023-11-14T22:13:20.123456789Z and offsets from it. All
 * above 2^53, so a decoder that goes through a double loses them. */
#define T0 UINT64_C(1700000000123456789)

static int failures;

static void fail(const char *what, int rc) {
  fprintf(stderr, "otlp_interop_client: %s: %s (%d)\n", what, rpct_strerror(rc), rc);
  failures++;
}

#define CHECK(call)                \
  do {                             \
    int rc_ = (call);              \
    if (rc_ < 0) fail(#call, rc_); \
  } while (0)

static void on_diag(void *data, const char *msg) {
  (void)data;
  fprintf(stderr, "otlp_interop_client: rpctrace says: %s\n", msg);
}

/* ---- An exporter that delivers every batch to two exporters ---- */

typedef struct fanout {
  rpct_exporter *grpc; /* owned */
  rpct_exporter *json; /* owned */
  unsigned grpc_spans_ok, json_spans_ok;
  unsigned grpc_failures, json_failures;
} fanout;

static int fanout_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  fanout *f = impl;
  int rg = rpct_exporter_export(f->grpc, spans, n);
  int rj = rpct_exporter_export(f->json, spans, n);
  if (rg == 0) {
    f->grpc_spans_ok += (unsigned)n;
  } else {
    f->grpc_failures++;
    fprintf(stderr, "otlp_interop_client: OTLP/gRPC export of %zu span(s): %d (%s)\n", n, rg,
            rg < 0 ? rpct_strerror(rg) : "spans rejected");
  }
  if (rj == 0) {
    f->json_spans_ok += (unsigned)n;
  } else {
    f->json_failures++;
    fprintf(stderr, "otlp_interop_client: OTLP/JSON export of %zu span(s): %d (%s)\n", n, rj,
            rj < 0 ? rpct_strerror(rj) : "spans rejected");
  }
  if (rg < 0) return rg;
  if (rj < 0) return rj;
  return rg > rj ? rg : rj;
}

static int fanout_flush(void *impl, uint32_t timeout_ms) {
  fanout *f = impl;
  int rg = rpct_exporter_force_flush(f->grpc, timeout_ms);
  int rj = rpct_exporter_force_flush(f->json, timeout_ms);
  return rg < 0 ? rg : rj;
}

static int fanout_shutdown(void *impl, uint32_t timeout_ms) {
  fanout *f = impl;
  int rg = rpct_exporter_shutdown(f->grpc, timeout_ms);
  int rj = rpct_exporter_shutdown(f->json, timeout_ms);
  if (rg < 0) fail("shutdown of the OTLP/gRPC exporter", rg);
  if (rj < 0) fail("shutdown of the OTLP/JSON exporter", rj);
  return rg < 0 ? rg : rj;
}

static void fanout_destroy(void *impl) {
  fanout *f = impl;
  rpct_exporter_del(f->grpc);
  rpct_exporter_del(f->json);
  /* `f` itself lives in main's frame. */
}

static const rpct_exporter_ops fanout_ops = {
    .export_spans = fanout_export,
    .force_flush = fanout_flush,
    .shutdown = fanout_shutdown,
    .destroy = fanout_destroy,
};

/* ---- What the C side recorded, kept for the expectations file ---- */

typedef struct expected_event {
  const char *name;
  uint64_t time_unix_ns;
  const rpct_attribute *attrs;
  size_t n_attrs;
} expected_event;

typedef struct expected_link {
  rpct_span_context ctx;
  const rpct_attribute *attrs;
  size_t n_attrs;
} expected_link;

typedef struct expected_span {
  rpct_span_context ctx;    /* the span's own context after start */
  rpct_span_context parent; /* invalid for a root */
  const char *name;
  rpct_span_kind kind;
  uint64_t start_unix_ns, end_unix_ns;
  const rpct_attribute *attrs;
  size_t n_attrs;
  rpct_status_code status;
  const char *status_message; /* what the span reports: "" unless ERROR */
  expected_event events[2];
  size_t n_events;
  expected_link links[2];
  size_t n_links;
} expected_span;

/* ---- JSON output ---- */

static void json_str(FILE *f, const char *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      case '\b': fputs("\\b", f); break;
      case '\f': fputs("\\f", f); break;
      default:
        if (c < 0x20)
          fprintf(f, "\\u%04x", c);
        else
          fputc(c, f); /* UTF-8 passes through */
    }
  }
  fputc('"', f);
}

static void json_cstr(FILE *f, const char *s) { json_str(f, s, strlen(s)); }

static void json_trace_id(FILE *f, const rpct_trace_id *id) {
  char hex[RPCT_TRACE_ID_HEX_LEN + 1];
  rpct_trace_id_format(id, hex, sizeof hex);
  json_cstr(f, hex);
}

static void json_span_id(FILE *f, const rpct_span_id *id) {
  char hex[RPCT_SPAN_ID_HEX_LEN + 1];
  rpct_span_id_format(id, hex, sizeof hex);
  json_cstr(f, hex);
}

static void json_attrs(FILE *f, const rpct_attribute *a, size_t n) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    if (i) fputc(',', f);
    fputs("{\"key\":", f);
    json_cstr(f, a[i].key);
    switch (a[i].type) {
      case RPCT_VALUE_STRING:
        fputs(",\"type\":\"string\",\"value\":", f);
        json_str(f, a[i].v.s, a[i].len == RPCT_NTS ? strlen(a[i].v.s) : a[i].len);
        break;
      case RPCT_VALUE_INT:
        fprintf(f, ",\"type\":\"int\",\"value\":\"%" PRId64 "\"", a[i].v.i);
        break;
      case RPCT_VALUE_DOUBLE: fprintf(f, ",\"type\":\"double\",\"value\":%.17g", a[i].v.d); break;
      case RPCT_VALUE_BOOL:
        fprintf(f, ",\"type\":\"bool\",\"value\":%s", a[i].v.b ? "true" : "false");
        break;
      case RPCT_VALUE_STRING_ARRAY:
        fputs(",\"type\":\"array\",\"value\":[", f);
        for (size_t e = 0; e < a[i].len; e++) {
          fputs(e ? ",{\"type\":\"string\",\"value\":" : "{\"type\":\"string\",\"value\":", f);
          json_cstr(f, a[i].v.sa[e]);
          fputc('}', f);
        }
        fputc(']', f);
        break;
    }
    fputc('}', f);
  }
  fputc(']', f);
}

static int write_expectations(const char *path, const rpct_resource *res, const char *scope_name,
                              const char *scope_version, const expected_span *spans, size_t n) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return -1;
  }
  fputs("{\"resource\":{\"attributes\":[", f);
  for (size_t i = 0; i < rpct_resource_count(res); i++) {
    const char *k, *v;
    rpct_resource_at(res, i, &k, &v);
    if (i) fputc(',', f);
    fputs("{\"key\":", f);
    json_cstr(f, k);
    fputs(",\"type\":\"string\",\"value\":", f);
    json_cstr(f, v);
    fputc('}', f);
  }
  fputs("]},\n\"scope\":{\"name\":", f);
  json_cstr(f, scope_name);
  fputs(",\"version\":", f);
  json_cstr(f, scope_version);
  fputs("},\n\"spans\":[", f);
  for (size_t i = 0; i < n; i++) {
    const expected_span *s = &spans[i];
    if (i) fputc(',', f);
    fputs("\n{\"traceId\":", f);
    json_trace_id(f, &s->ctx.trace_id);
    fputs(",\"spanId\":", f);
    json_span_id(f, &s->ctx.span_id);
    fputs(",\"parentSpanId\":", f);
    if (rpct_span_context_is_valid(&s->parent))
      json_span_id(f, &s->parent.span_id);
    else
      fputs("\"\"", f);
    fprintf(f, ",\"parentRemote\":%s", s->parent.remote ? "true" : "false");
    fprintf(f, ",\"traceFlags\":%u", (unsigned)s->ctx.flags);
    fputs(",\"traceState\":", f);
    json_str(f, s->ctx.tracestate.buf, s->ctx.tracestate.len);
    fputs(",\"name\":", f);
    json_cstr(f, s->name);
    fprintf(f, ",\"kind\":%d", (int)s->kind);
    fprintf(f, ",\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\"",
            s->start_unix_ns, s->end_unix_ns);
    fputs(",\n \"attributes\":", f);
    json_attrs(f, s->attrs, s->n_attrs);
    fprintf(f, ",\n \"status\":{\"code\":%d,\"message\":", (int)s->status);
    json_cstr(f, s->status_message);
    fputs("},\n \"events\":[", f);
    for (size_t e = 0; e < s->n_events; e++) {
      if (e) fputc(',', f);
      fprintf(f, "{\"timeUnixNano\":\"%" PRIu64 "\",\"name\":", s->events[e].time_unix_ns);
      json_cstr(f, s->events[e].name);
      fputs(",\"attributes\":", f);
      json_attrs(f, s->events[e].attrs, s->events[e].n_attrs);
      fputc('}', f);
    }
    fputs("],\n \"links\":[", f);
    for (size_t l = 0; l < s->n_links; l++) {
      const expected_link *lk = &s->links[l];
      if (l) fputc(',', f);
      fputs("{\"traceId\":", f);
      json_trace_id(f, &lk->ctx.trace_id);
      fputs(",\"spanId\":", f);
      json_span_id(f, &lk->ctx.span_id);
      fputs(",\"traceState\":", f);
      json_str(f, lk->ctx.tracestate.buf, lk->ctx.tracestate.len);
      fprintf(f, ",\"traceFlags\":%u,\"remote\":%s,\"attributes\":", (unsigned)lk->ctx.flags,
              lk->ctx.remote ? "true" : "false");
      json_attrs(f, lk->attrs, lk->n_attrs);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  fputs("\n]}\n", f);
  if (fclose(f) != 0) {
    perror(path);
    return -1;
  }
  return 0;
}

/* ---- The spans ---- */

/* The remote parent of the server span, as a W3C-propagated request brings
 * it (the example of the Trace Context specification). */
static const char k_traceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
static const char k_tracestate[] = "congo=t61rcWkgMzE";
/* A context in another trace that the internal span links to. */
static const char k_link_traceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
static const char k_link_tracestate[] = "rojo=00f067aa0ba902b7";

/* Plain initializers (the RPCT_ATTR_* macros are compound literals, which a
 * static initializer may not use in ISO C). */
#define A_STR(k, val) \
  { .key = (k), .type = RPCT_VALUE_STRING, .v.s = (val), .len = RPCT_NTS }
#define A_INT(k, val) \
  { .key = (k), .type = RPCT_VALUE_INT, .v.i = (val) }
#define A_DOUBLE(k, val) \
  { .key = (k), .type = RPCT_VALUE_DOUBLE, .v.d = (val) }
#define A_BOOL(k, val) \
  { .key = (k), .type = RPCT_VALUE_BOOL, .v.b = (val) }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define A_STRV(k, vals) \
  { .key = (k), .type = RPCT_VALUE_STRING_ARRAY, .v.sa = (vals), .len = COUNT(vals) }

/* A string[] as metadata attributes carry: one element per value. */
static const char *const k_forwarded[] = {"1.2.3.4", "", "e\xc3\xa9 \"q\""};

static const rpct_attribute k_client_attrs[] = {
    A_STR("rpc.system", "grpc"),
    A_STR("rpc.service", "user.v1.UserService"),
    A_STR("rpc.method", "GetUser"),
    A_INT("rpc.grpc.status_code", 0),
    A_INT("server.port", 50051),
    A_DOUBLE("rpct.test.ratio", 0.1), /* not exact in binary: 17 digits needed */
    A_DOUBLE("rpct.test.avogadro", 6.02214076e23),
    A_DOUBLE("rpct.test.negative_double", -2.5),
    A_INT("rpct.test.negative", -42),
    A_INT("rpct.test.above_2_53", INT64_C(9007199254740993)),
    A_INT("rpct.test.int64_min", INT64_MIN),
    A_BOOL("rpct.test.retried", true),
    A_BOOL("rpct.test.cached", false),
    A_STR("rpct.test.escapes",
          "quote\" backslash\\ slash/ tab\t newline\n ctrl\x01 e\xc3\xa9 check\xe2\x9c\x93"),
    A_STR("rpct.test.empty", ""),
    A_STRV("rpc.request.header.x-forwarded-for", k_forwarded),
    {.key = "rpct.test.empty_array", .type = RPCT_VALUE_STRING_ARRAY, .v.sa = NULL, .len = 0},
};

static const rpct_attribute k_client_event_attrs[] = {
    A_STR("rpc.message.type", "SENT"),
    A_INT("rpc.message.id", 1),
    A_INT("rpc.message.uncompressed_size", 17),
};

static const rpct_attribute k_server_attrs[] = {
    A_STR("rpc.system", "grpc"),
    A_STR("rpc.service", "user.v1.UserService"),
    A_STR("rpc.method", "GetUser"),
    A_INT("rpc.grpc.status_code", 0),
};

static const rpct_attribute k_internal_attrs[] = {
    A_STR("db.system", "redis"),
    A_BOOL("cache.hit", false),
};

static const rpct_attribute k_internal_event_attrs[] = {
    A_STR("cache.key", "user:42"),
    A_INT("cache.shard", 3),
    A_DOUBLE("cache.lookup_ms", 1.25),
};

static const rpct_attribute k_link_local_attrs[] = {
    A_STR("link.kind", "caller"),
};

static const rpct_attribute k_link_remote_attrs[] = {
    A_STR("link.reason", "batched-with"),
    A_INT("link.batch_size", 8),
};

static void set_attrs(rpct_span *span, const rpct_attribute *a, size_t n) {
  for (size_t i = 0; i < n; i++) CHECK(rpct_span_set_attribute(span, &a[i]));
}

static void start_span(rpct_span *span, rpct_tracer *tracer, expected_span *e,
                       const rpct_span_context *parent) {
  rpct_span_start_args args = {
      .name = e->name,
      .name_len = RPCT_NTS,
      .kind = e->kind,
      .parent = parent,
      .start_unix_ns = e->start_unix_ns,
  };
  CHECK(rpct_span_start_ex(span, tracer, &args));
  if (!rpct_span_is_recording(span)) {
    fprintf(stderr, "otlp_interop_client: span %s does not record\n", e->name);
    failures++;
  }
  e->ctx = *rpct_span_get_context(span);
  e->parent = *parent;
  set_attrs(span, e->attrs, e->n_attrs);
}

static void add_events_and_links(rpct_span *span, const expected_span *e) {
  for (size_t i = 0; i < e->n_events; i++)
    CHECK(rpct_span_add_event(span, e->events[i].name, e->events[i].time_unix_ns,
                              e->events[i].attrs, e->events[i].n_attrs));
  for (size_t i = 0; i < e->n_links; i++)
    CHECK(rpct_span_add_link(span, &e->links[i].ctx, e->links[i].attrs, e->links[i].n_attrs));
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5 ||
      (argc == 5 && strcmp(argv[4], "none") != 0 && strcmp(argv[4], "gzip") != 0)) {
    fprintf(stderr, "usage: %s ENDPOINT JSONL_PATH EXPECTATIONS_PATH [none|gzip]\n", argv[0]);
    return 2;
  }
  const char *endpoint = argv[1], *jsonl_path = argv[2], *expect_path = argv[3];
  bool gzip = argc == 5 && strcmp(argv[4], "gzip") == 0;
  rpct_set_diag_handler(on_diag, NULL);

  /* The exporters, behind one simple processor: every span is exported
   * synchronously when it ends, as one request (gRPC) and one line (JSON). */
  fanout fan = {0};
  rpct_otlp_options opts = {
      .endpoint = endpoint,
      .timeout_ms = 10000,
      .compression = gzip ? RPCT_OTLP_COMPRESSION_GZIP : RPCT_OTLP_COMPRESSION_NONE,
      .insecure = RPCT_OTLP_PLAINTEXT,
      .initial_backoff_ms = 100,
      .max_backoff_ms = 500,
  };
  int rc = rpct_otlp_exporter_new(&fan.grpc, &opts, NULL);
  if (rc < 0) {
    fail("rpct_otlp_exporter_new", rc);
    return 1;
  }
  rc = rpct_otlp_file_exporter_new(&fan.json, jsonl_path, NULL);
  if (rc < 0) {
    fail("rpct_otlp_file_exporter_new", rc);
    rpct_exporter_del(fan.grpc);
    return 1;
  }
  rpct_exporter *fan_exporter = NULL;
  rc = rpct_exporter_new(&fan_exporter, &fanout_ops, &fan, NULL);
  if (rc < 0) {
    fail("rpct_exporter_new", rc);
    fanout_destroy(&fan);
    return 1;
  }
  rpct_processor *processor = NULL;
  rc = rpct_simple_processor_new(&processor, fan_exporter, NULL);
  if (rc < 0) {
    fail("rpct_simple_processor_new", rc);
    rpct_exporter_del(fan_exporter);
    return 1;
  }

  rpct_resource *resource = NULL;
  rpct_sampler *sampler = NULL, *root_sampler = NULL;
  rpct_tracer_options *topts = NULL;
  rpct_tracer *tracer = NULL;
  static const char scope_name[] = "rpctrace.interop", scope_version[] = "0.0.1-interop";
  if ((rc = rpct_resource_from_env(&resource, NULL)) < 0 ||
      (rc = rpct_resource_set(resource, "service.name", "interop-client")) < 0 ||
      (rc = rpct_resource_set(resource, "deployment.environment", "test")) < 0 ||
      (rc = rpct_sampler_always_on_new(&root_sampler, NULL)) < 0 ||
      (rc = rpct_sampler_parent_based_new(&sampler, root_sampler, NULL, NULL, NULL, NULL, NULL)) <
          0 ||
      (rc = rpct_tracer_options_new(&topts)) < 0) {
    fail("setting up the resource, sampler and options", rc);
    return 1;
  }
  rpct_tracer_options_set_resource(topts, resource);
  rpct_tracer_options_set_sampler(topts, sampler);
  rpct_tracer_options_set_processor(topts, processor);
  CHECK(rpct_tracer_options_set_scope(topts, scope_name, scope_version));
  rc = rpct_tracer_new(&tracer, topts);
  rpct_tracer_options_del(topts);
  if (rc < 0) {
    fail("rpct_tracer_new", rc);
    return 1;
  }

  /* Contexts from outside: the server span's remote parent and a link. */
  rpct_span_context remote_parent, remote_link;
  CHECK(rpct_traceparent_parse(k_traceparent, strlen(k_traceparent), &remote_parent));
  CHECK(rpct_tracestate_parse(k_tracestate, strlen(k_tracestate), &remote_parent.tracestate));
  CHECK(rpct_traceparent_parse(k_link_traceparent, strlen(k_link_traceparent), &remote_link));
  CHECK(
      rpct_tracestate_parse(k_link_tracestate, strlen(k_link_tracestate), &remote_link.tracestate));
  const rpct_span_context no_parent = {0};

  expected_span client = {
      .name = "user.v1.UserService/GetUser",
      .kind = RPCT_SPAN_KIND_CLIENT,
      .start_unix_ns = T0,
      .end_unix_ns = T0 + 87654321,
      .attrs = k_client_attrs,
      .n_attrs = COUNT(k_client_attrs),
      .status = RPCT_STATUS_ERROR,
      .status_message = "deadline exceeded: \"GetUser\" took too long",
      .events = {{"message", T0 + 500, k_client_event_attrs, COUNT(k_client_event_attrs)}},
      .n_events = 1,
  };
  expected_span server = {
      .name = "user.v1.UserService/GetUser",
      .kind = RPCT_SPAN_KIND_SERVER,
      .start_unix_ns = T0 + 1000000,
      .end_unix_ns = T0 + 80000000,
      .attrs = k_server_attrs,
      .n_attrs = COUNT(k_server_attrs),
      .status = RPCT_STATUS_OK,
      .status_message = "",
  };
  expected_span internal = {
      .name = "cache.lookup",
      .kind = RPCT_SPAN_KIND_INTERNAL,
      .start_unix_ns = T0 + 2000000,
      .end_unix_ns = T0 + 3500001,
      .attrs = k_internal_attrs,
      .n_attrs = COUNT(k_internal_attrs),
      .status = RPCT_STATUS_UNSET,
      .status_message = "",
      .events = {{"cache.miss", T0 + 2500000, k_internal_event_attrs,
                  COUNT(k_internal_event_attrs)}},
      .n_events = 1,
  };

  rpct_span s_client, s_server, s_internal;
  memset(&s_client, 0, sizeof s_client);
  memset(&s_server, 0, sizeof s_server);
  memset(&s_internal, 0, sizeof s_internal);

  start_span(&s_client, tracer, &client, &no_parent);
  add_events_and_links(&s_client, &client);
  CHECK(rpct_span_set_status(&s_client, RPCT_STATUS_ERROR, client.status_message));

  start_span(&s_server, tracer, &server, &remote_parent);
  CHECK(rpct_span_set_status(&s_server, RPCT_STATUS_OK, NULL));

  internal.links[0] = (expected_link){client.ctx, k_link_local_attrs, COUNT(k_link_local_attrs)};
  internal.links[1] = (expected_link){remote_link, k_link_remote_attrs, COUNT(k_link_remote_attrs)};
  internal.n_links = 2;
  start_span(&s_internal, tracer, &internal, &server.ctx);
  add_events_and_links(&s_internal, &internal);

  /* Sanity of the C side itself before anything is compared. */
  if (memcmp(&server.ctx.trace_id, &remote_parent.trace_id, sizeof server.ctx.trace_id) != 0 ||
      memcmp(&internal.ctx.trace_id, &remote_parent.trace_id, sizeof internal.ctx.trace_id) != 0) {
    fprintf(stderr, "otlp_interop_client: child spans are not in their parent's trace\n");
    failures++;
  }

  expected_span ended[N_SPANS];
  size_t n_ended = 0;
  CHECK(rpct_span_end(&s_internal, internal.end_unix_ns));
  ended[n_ended++] = internal;
  CHECK(rpct_span_end(&s_server, server.end_unix_ns));
  ended[n_ended++] = server;
  CHECK(rpct_span_end(&s_client, client.end_unix_ns));
  ended[n_ended++] = client;

  if (write_expectations(expect_path, rpct_tracer_resource(tracer), scope_name, scope_version,
                         ended, n_ended) != 0)
    failures++;

  rpct_tracer_stats stats;
  rpct_tracer_get_stats(tracer, &stats);
  CHECK(rpct_tracer_shutdown(tracer, 10000));
  rpct_tracer_del(tracer);

  fprintf(stderr,
          "otlp_interop_client: spans ended %" PRIu64
          ", OTLP/gRPC: %u exported, %u failed exports; "
          "OTLP/JSON: %u exported, %u failed exports\n",
          stats.spans_ended, fan.grpc_spans_ok, fan.grpc_failures, fan.json_spans_ok,
          fan.json_failures);
  if (stats.spans_ended != N_SPANS || fan.grpc_spans_ok != N_SPANS ||
      fan.json_spans_ok != N_SPANS || fan.grpc_failures || fan.json_failures) {
    fprintf(stderr, "otlp_interop_client: expected %d spans through each exporter\n", N_SPANS);
    failures++;
  }
  return failures ? 1 : 0;
}
