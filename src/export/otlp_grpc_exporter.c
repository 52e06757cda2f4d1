/*
 * OTLP/gRPC exporter: ExportTraceServiceRequest over gRPC core to
 * /opentelemetry.proto.collector.trace.v1.TraceService/Export, with the
 * retry rules of the OTLP specification. Runs on the export thread.
 *
 * Its channel is registered as internal (rpct__is_internal_channel), so
 * the call filters never trace the exporter's own RPCs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "internal.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "rpctrace/rpc_status.pb-c.h"

#define EXPORT_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define DEFAULT_ENDPOINT "http://localhost:4317"
#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_INITIAL_BACKOFF_MS 1000u
#define DEFAULT_MAX_BACKOFF_MS 5000u
#define RETRY_INFO_TYPE "type.googleapis.com/google.rpc.RetryInfo"
#define MAX_HEADERS 32

/* ---- internal channels ---- */

/* Channels of rpctrace's own exporters. Written under internal_lock, read
 * lock-free by the call filters (a stale read only matters for a channel
 * being created or destroyed, and those make no calls then). */
#define MAX_INTERNAL_CHANNELS 16
static _Atomic(const void *) internal_channels[MAX_INTERNAL_CHANNELS];
static pthread_mutex_t internal_lock = PTHREAD_MUTEX_INITIALIZER;

static void internal_channel_set(const void *old, const void *now) {
  pthread_mutex_lock(&internal_lock);
  for (int i = 0; i < MAX_INTERNAL_CHANNELS; i++) {
    if (atomic_load(&internal_channels[i]) == old) {
      atomic_store(&internal_channels[i], now);
      break;
    }
  }
  pthread_mutex_unlock(&internal_lock);
}

bool rpct__is_internal_channel(const void *channel) {
  for (int i = 0; i < MAX_INTERNAL_CHANNELS; i++)
    if (channel && atomic_load_explicit(&internal_channels[i], memory_order_acquire) == channel)
      return true;
  return false;
}

/* ---- the exporter ---- */

typedef struct otlp_exporter {
  rpct_allocator alloc_copy;
  const rpct_allocator *alloc;
  char *target; /* host:port for gRPC */
  char *endpoint_shown; /* as configured, for messages */
  grpc_channel *channel;
  grpc_completion_queue *cq;
  grpc_metadata headers[MAX_HEADERS];
  size_t n_headers;
  uint32_t timeout_ms, initial_backoff_ms, max_backoff_ms;
  uint64_t rng; /* backoff jitter; export thread only */

  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t wake;  /* interrupts a backoff sleep at shutdown */
  bool shut_down;
  grpc_call *in_flight; /* cancelled by shutdown */
} otlp_exporter;

/* ---- configuration ---- */

/* The trace-specific variable, else the general one. */
static const char *otlp_env(const char *suffix, size_t *len, const char **name_out) {
  static _Thread_local char name[96];
  snprintf(name, sizeof name, "OTEL_EXPORTER_OTLP_TRACES_%s", suffix);
  const char *v = rpct__env_get(name, len);
  if (!v) {
    snprintf(name, sizeof name, "OTEL_EXPORTER_OTLP_%s", suffix);
    v = rpct__env_get(name, len);
  }
  if (name_out) *name_out = name;
  return v;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* "http://user@h:p/path?q#f" -> "h:p" and whether the scheme asked for
 * TLS (-1: no scheme); *userinfo tells whether there was a "user@". The
 * userinfo never reaches gRPC: OTLP/gRPC authenticates with headers, and
 * core would put the whole target, password included, in its resolver
 * errors and logs. NULL on allocation failure. */
static char *endpoint_target(const rpct_allocator *a, const char *ep, size_t len, int *tls,
                             bool *userinfo) {
  *tls = -1;
  if (len >= 7 && strncasecmp(ep, "http://", 7) == 0) {
    ep += 7, len -= 7, *tls = 0;
  } else if (len >= 8 && strncasecmp(ep, "https://", 8) == 0) {
    ep += 8, len -= 8, *tls = 1;
  }
  size_t auth = 0;
  while (auth < len && ep[auth] != '/' && ep[auth] != '?' && ep[auth] != '#') auth++;
  len = auth;
  const char *at = NULL;
  for (size_t i = 0; i < len; i++)
    if (ep[i] == '@') at = ep + i;
  *userinfo = at != NULL;
  if (at) {
    len -= (size_t)(at + 1 - ep);
    ep = at + 1;
  }
  /* No port: OTLP/gRPC's 4317. A bracketed IPv6 address has its own ':'. */
  const char *close = memchr(ep, ']', len);
  const char *after = close ? close : ep;
  bool has_port = memchr(after, ':', len - (size_t)(after - ep)) != NULL;
  char *t = rpct__alloc(a, len + 6 + 1);
  if (!t) return NULL;
  memcpy(t, ep, len);
  if (has_port)
    t[len] = '\0';
  else
    snprintf(t + len, 7, ":4317");
  return t;
}

/* What gRPC core accepts in a non-binary metadata value: printable ASCII,
 * 0x20-0x7E (grpc_header_nonbin_value_is_legal). Anything else (the CR LF
 * of a token file saved on Windows, "%0A", UTF-8 such as "%C3%A9") makes
 * every export fail in grpc_call_start_batch, and core logs the whole
 * value, the secret, on each attempt: so it is refused here, up front. */
static bool header_value_is_legal(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7E) return false;
  return true;
}

static int add_header(void *data, const char *key, size_t key_len, const char *value,
                      size_t value_len, const char **why) {
  otlp_exporter *x = data;
  if (x->n_headers == MAX_HEADERS) {
    *why = "is one header too many (at most 32)";
    return RPCT_ERR_LIMIT;
  }
  /* gRPC metadata keys are lowercase. */
  char k[256];
  if (key_len >= sizeof k) {
    *why = "has a key longer than 255 bytes";
    return RPCT_ERR_LIMIT;
  }
  for (size_t i = 0; i < key_len; i++)
    k[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] - 'A' + 'a' : key[i]);
  grpc_slice ks = grpc_slice_from_copied_buffer(k, key_len);
  if (!grpc_header_key_is_legal(ks) || grpc_is_binary_header(ks)) {
    grpc_slice_unref(ks);
    *why = "has a key that is not a gRPC metadata key (0-9 a-z _ - ., not ending in -bin)";
    return RPCT_ERR_PARSE;
  }
  if (!header_value_is_legal(value, value_len)) {
    grpc_slice_unref(ks);
    *why =
        "has a value with a byte gRPC does not accept in metadata (control or non-ASCII, "
        "after percent-decoding; only 0x20-0x7E)";
    return RPCT_ERR_PARSE;
  }
  x->headers[x->n_headers].key = ks;
  x->headers[x->n_headers].value = grpc_slice_from_copied_buffer(value, value_len);
  x->n_headers++;
  return RPCT_OK;
}

static void headers_clear(otlp_exporter *x) {
  for (size_t i = 0; i < x->n_headers; i++) {
    grpc_slice_unref(x->headers[i].key);
    grpc_slice_unref(x->headers[i].value);
  }
  x->n_headers = 0;
}

/* Headers from the options or the environment. A list with a bad member
 * is reported by the member's position and key, never a value (they are
 * API keys and tokens), and ignored whole: sending the rest would fail
 * authentication anyway, and less clearly. */
static int configure_headers(otlp_exporter *x, const char *from_opts) {
  size_t len = 0;
  const char *name = "rpct_otlp_options.headers";
  const char *s = from_opts;
  if (s)
    len = strlen(s);
  else
    s = otlp_env("HEADERS", &len, &name);
  if (!s) return RPCT_OK;
  rpct__kv_error err;
  int rc = rpct__kv_list_parse(s, len, x->alloc, add_header, x, &err);
  if (rc == RPCT_ERR_NO_MEMORY) {
    headers_clear(x);
    return rc;
  }
  if (rc != RPCT_OK) {
    headers_clear(x);
    char where[RPCT__KV_WHERE_BUF];
    rpct__diag_once(name, "%s %s %s; no headers are sent", name, rpct__kv_error_where(where, &err),
                    err.why ? err.why : "is refused");
  }
  return RPCT_OK;
}

static int configure_compression(int from_opts) {
  if (from_opts) return from_opts;
  size_t len;
  const char *name;
  const char *v = otlp_env("COMPRESSION", &len, &name);
  if (!v) return RPCT_OTLP_COMPRESSION_NONE;
  if (len == 4 && strncasecmp(v, "gzip", 4) == 0) return RPCT_OTLP_COMPRESSION_GZIP;
  if (len == 4 && strncasecmp(v, "none", 4) == 0) return RPCT_OTLP_COMPRESSION_NONE;
  char q[RPCT__QUOTE_BUF];
  rpct__diag_once(name, "%s=\"%s\" is not gzip or none; using none", name, rpct__quote(q, v, len));
  return RPCT_OTLP_COMPRESSION_NONE;
}

static uint32_t configure_timeout(uint32_t from_opts) {
  if (from_opts) return from_opts;
  const char *name;
  if (!otlp_env("TIMEOUT", NULL, &name)) return DEFAULT_TIMEOUT_MS;
  return (uint32_t)rpct__env_uint(name, DEFAULT_TIMEOUT_MS, 1, 24u * 3600 * 1000);
}

/* TLS: the scheme decides; without one OTEL_EXPORTER_OTLP_INSECURE does
 * (default false: TLS). */
static bool configure_tls(int from_opts, int scheme_tls) {
  if (from_opts) return from_opts == RPCT_OTLP_TLS;
  if (scheme_tls >= 0) return scheme_tls == 1;
  const char *name;
  if (!otlp_env("INSECURE", NULL, &name)) return true;
  return !rpct__env_bool(name, false);
}

static char *read_file(const rpct_allocator *a, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n >= 0 && n < (1 << 24) && fseek(f, 0, SEEK_SET) == 0 && (buf = rpct__alloc(a, (size_t)n + 1))) {
      if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        rpct__free(a, buf);
        buf = NULL;
      } else {
        buf[n] = '\0';
      }
    }
  }
  fclose(f);
  return buf;
}

static grpc_channel_credentials *make_credentials(otlp_exporter *x, bool tls, const char *cert_opt) {
  if (!tls) return grpc_insecure_credentials_create();
  size_t len = 0;
  const char *name = "rpct_otlp_options.certificate_file";
  char path[4096];
  const char *cert = cert_opt;
  if (!cert) {
    const char *v = otlp_env("CERTIFICATE", &len, &name);
    if (v && len < sizeof path) {
      memcpy(path, v, len);
      path[len] = '\0';
      cert = path;
    }
  }
  char *pem = NULL;
  if (cert) {
    pem = read_file(x->alloc, cert);
    if (!pem) {
      int e = errno;
      char q[RPCT__QUOTE_BUF];
      rpct__diag_once(name, "%s: cannot read \"%s\" (%s); using the system's root certificates",
                      name, rpct__quote(q, cert, strlen(cert)), strerror(e));
    }
  }
  grpc_channel_credentials *c = grpc_ssl_credentials_create(pem, NULL, NULL, NULL);
  rpct__free(x->alloc, pem);
  return c;
}

/* ---- one export ---- */

static uint64_t next_random(otlp_exporter *x) {
  x->rng ^= x->rng << 13;
  x->rng ^= x->rng >> 7;
  x->rng ^= x->rng << 17;
  return x->rng;
}

static bool retryable(grpc_status_code c) {
  switch (c) {
    case GRPC_STATUS_CANCELLED:
    case GRPC_STATUS_DEADLINE_EXCEEDED:
    case GRPC_STATUS_ABORTED:
    case GRPC_STATUS_OUT_OF_RANGE:
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_DATA_LOSS:
      return true;
    default:
      return false;
  }
}

int64_t rpct__retry_delay_ms(int64_t seconds, int32_t nanos) {
  /* Past this many seconds, seconds * 1000 plus the nanos' at most 2148 ms
   * would not fit: saturate instead of overflowing (undefined behaviour). */
  const int64_t limit = INT64_MAX / 1000 - 3;
  if (seconds > limit) return INT64_MAX;
  if (seconds < -limit) return 0;
  /* Round a partial millisecond up: the delay is a minimum. */
  int64_t n = nanos;
  int64_t ms = seconds * 1000 + (n >= 0 ? (n + 999999) / 1000000 : n / 1000000);
  return ms < 0 ? 0 : ms;
}

/* The RetryInfo delay in the trailing grpc-status-details-bin, or -1 when
 * there is none. A RetryInfo without a delay asks for none: 0. */
static int64_t retry_info_ms(const grpc_metadata_array *trailers) {
  for (size_t i = 0; i < trailers->count; i++) {
    if (grpc_slice_str_cmp(trailers->metadata[i].key, "grpc-status-details-bin") != 0) continue;
    grpc_slice v = trailers->metadata[i].value;
    Rpctrace__Wire__RpcStatus *st = rpctrace__wire__rpc_status__unpack(
        NULL, GRPC_SLICE_LENGTH(v), GRPC_SLICE_START_PTR(v));
    if (!st) return -1;
    int64_t ms = -1;
    for (size_t d = 0; d < st->n_details && ms < 0; d++) {
      if (strcmp(st->details[d]->type_url, RETRY_INFO_TYPE) != 0) continue;
      Rpctrace__Wire__RetryInfo *ri = rpctrace__wire__retry_info__unpack(
          NULL, st->details[d]->value.len, st->details[d]->value.data);
      if (!ri) continue;
      const Rpctrace__Wire__WireDuration *delay = ri->retry_delay;
      ms = delay ? rpct__retry_delay_ms(delay->seconds, delay->nanos) : 0;
      rpctrace__wire__retry_info__free_unpacked(ri, NULL);
    }
    rpctrace__wire__rpc_status__free_unpacked(st, NULL);
    return ms;
  }
  return -1;
}

typedef struct attempt_result {
  grpc_status_code code;
  char details[256];
  int64_t retry_after_ms; /* RetryInfo, or -1 */
  int64_t rejected;       /* partial success */
  char partial_message[256];
} attempt_result;

static void attempt(otlp_exporter *x, const uint8_t *payload, size_t len, gpr_timespec deadline,
                    attempt_result *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_ms = -1;
  grpc_slice method = grpc_slice_from_static_string(EXPORT_METHOD);
  grpc_call *call = grpc_channel_create_call(x->channel, NULL, GRPC_PROPAGATE_DEFAULTS, x->cq,
                                             method, NULL, deadline, NULL);
  pthread_mutex_lock(&x->lock);
  bool stop = x->shut_down;
  x->in_flight = stop ? NULL : call;
  pthread_mutex_unlock(&x->lock);
  if (stop) {
    grpc_call_unref(call);
    r->code = GRPC_STATUS_CANCELLED;
    snprintf(r->details, sizeof r->details, "exporter shut down");
    return;
  }

  grpc_slice body = grpc_slice_from_copied_buffer((const char *)payload, len);
  grpc_byte_buffer *request = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  grpc_byte_buffer *response = NULL;
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = x->n_headers;
  ops[0].data.send_initial_metadata.metadata = x->n_headers ? x->headers : NULL;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = request;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &response;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
  ops[5].data.recv_status_on_client.status = &r->code;
  ops[5].data.recv_status_on_client.status_details = &details;

  grpc_call_error err = grpc_call_start_batch(call, ops, 6, x, NULL);
  if (err == GRPC_CALL_OK) {
    /* The deadline bounds the call, so the pluck returns. */
    grpc_completion_queue_pluck(x->cq, x, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  } else {
    r->code = GRPC_STATUS_INTERNAL;
    snprintf(r->details, sizeof r->details, "grpc_call_start_batch failed (%d)", (int)err);
  }
  pthread_mutex_lock(&x->lock);
  x->in_flight = NULL;
  pthread_mutex_unlock(&x->lock);

  if (err == GRPC_CALL_OK) {
    snprintf(r->details, sizeof r->details, "%.*s", (int)GRPC_SLICE_LENGTH(details),
             (const char *)GRPC_SLICE_START_PTR(details));
    if (r->code == GRPC_STATUS_RESOURCE_EXHAUSTED) r->retry_after_ms = retry_info_ms(&trailing);
    if (r->code == GRPC_STATUS_OK && response) {
      grpc_byte_buffer_reader reader;
      if (grpc_byte_buffer_reader_init(&reader, response)) {
        grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
        Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *resp =
            opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
                NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
        if (resp && resp->partial_success) {
          r->rejected = resp->partial_success->rejected_spans;
          snprintf(r->partial_message, sizeof r->partial_message, "%s",
                   resp->partial_success->error_message ? resp->partial_success->error_message
                                                        : "");
        }
        if (resp)
          opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
              resp, NULL);
        grpc_slice_unref(all);
        grpc_byte_buffer_reader_destroy(&reader);
      }
    }
  }
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_byte_buffer_destroy(request);
  if (response) grpc_byte_buffer_destroy(response);
  grpc_call_unref(call);
}

static int64_t ms_until(gpr_timespec t) {
  gpr_timespec left = gpr_time_sub(t, gpr_now(GPR_CLOCK_MONOTONIC));
  return left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

/* Sleep `ms` unless shutdown comes first; false when it did. */
static bool backoff_sleep(otlp_exporter *x, int64_t ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
  pthread_mutex_lock(&x->lock);
  while (!x->shut_down && pthread_cond_timedwait(&x->wake, &x->lock, &until) != ETIMEDOUT) {
  }
  bool ok = !x->shut_down;
  pthread_mutex_unlock(&x->lock);
  return ok;
}

static int otlp_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  otlp_exporter *x = impl;
  if (n == 0) return 0;
  pthread_mutex_lock(&x->lock);
  bool stop = x->shut_down;
  pthread_mutex_unlock(&x->lock);
  if (stop) return RPCT_ERR_STATE;

  uint8_t *payload;
  size_t len;
  int rc = rpct__otlp_encode(spans, n, x->alloc, &payload, &len);
  if (rc != RPCT_OK) return rc;

  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis(x->timeout_ms, GPR_TIMESPAN));
  attempt_result r;
  uint32_t backoff = x->initial_backoff_ms;
  for (;;) {
    attempt(x, payload, len, deadline, &r);
    bool again = retryable(r.code) || (r.code == GRPC_STATUS_RESOURCE_EXHAUSTED && r.retry_after_ms >= 0);
    if (r.code == GRPC_STATUS_OK || !again) break;
    /* Full jitter: a random wait up to the current backoff step. With
     * RetryInfo, its delay but never less than the step itself: the delay
     * is a minimum ("wait at least this long", google.rpc.RetryInfo), and
     * repeated failures should still back off exponentially. Without this
     * floor a collector answering delay 0 set the retry rate (9,152
     * re-sends of a batch in 25 s); with it RESOURCE_EXHAUSTED, the status
     * of an overloaded collector, is retried no faster than our own
     * backoff, un-jittered: initial delay, doubling up to the maximum.
     * Never wait or retry past the export's deadline. */
    int64_t wait;
    if (r.retry_after_ms >= 0)
      wait = r.retry_after_ms > (int64_t)backoff ? r.retry_after_ms : (int64_t)backoff;
    else
      wait = (int64_t)(next_random(x) % ((uint64_t)backoff + 1));
    if (wait >= ms_until(deadline) || !backoff_sleep(x, wait)) break;
    backoff = backoff > x->max_backoff_ms / 2 ? x->max_backoff_ms : backoff * 2;
  }
  rpct__free(x->alloc, payload);

  if (r.code != GRPC_STATUS_OK) {
    char key[64];
    snprintf(key, sizeof key, "otlp.export.status.%d", (int)r.code);
    char q[RPCT__QUOTE_BUF];
    rpct__diag_once(key, "OTLP export to %s failed: status %d (%s); %zu spans lost",
                    x->endpoint_shown, (int)r.code, rpct__quote(q, r.details, strlen(r.details)), n);
    return RPCT_ERR_EXPORT;
  }
  if (r.rejected > 0 || r.partial_message[0]) {
    char q[RPCT__QUOTE_BUF];
    rpct__diag_once("otlp.partial_success",
                    "OTLP collector at %s rejected %lld of %zu spans: \"%s\"", x->endpoint_shown,
                    (long long)r.rejected, n,
                    rpct__quote(q, r.partial_message, strlen(r.partial_message)));
  }
  if (r.rejected < 0) return 0;
  return r.rejected > (int64_t)n ? (int)n : (int)r.rejected;
}

static int otlp_shutdown(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  otlp_exporter *x = impl;
  pthread_mutex_lock(&x->lock);
  x->shut_down = true;
  if (x->in_flight) grpc_call_cancel(x->in_flight, NULL);
  pthread_cond_broadcast(&x->wake);
  pthread_mutex_unlock(&x->lock);
  return RPCT_OK;
}

static void otlp_destroy(void *impl) {
  otlp_exporter *x = impl;
  if (x->channel) {
    internal_channel_set(x->channel, NULL);
    grpc_channel_destroy(x->channel);
  }
  if (x->cq) {
    grpc_completion_queue_shutdown(x->cq);
    /* A pluck queue is drained with pluck: every batch was plucked, so
     * this returns GRPC_QUEUE_SHUTDOWN at once. */
    while (grpc_completion_queue_pluck(x->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(x->cq);
  }
  headers_clear(x);
  pthread_cond_destroy(&x->wake);
  pthread_mutex_destroy(&x->lock);
  const rpct_allocator *a = x->alloc;
  rpct__free(a, x->target);
  rpct__free(a, x->endpoint_shown);
  rpct__free(a, x);
  grpc_shutdown();
}

static const rpct_exporter_ops otlp_ops = {
    .export_spans = otlp_export,
    .shutdown = otlp_shutdown,
    .destroy = otlp_destroy,
};

int rpct_otlp_exporter_new(rpct_exporter **out, const rpct_otlp_options *opts,
                           const rpct_allocator *alloc) {
  static const rpct_otlp_options none;
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  if (!opts) opts = &none;
  otlp_exporter *x = rpct__calloc(alloc, 1, sizeof *x);
  if (!x) return RPCT_ERR_NO_MEMORY;
  if (alloc) x->alloc_copy = *alloc, x->alloc = &x->alloc_copy;
  pthread_mutex_init(&x->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&x->wake, &ca);
  pthread_condattr_destroy(&ca);
  grpc_init(); /* balanced by grpc_shutdown() in otlp_destroy */

  size_t len;
  const char *ep = opts->endpoint;
  if (ep) {
    len = strlen(ep);
  } else {
    ep = otlp_env("ENDPOINT", &len, NULL);
    if (!ep) ep = DEFAULT_ENDPOINT, len = strlen(DEFAULT_ENDPOINT);
  }
  while (len && is_blank(*ep)) ep++, len--;
  int scheme_tls;
  bool userinfo;
  x->target = endpoint_target(x->alloc, ep, len, &scheme_tls, &userinfo);
  /* Messages show the endpoint with its credentials masked, never as given. */
  char shown[RPCT__ENDPOINT_SHOWN_MAX];
  x->endpoint_shown =
      rpct__strndup(x->alloc, rpct__endpoint_shown(shown, sizeof shown, ep, len), RPCT_NTS);
  if (x->target && userinfo)
    rpct__diag_once("otlp.endpoint.userinfo",
                    "the OTLP endpoint %s has user information: it is not sent (give credentials "
                    "in OTEL_EXPORTER_OTLP_HEADERS)",
                    x->endpoint_shown ? x->endpoint_shown : "");
  x->timeout_ms = configure_timeout(opts->timeout_ms);
  x->initial_backoff_ms = opts->initial_backoff_ms ? opts->initial_backoff_ms : DEFAULT_INITIAL_BACKOFF_MS;
  x->max_backoff_ms = opts->max_backoff_ms ? opts->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
  x->rng = (uint64_t)(uintptr_t)x ^ rpct__now_mono_ns() ^ 0x9e3779b97f4a7c15u;
  if (!x->rng) x->rng = 1;
  x->cq = grpc_completion_queue_create_for_pluck(NULL);
  int rc = (x->target && x->endpoint_shown && x->cq) ? configure_headers(x, opts->headers)
                                                    : RPCT_ERR_NO_MEMORY;
  rpct_exporter *e = NULL;
  if (rc == RPCT_OK) {
    bool tls = configure_tls(opts->insecure, scheme_tls);
    grpc_channel_credentials *creds = make_credentials(x, tls, opts->certificate_file);
    grpc_arg args[1];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
    args[0].value.integer = configure_compression(opts->compression) == RPCT_OTLP_COMPRESSION_GZIP
                                ? GRPC_COMPRESS_GZIP
                                : GRPC_COMPRESS_NONE;
    grpc_channel_args chargs = {1, args};
    x->channel = grpc_channel_create(x->target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    internal_channel_set(NULL, x->channel);
    rc = rpct_exporter_new(&e, &otlp_ops, x, alloc);
  }
  if (rc != RPCT_OK) {
    otlp_destroy(x);
    return rc;
  }
  *out = e;
  return RPCT_OK;
}
