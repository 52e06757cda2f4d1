/*
 * A fake OTLP/gRPC collector on the gRPC core C API (see fake_collector.h).
 *
 * One thread owns the completion queue and serves one call at a time: it
 * requests a call, reads its request message, decides the answer from the
 * mode and the attempt's index, and sends initial metadata, the response
 * (for OK), the status with its trailing metadata, and waits for the close.
 * Calls that arrive meanwhile wait in the server until the next request.
 * The thread tracks how many of its operations are outstanding so that,
 * after the shutdown tag, it leaves only when the queue will stay quiet.
 */
#include "fake_collector.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "rpctrace/rpc_status.pb-c.h"

/* Under ThreadSanitizer, tests/tsan_options.c (linked into every test
 * program) tells TSan to ignore uninstrumented gRPC internals. */

/* Completion queue tags (never 0). */
enum { TAG_REQUEST = 1, TAG_RECV, TAG_SEND, TAG_SHUTDOWN };
#define TAG(t) ((void *)(uintptr_t)(t))

static const char retry_info_type_url[] = "type.googleapis.com/google.rpc.RetryInfo";

/* A recorded attempt and where its ids sit in fake_collector.ids. */
typedef struct fc_record {
  fc_attempt a;
  size_t first_id;
} fc_record;

/* The call being served; touched by the serving thread only. */
typedef struct fc_call {
  bool in_use;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array request_md;
  grpc_byte_buffer *request;
  grpc_byte_buffer *response;
  grpc_slice status_details;
  grpc_metadata trailer;
  size_t n_trailers;
  int cancelled;
} fc_call;

struct fake_collector {
  fc_config cfg;       /* cfg.error_message and cfg.header_key are NULL */
  char *error_message; /* owned copy */
  char *header_key;    /* owned copy */
  grpc_server *server;
  grpc_completion_queue *cq;
  int port;
  pthread_t thread;
  fc_call cur; /* serving thread only */

  /* Everything below is under `lock`; `cond` is signalled when an attempt
   * is recorded and when stopping is set. */
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC */
  bool stopping;
  fc_record *records;
  size_t n_records, cap_records;
  rpct_span_id *ids;
  size_t n_ids, cap_ids;
};

uint64_t fc_now_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec mono_deadline(uint32_t ms) {
  uint64_t t = fc_now_mono_ns() + (uint64_t)ms * 1000000u;
  return (struct timespec){.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
}

static bool is_stopping(fake_collector *fc) {
  pthread_mutex_lock(&fc->lock);
  bool s = fc->stopping;
  pthread_mutex_unlock(&fc->lock);
  return s;
}

/* Grow *arr (elements of `size` bytes) so that `need` fit. Aborts on
 * failure: a test helper that cannot record is of no use. */
static void reserve(void **arr, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *p = realloc(*arr, n * size);
  if (!p) abort();
  *arr = p;
  *cap = n;
}

/* ---- the call being served ---- */

static void call_reset(fc_call *c) {
  memset(c, 0, sizeof *c);
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->request_md);
  c->status_details = grpc_empty_slice();
  c->trailer.key = grpc_empty_slice();
  c->trailer.value = grpc_empty_slice();
}

static void call_end(fc_call *c) {
  if (!c->in_use) return;
  if (c->call) grpc_call_unref(c->call);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->request_md);
  if (c->request) grpc_byte_buffer_destroy(c->request);
  if (c->response) grpc_byte_buffer_destroy(c->response);
  grpc_slice_unref(c->status_details);
  grpc_slice_unref(c->trailer.key);
  grpc_slice_unref(c->trailer.value);
  memset(c, 0, sizeof *c);
}

/* Ask for the next call unless stopping. true when a TAG_REQUEST event
 * will come. */
static bool request_next(fake_collector *fc) {
  if (is_stopping(fc)) return false;
  fc_call *c = &fc->cur;
  call_reset(c);
  c->in_use = true;
  if (grpc_server_request_call(fc->server, &c->call, &c->details, &c->request_md, fc->cq, fc->cq,
                               TAG(TAG_REQUEST)) != GRPC_CALL_OK) {
    call_end(c);
    return false;
  }
  return true;
}

static bool start_recv(fake_collector *fc) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &fc->cur.request;
  return grpc_call_start_batch(fc->cur.call, &op, 1, TAG(TAG_RECV), NULL) == GRPC_CALL_OK;
}

/* ---- recording ---- */

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest otlp_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse otlp_response;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess otlp_partial;

static otlp_request *decode_request(grpc_byte_buffer *bb) {
  if (!bb) return NULL;
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) return NULL;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  otlp_request *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
          NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  return req;
}

/* The status the mode gives attempt `idx`. */
static grpc_status_code decide(const fc_config *cfg, size_t idx) {
  switch (cfg->mode) {
    case FC_UNAVAILABLE_THEN_ACCEPT:
      return idx < cfg->fail_first ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_OK;
    case FC_EXHAUSTED_RETRY_INFO:
    case FC_EXHAUSTED_RETRY_DURATION:
      return idx < cfg->fail_first ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_OK;
    case FC_EXHAUSTED: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case FC_INVALID_ARGUMENT: return GRPC_STATUS_INVALID_ARGUMENT;
    case FC_ACCEPT:
    case FC_PARTIAL_SUCCESS:
    case FC_SLOW: break;
  }
  return GRPC_STATUS_OK;
}

/* The value of request header `key` into out (cut to fit); false when the
 * request has none. */
static bool find_header(const grpc_metadata_array *md, const char *key, char *out, size_t size) {
  for (size_t i = 0; key && i < md->count; i++) {
    if (grpc_slice_str_cmp(md->metadata[i].key, key) != 0) continue;
    grpc_slice v = md->metadata[i].value;
    snprintf(out, size, "%.*s", (int)GRPC_SLICE_LENGTH(v), (const char *)GRPC_SLICE_START_PTR(v));
    return true;
  }
  return false;
}

/* Record the attempt whose request was just read; returns the answer. */
static grpc_status_code record_attempt(fake_collector *fc, const otlp_request *req) {
  fc_record r = {.a = {.arrival_mono_ns = fc_now_mono_ns(), .decoded = req != NULL}};
  r.a.has_header =
      find_header(&fc->cur.request_md, fc->header_key, r.a.header_value, sizeof r.a.header_value);
  pthread_mutex_lock(&fc->lock);
  r.first_id = fc->n_ids;
  for (size_t i = 0; req && i < req->n_resource_spans; i++) {
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[i];
    for (size_t j = 0; j < rs->n_scope_spans; j++) {
      const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[j];
      for (size_t k = 0; k < ss->n_spans; k++) {
        const ProtobufCBinaryData *id = &ss->spans[k]->span_id;
        rpct_span_id sid;
        memset(&sid, 0, sizeof sid);
        memcpy(sid.bytes, id->data, id->len < sizeof sid.bytes ? id->len : sizeof sid.bytes);
        reserve((void **)&fc->ids, &fc->cap_ids, fc->n_ids + 1, sizeof *fc->ids);
        fc->ids[fc->n_ids++] = sid;
        r.a.n_spans++;
      }
    }
  }
  r.a.answered = decide(&fc->cfg, fc->n_records);
  reserve((void **)&fc->records, &fc->cap_records, fc->n_records + 1, sizeof *fc->records);
  fc->records[fc->n_records++] = r;
  pthread_cond_broadcast(&fc->cond);
  pthread_mutex_unlock(&fc->lock);
  return r.a.answered;
}

/* FC_SLOW: wait delay_ms, or less if fc_stop comes first. */
static void slow_wait(fake_collector *fc) {
  struct timespec until = mono_deadline(fc->cfg.delay_ms);
  pthread_mutex_lock(&fc->lock);
  while (!fc->stopping && pthread_cond_timedwait(&fc->cond, &fc->lock, &until) == 0) {
  }
  pthread_mutex_unlock(&fc->lock);
}

/* ---- answering ---- */

static grpc_byte_buffer *packed_buffer(const ProtobufCMessage *m) {
  size_t len = protobuf_c_message_get_packed_size(m);
  grpc_slice s = grpc_slice_malloc(len);
  protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

/* google.rpc.Status{code, message, details=[Any{RetryInfo{delay}}]} as the
 * value of grpc-status-details-bin (raw bytes: core does the base64). */
static grpc_slice retry_info_status(int64_t seconds, int32_t nanos) {
  Rpctrace__Wire__WireDuration d = RPCTRACE__WIRE__WIRE_DURATION__INIT;
  d.seconds = seconds;
  d.nanos = nanos;
  Rpctrace__Wire__RetryInfo ri = RPCTRACE__WIRE__RETRY_INFO__INIT;
  ri.retry_delay = &d;
  uint8_t ri_buf[64];
  size_t ri_len = rpctrace__wire__retry_info__get_packed_size(&ri);
  if (ri_len > sizeof ri_buf) abort();
  rpctrace__wire__retry_info__pack(&ri, ri_buf);

  Rpctrace__Wire__AnyDetail any = RPCTRACE__WIRE__ANY_DETAIL__INIT;
  any.type_url = (char *)retry_info_type_url;
  any.value.data = ri_buf;
  any.value.len = ri_len;
  Rpctrace__Wire__AnyDetail *details[1] = {&any};
  Rpctrace__Wire__RpcStatus st = RPCTRACE__WIRE__RPC_STATUS__INIT;
  st.code = GRPC_STATUS_RESOURCE_EXHAUSTED;
  st.message = (char *)"fake collector: resource exhausted, retry later";
  st.n_details = 1;
  st.details = details;
  grpc_slice s = grpc_slice_malloc(rpctrace__wire__rpc_status__get_packed_size(&st));
  rpctrace__wire__rpc_status__pack(&st, GRPC_SLICE_START_PTR(s));
  return s;
}

/* Read the request, record it, answer. true when a TAG_SEND event will
 * come. */
static bool answer(fake_collector *fc) {
  fc_call *c = &fc->cur;
  otlp_request *req = decode_request(c->request);
  grpc_status_code status = record_attempt(fc, req);
  if (req)
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            NULL);

  if (fc->cfg.mode == FC_SLOW) slow_wait(fc);

  const char *msg = "fake collector: ok";
  if (status == GRPC_STATUS_OK) {
    otlp_response resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    otlp_partial partial =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    if (fc->cfg.mode == FC_PARTIAL_SUCCESS) {
      partial.rejected_spans = fc->cfg.rejected_spans;
      if (fc->error_message) partial.error_message = fc->error_message;
      resp.partial_success = &partial;
    }
    c->response = packed_buffer(&resp.base);
  } else if (status == GRPC_STATUS_UNAVAILABLE) {
    msg = "fake collector: unavailable";
  } else if (status == GRPC_STATUS_INVALID_ARGUMENT) {
    msg = "fake collector: invalid argument";
  } else if (status == GRPC_STATUS_RESOURCE_EXHAUSTED) {
    msg = "fake collector: resource exhausted";
    if (fc->cfg.mode == FC_EXHAUSTED_RETRY_INFO || fc->cfg.mode == FC_EXHAUSTED_RETRY_DURATION) {
      bool ms = fc->cfg.mode == FC_EXHAUSTED_RETRY_INFO;
      c->trailer.key = grpc_slice_from_static_string("grpc-status-details-bin");
      c->trailer.value = retry_info_status(
          ms ? fc->cfg.retry_delay_ms / 1000 : fc->cfg.retry_seconds,
          ms ? (int32_t)(fc->cfg.retry_delay_ms % 1000) * 1000000 : fc->cfg.retry_nanos);
      c->n_trailers = 1;
    }
  }
  c->status_details = grpc_slice_from_copied_string(msg);

  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n++].data.send_initial_metadata.count = 0;
  if (c->response) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->response;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.trailing_metadata_count = c->n_trailers;
  ops[n].data.send_status_from_server.trailing_metadata = c->n_trailers ? &c->trailer : NULL;
  ops[n].data.send_status_from_server.status = status;
  ops[n++].data.send_status_from_server.status_details = &c->status_details;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
  return grpc_call_start_batch(c->call, ops, n, TAG(TAG_SEND), NULL) == GRPC_CALL_OK;
}

/* ---- the serving thread ---- */

static void *serve(void *arg) {
  fake_collector *fc = arg;
  int outstanding = 0; /* our operations whose events have not come yet */
  bool shutdown_seen = false;
  if (request_next(fc)) outstanding++;
  while (!(shutdown_seen && outstanding == 0)) {
    grpc_event ev = grpc_completion_queue_next(fc->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break; /* not expected: fc_stop shuts it after us */
    if (ev.type != GRPC_OP_COMPLETE) continue;
    bool next_stage = false;
    switch ((uintptr_t)ev.tag) {
      case TAG_SHUTDOWN: shutdown_seen = true; continue;
      case TAG_REQUEST:
        outstanding--;
        next_stage = ev.success && start_recv(fc);
        break;
      case TAG_RECV:
        outstanding--;
        next_stage = ev.success && answer(fc);
        break;
      case TAG_SEND: outstanding--; break;
      default: abort();
    }
    if (next_stage) {
      outstanding++;
    } else {
      call_end(&fc->cur);
      if (request_next(fc)) outstanding++;
    }
  }
  return NULL;
}

/* ---- lifecycle ---- */

static void drain_and_destroy_cq(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

static void free_collector(fake_collector *fc) {
  pthread_cond_destroy(&fc->cond);
  pthread_mutex_destroy(&fc->lock);
  free(fc->records);
  free(fc->ids);
  free(fc->error_message);
  free(fc->header_key);
  free(fc);
}

int fc_start(fake_collector **out, const fc_config *cfg) {
  if (!out || !cfg) return -1;
  fake_collector *fc = calloc(1, sizeof *fc);
  if (!fc) return -1;
  fc->cfg = *cfg;
  fc->cfg.error_message = NULL;
  fc->cfg.header_key = NULL;
  if ((cfg->error_message && !(fc->error_message = strdup(cfg->error_message))) ||
      (cfg->header_key && !(fc->header_key = strdup(cfg->header_key)))) {
    free(fc->error_message);
    free(fc);
    return -1;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&fc->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&fc->lock, NULL);

  grpc_init();
  fc->cq = grpc_completion_queue_create_for_next(NULL);
  fc->server = grpc_server_create(NULL, NULL);
  grpc_server_register_completion_queue(fc->server, fc->cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  fc->port = grpc_server_add_http2_port(fc->server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  if (fc->port <= 0) {
    grpc_server_destroy(fc->server); /* never started: no shutdown needed */
    drain_and_destroy_cq(fc->cq);
    grpc_shutdown();
    free_collector(fc);
    return -1;
  }
  grpc_server_start(fc->server);
  if (pthread_create(&fc->thread, NULL, serve, fc) != 0) {
    grpc_server_shutdown_and_notify(fc->server, fc->cq, TAG(TAG_SHUTDOWN));
    grpc_server_cancel_all_calls(fc->server);
    while ((uintptr_t)grpc_completion_queue_next(fc->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
               .tag != TAG_SHUTDOWN) {
    }
    grpc_server_destroy(fc->server);
    drain_and_destroy_cq(fc->cq);
    grpc_shutdown();
    free_collector(fc);
    return -1;
  }
  *out = fc;
  return 0;
}

void fc_stop(fake_collector *fc) {
  if (!fc) return;
  pthread_mutex_lock(&fc->lock);
  fc->stopping = true;
  pthread_cond_broadcast(&fc->cond);
  pthread_mutex_unlock(&fc->lock);
  /* The shutdown tag comes once no call is left; cancelling the calls in
   * progress makes that immediate. */
  grpc_server_shutdown_and_notify(fc->server, fc->cq, TAG(TAG_SHUTDOWN));
  grpc_server_cancel_all_calls(fc->server);
  pthread_join(fc->thread, NULL);
  grpc_server_destroy(fc->server);
  drain_and_destroy_cq(fc->cq);
  grpc_shutdown();
  free_collector(fc);
}

int fc_port(const fake_collector *fc) { return fc->port; }

size_t fc_attempt_count(fake_collector *fc) {
  pthread_mutex_lock(&fc->lock);
  size_t n = fc->n_records;
  pthread_mutex_unlock(&fc->lock);
  return n;
}

bool fc_attempt_get(fake_collector *fc, size_t i, fc_attempt *out) {
  pthread_mutex_lock(&fc->lock);
  bool ok = i < fc->n_records;
  if (ok) *out = fc->records[i].a;
  pthread_mutex_unlock(&fc->lock);
  return ok;
}

size_t fc_attempt_span_ids(fake_collector *fc, size_t i, rpct_span_id *out, size_t cap) {
  pthread_mutex_lock(&fc->lock);
  size_t n = 0;
  if (i < fc->n_records) {
    n = fc->records[i].a.n_spans;
    size_t copy = n < cap ? n : cap;
    if (copy) memcpy(out, fc->ids + fc->records[i].first_id, copy * sizeof *out);
  }
  pthread_mutex_unlock(&fc->lock);
  return n;
}

bool fc_wait_attempts(fake_collector *fc, size_t n, uint32_t timeout_ms) {
  struct timespec until = mono_deadline(timeout_ms);
  pthread_mutex_lock(&fc->lock);
  while (fc->n_records < n && pthread_cond_timedwait(&fc->cond, &fc->lock, &until) == 0) {
  }
  bool ok = fc->n_records >= n;
  pthread_mutex_unlock(&fc->lock);
  return ok;
}
