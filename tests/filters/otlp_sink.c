/*
 * otlp_sink: a test OTLP/gRPC trace collector meant to run in a process of
 * its own, untraced (plain gRPC core; it links rpctrace_static only for the
 * generated OTLP protobuf-c code, and calls nothing of rpctrace).
 *
 *   otlp_sink SPANS_FILE
 *
 * Listens on 127.0.0.1 (a free port), prints "port <n>" on stdout once it
 * accepts calls, serves /opentelemetry.proto.collector.trace.v1.TraceService/
 * Export one call at a time, and appends every span received to SPANS_FILE
 * as a span_check `span` line (flushed per request); every call to another
 * method is answered UNIMPLEMENTED and noted on stdout. It stops on SIGTERM
 * or SIGINT (or after 120 s), printing how many requests and spans it took.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "span_check.h"

#define EXPORT "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define MAX_RUN_S 120

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest otlp_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse otlp_response;
typedef Opentelemetry__Proto__Trace__V1__Span otlp_span;

enum { TAG_REQUEST = 100, TAG_RECV, TAG_SEND, TAG_SHUTDOWN };
#define TAG(t) ((void *)(uintptr_t)(t))

static grpc_server *server;
static grpc_completion_queue *cq;
static atomic_bool stopping;

static void hex(const ProtobufCBinaryData *b, char *out, size_t cap) {
  static const char d[] = "0123456789abcdef";
  size_t n = 0;
  for (size_t i = 0; i < b->len && 2 * i + 2 < cap; i++) {
    out[n++] = d[b->data[i] >> 4];
    out[n++] = d[b->data[i] & 15];
  }
  out[n] = '\0';
}

static void to_model(const otlp_span *p, sc_span *s) {
  memset(s, 0, sizeof *s);
  hex(&p->trace_id, s->trace_id, sizeof s->trace_id);
  hex(&p->span_id, s->span_id, sizeof s->span_id);
  hex(&p->parent_span_id, s->parent_id, sizeof s->parent_id);
  s->kind = (int)p->kind;
  snprintf(s->name, sizeof s->name, "%s", p->name ? p->name : "");
  if (p->status) {
    s->status = (int)p->status->code;
    snprintf(s->status_msg, sizeof s->status_msg, "%s", p->status->message ? p->status->message : "");
  }
  for (size_t i = 0; i < p->n_attributes; i++) {
    const Opentelemetry__Proto__Common__V1__KeyValue *kv = p->attributes[i];
    const Opentelemetry__Proto__Common__V1__AnyValue *v = kv->value;
    char buf[SC_TEXT] = "";
    char type = '?';
    if (v) {
      switch (v->value_case) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
          type = 's';
          snprintf(buf, sizeof buf, "%s", v->string_value);
          break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
          type = 'i';
          snprintf(buf, sizeof buf, "%lld", (long long)v->int_value);
          break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
          type = 'b';
          snprintf(buf, sizeof buf, "%s", v->bool_value ? "true" : "false");
          break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
          type = 'd';
          snprintf(buf, sizeof buf, "%.17g", v->double_value);
          break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
          type = 'a';
          size_t used = 0;
          for (size_t e = 0; v->array_value && e < v->array_value->n_values && used < sizeof buf;
               e++) {
            const Opentelemetry__Proto__Common__V1__AnyValue *x = v->array_value->values[e];
            const char *str = x && x->value_case ==
                                       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
                                  ? x->string_value
                                  : "?";
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? "," : "", str);
          }
          break;
        }
        default: break;
      }
    }
    sc_span_attr(s, kv->key, type, buf);
  }
}

/* Write the request's spans; returns how many. */
static size_t record(FILE *out, grpc_byte_buffer *bb, bool *decoded) {
  *decoded = false;
  if (!bb) return 0;
  grpc_byte_buffer_reader r;
  if (!grpc_byte_buffer_reader_init(&r, bb)) return 0;
  grpc_slice all = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  otlp_request *req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  if (!req) return 0;
  *decoded = true;
  size_t n = 0;
  static sc_span s;
  for (size_t i = 0; i < req->n_resource_spans; i++)
    for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++) {
      const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[i]->scope_spans[j];
      for (size_t k = 0; k < ss->n_spans; k++, n++) {
        to_model(ss->spans[k], &s);
        sc_write_span(out, &s);
      }
    }
  fflush(out);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
  return n;
}

static void *signal_main(void *arg) {
  sigset_t *set = arg;
  struct timespec limit = {.tv_sec = MAX_RUN_S};
  int sig = sigtimedwait(set, NULL, &limit);
  if (sig < 0) fprintf(stderr, "otlp_sink: no signal after %d s, stopping\n", MAX_RUN_S);
  atomic_store(&stopping, true);
  grpc_server_shutdown_and_notify(server, cq, TAG(TAG_SHUTDOWN));
  grpc_server_cancel_all_calls(server);
  return NULL;
}

/* Wait for `want`; other events may only be the shutdown tag. */
static bool wait_for(int want, bool *ok, bool *shutdown_seen) {
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE) return false;
    if ((uintptr_t)ev.tag == TAG_SHUTDOWN) {
      *shutdown_seen = true;
      continue;
    }
    if ((uintptr_t)ev.tag != (uintptr_t)want) {
      fprintf(stderr, "otlp_sink: unexpected tag %p\n", ev.tag);
      abort();
    }
    *ok = ev.success != 0;
    return true;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: otlp_sink SPANS_FILE\n", stderr);
    return 2;
  }
  FILE *out = fopen(argv[1], "w");
  if (!out) {
    fprintf(stderr, "otlp_sink: cannot write %s\n", argv[1]);
    return 1;
  }
  /* Every thread (gRPC's too) inherits the blocked signals; one thread
   * waits for them. */
  static sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  grpc_init();
  cq = grpc_completion_queue_create_for_next(NULL);
  server = grpc_server_create(NULL, NULL);
  grpc_server_register_completion_queue(server, cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  if (port <= 0) {
    fputs("otlp_sink: cannot listen\n", stderr);
    return 1;
  }
  grpc_server_start(server);
  pthread_t sig_thread;
  pthread_create(&sig_thread, NULL, signal_main, &set);
  printf("port %d\n", port);
  fflush(stdout);

  size_t requests = 0, spans = 0, others = 0;
  bool shutdown_seen = false;
  while (!atomic_load(&stopping) || !shutdown_seen) {
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_call_details_init(&details);
    grpc_metadata_array_init(&md);
    bool ok = false;
    if (grpc_server_request_call(server, &call, &details, &md, cq, cq, TAG(TAG_REQUEST)) !=
            GRPC_CALL_OK ||
        !wait_for(TAG_REQUEST, &ok, &shutdown_seen)) {
      grpc_call_details_destroy(&details);
      grpc_metadata_array_destroy(&md);
      break;
    }
    if (!ok) { /* shutting down */
      grpc_call_details_destroy(&details);
      grpc_metadata_array_destroy(&md);
      if (!shutdown_seen) continue;
      break;
    }
    bool is_export = GRPC_SLICE_LENGTH(details.method) == strlen(EXPORT) &&
                     !memcmp(GRPC_SLICE_START_PTR(details.method), EXPORT, strlen(EXPORT));
    grpc_byte_buffer *req = NULL, *resp = NULL;
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_MESSAGE;
    ops[0].data.recv_message.recv_message = &req;
    grpc_call_start_batch(call, ops, 1, TAG(TAG_RECV), NULL);
    wait_for(TAG_RECV, &ok, &shutdown_seen);
    grpc_status_code status = GRPC_STATUS_OK;
    if (is_export) {
      bool decoded;
      size_t n = record(out, req, &decoded);
      requests++;
      spans += n;
      if (!decoded) status = GRPC_STATUS_INVALID_ARGUMENT;
    } else {
      others++;
      printf("not an export: %.*s\n", (int)GRPC_SLICE_LENGTH(details.method),
             (const char *)GRPC_SLICE_START_PTR(details.method));
      status = GRPC_STATUS_UNIMPLEMENTED;
    }
    if (status == GRPC_STATUS_OK) {
      otlp_response r = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
      uint8_t buf[64];
      size_t len = protobuf_c_message_pack(&r.base, buf);
      grpc_slice s = grpc_slice_from_copied_buffer((const char *)buf, len);
      resp = grpc_raw_byte_buffer_create(&s, 1);
      grpc_slice_unref(s);
    }
    grpc_slice details_slice = grpc_slice_from_static_string("");
    int cancelled = 0;
    memset(ops, 0, sizeof ops);
    size_t k = 0;
    ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (resp) {
      ops[k].op = GRPC_OP_SEND_MESSAGE;
      ops[k++].data.send_message.send_message = resp;
    }
    ops[k].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[k].data.send_status_from_server.status = status;
    ops[k++].data.send_status_from_server.status_details = &details_slice;
    ops[k].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[k++].data.recv_close_on_server.cancelled = &cancelled;
    grpc_call_start_batch(call, ops, k, TAG(TAG_SEND), NULL);
    wait_for(TAG_SEND, &ok, &shutdown_seen);
    if (req) grpc_byte_buffer_destroy(req);
    if (resp) grpc_byte_buffer_destroy(resp);
    grpc_call_unref(call);
    grpc_call_details_destroy(&details);
    grpc_metadata_array_destroy(&md);
  }
  pthread_join(sig_thread, NULL);
  grpc_server_destroy(server);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  grpc_shutdown();
  fclose(out);
  printf("otlp_sink: %zu export requests, %zu spans, %zu other calls\n", requests, spans, others);
  return 0;
}
