/*
 * Unary RPC throughput with and without rpctrace (a program, not a test: it
 * prints figures; tests/bench/bench_rpc.sh runs both builds and compares
 * them, scripts/bench.sh runs everything). One source, two programs:
 *
 *   bench_rpc_plain   -DRPCT_UNTRACED: gRPC core only; no rpctrace header is
 *                     included and no rpctrace library is linked. This is
 *                     the baseline of DESIGN.md's performance model.
 *   bench_rpc_traced  linked with rpctrace::wrap. rpct_init() gets a tracer
 *                     with the sampler of OTEL_TRACES_SAMPLER (default
 *                     parentbased_always_on) and the batch processor (the
 *                     specification's defaults: queue 2048, batch 512,
 *                     delay 5000 ms) over a user exporter that counts the
 *                     spans it receives and discards them, so the figure is
 *                     what tracing costs, not what I/O costs (--exporter
 *                     otlp: what I/O costs too). At the end it checks that
 *                     the exporter received 2 spans per RPC when sampled
 *                     (one CLIENT, and one SERVER whose parent is remote:
 *                     the context crossed the wire), none when not.
 *
 * In one process: a server on 127.0.0.1 (a free port) with --server-threads
 * threads, each with its own completion queue, echoing /bench.Echo/Unary;
 * and --clients client threads, each with a channel and a pluck queue of
 * its own, making one unary RPC after another (a 6-op batch, a deadline of
 * 10 s, a --payload byte request echoed back). After --warmup seconds the
 * RPCs completed in the next --duration seconds are counted, and the
 * process's CPU time over those seconds (all threads) is divided by them:
 * on a shared machine CPU time per RPC is less disturbed than RPC/s by other
 * jobs taking the cores (not immune: caches and clock speed are shared).
 *
 * Allocations: malloc and friends are replaced in both programs by
 * functions that forward to glibc (under a sanitizer, whose allocator
 * cannot be replaced, a malloc hook counts instead). They count only with
 * --count-allocs, and then count every allocation of the process (client,
 * server, gRPC's own threads, rpctrace's export thread) during the measured
 * window, divided by the RPCs completed in it. Throughput runs pay one
 * untaken branch per allocation, the same in both programs; a --count-allocs
 * run's RPC/s is not a throughput figure (an atomic add per allocation).
 *
 *   bench_rpc_{plain,traced} [--clients N] [--server-threads N]
 *       [--duration S] [--warmup S] [--rpcs N] [--payload BYTES]
 *       [--unregistered] [--count-allocs] [--latency-out FILE]
 *       [--send-traceparent (plain only)]
 *       [--exporter discard|otlp] [--otlp-endpoint HOST:PORT] (traced only)
 *
 * --rpcs N: instead of a warm-up and a measured window, make exactly N RPCs
 * (spread over the clients) and stop; the whole run is the window. For
 * callgrind, whose instruction counts are compared between two values of N
 * so that set-up and tear-down cancel (tests/bench/bench_callgrind.sh).
 * --latency-out FILE: each client times each of its RPCs in the measured
 * window (two CLOCK_MONOTONIC reads, in both programs alike) into a
 * log-linear histogram (bench_util.h); the merged histogram is written to
 * FILE as lines "LOW_NS HIGH_NS COUNT" and its quantiles printed.
 *
 * The traced program's sampler comes from OTEL_TRACES_SAMPLER (rpctrace's
 * rpct_sampler_from_env: parentbased_always_on when unset, always_off for
 * the "unsampled" runs). --exporter otlp replaces the discarding exporter
 * with rpctrace's OTLP/gRPC exporter sending to --otlp-endpoint (plaintext;
 * bench_otlp_sink is a receiver that discards), so encoding and sending are
 * in the figure; the check is then on the batch processor's counters
 * (every span accepted or dropped, every accepted one exported). Spans
 * dropped because the queue was full are printed: a run that drops spans
 * did less work than a traced program should, and says so.
 *
 * --unregistered: the client uses grpc_channel_create_call and the server
 * grpc_server_request_call instead of the registered-method calls.
 * --send-traceparent: the plain client sends a traceparent header of its
 * own (a new 55-byte value per call, as rpctrace sends). Not a baseline for
 * throughput; it splits the traced program's extra allocations into what
 * gRPC pays to carry one more header and what is allocated on rpctrace's
 * own code path (gRPC functions it calls included).
 * Exit status: 0, or 1 when an RPC failed or (traced) the span count is not
 * 2 x RPCs; 2 for a usage error.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "bench_util.h"

#ifndef RPCT_UNTRACED
#include "rpctrace/rpctrace.h"
#endif

#define METHOD "/bench.Echo/Unary"
#define CALL_DEADLINE_S 10
#define WAIT_SLACK_S 20 /* how far past its deadline a client wait may run */

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...);

/* ---- counting allocator ---- */

/* Written by the main thread only (on at the start of the measured window,
 * off at its end); read by every thread that allocates. */
static atomic_bool counting;
/* Added to by every allocating thread while `counting`; read by main. */
static atomic_ullong n_allocs;

static inline void count_alloc(void) {
  if (atomic_load_explicit(&counting, memory_order_relaxed))
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BENCH_SANITIZED 1
#endif
#endif

#ifdef BENCH_SANITIZED
/* From the sanitizer runtime's allocator interface (declared here because
 * gcc's Debian packages do not install its header). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t size) {
  (void)p, (void)size;
  count_alloc();
}
static void on_free(const volatile void *p) { (void)p; }
static void install_alloc_counter(void) {
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
/* Default visibility: the project builds with -fvisibility=hidden, and these
 * must be exported from the executable to interpose libgrpc's (and libc's)
 * calls, not only this program's. */
#define BENCH_EXPORT __attribute__((visibility("default")))
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
BENCH_EXPORT void *malloc(size_t n) {
  count_alloc();
  return __libc_malloc(n);
}
BENCH_EXPORT void *calloc(size_t n, size_t m) {
  count_alloc();
  return __libc_calloc(n, m);
}
BENCH_EXPORT void *realloc(void *p, size_t n) {
  count_alloc();
  return __libc_realloc(p, n);
}
BENCH_EXPORT void *memalign(size_t a, size_t n) {
  count_alloc();
  return __libc_memalign(a, n);
}
BENCH_EXPORT void *aligned_alloc(size_t a, size_t n) {
  count_alloc();
  return __libc_memalign(a, n);
}
BENCH_EXPORT int posix_memalign(void **out, size_t a, size_t n) {
  count_alloc();
  void *p = __libc_memalign(a, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
BENCH_EXPORT void free(void *p) { __libc_free(p); }
static void install_alloc_counter(void) {}
#endif

/* ---- helpers ---- */

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_rpc: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static gpr_timespec in_s(int s) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(s, GPR_TIMESPAN));
}

/* Shut a queue down, drain it, destroy it. */
static void queue_destroy(grpc_completion_queue *cq, bool pluck) {
  grpc_completion_queue_shutdown(cq);
  for (;;) {
    grpc_event ev = pluck ? grpc_completion_queue_pluck(cq, NULL, in_s(WAIT_SLACK_S), NULL)
                          : grpc_completion_queue_next(cq, in_s(WAIT_SLACK_S), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_QUEUE_TIMEOUT) die("a completion queue did not drain");
  }
  grpc_completion_queue_destroy(cq);
}

/* ---- options ---- */

typedef struct options {
  int clients;
  int server_threads;
  double duration_s;
  double warmup_s;
  size_t payload;
  bool unregistered;
  bool count_allocs;
  bool send_traceparent;
  unsigned long long rpcs; /* --rpcs: fixed count, 0: timed window */
  const char *latency_out; /* --latency-out FILE, or NULL */
  bool export_otlp;        /* traced: --exporter otlp */
  const char *otlp_endpoint;
} options;

static void usage(const char *argv0) {
#ifdef RPCT_UNTRACED
  const char *more = " [--send-traceparent]";
#else
  const char *more = "\n       [--exporter discard|otlp] [--otlp-endpoint HOST:PORT]";
#endif
  fprintf(stderr,
          "usage: %s [--clients N] [--server-threads N] [--duration S] [--warmup S]\n"
          "       [--rpcs N] [--payload BYTES] [--unregistered] [--count-allocs]\n"
          "       [--latency-out FILE]%s\n",
          argv0, more);
  exit(2);
}

static double arg_num(int argc, char **argv, int *i, double min, double max) {
  if (*i + 1 >= argc) usage(argv[0]);
  char *end;
  double v = strtod(argv[++*i], &end);
  if (*end || end == argv[*i] || !(v >= min && v <= max)) {
    fprintf(stderr, "%s: %s is not a number in [%g, %g]\n", argv[*i - 1], argv[*i], min, max);
    exit(2);
  }
  return v;
}

static options parse_options(int argc, char **argv) {
  options o = {.clients = 2, .server_threads = 2, .duration_s = 3, .warmup_s = 1, .payload = 32};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--clients"))
      o.clients = (int)arg_num(argc, argv, &i, 1, 256);
    else if (!strcmp(argv[i], "--server-threads"))
      o.server_threads = (int)arg_num(argc, argv, &i, 1, 256);
    else if (!strcmp(argv[i], "--duration"))
      o.duration_s = arg_num(argc, argv, &i, 0.1, 3600);
    else if (!strcmp(argv[i], "--warmup"))
      o.warmup_s = arg_num(argc, argv, &i, 0, 3600);
    else if (!strcmp(argv[i], "--payload"))
      o.payload = (size_t)arg_num(argc, argv, &i, 1, 1 << 20);
    else if (!strcmp(argv[i], "--unregistered"))
      o.unregistered = true;
    else if (!strcmp(argv[i], "--count-allocs"))
      o.count_allocs = true;
    else if (!strcmp(argv[i], "--rpcs"))
      o.rpcs = (unsigned long long)arg_num(argc, argv, &i, 1, 1e9);
    else if (!strcmp(argv[i], "--latency-out") && i + 1 < argc)
      o.latency_out = argv[++i];
#ifdef RPCT_UNTRACED
    else if (!strcmp(argv[i], "--send-traceparent"))
      o.send_traceparent = true;
#else
    else if (!strcmp(argv[i], "--exporter") && i + 1 < argc) {
      const char *v = argv[++i];
      if (strcmp(v, "discard") && strcmp(v, "otlp")) usage(argv[0]);
      o.export_otlp = !strcmp(v, "otlp");
    } else if (!strcmp(argv[i], "--otlp-endpoint") && i + 1 < argc)
      o.otlp_endpoint = argv[++i];
#endif
    else
      usage(argv[0]);
  }
  if (o.export_otlp && !o.otlp_endpoint) {
    fprintf(stderr, "--exporter otlp needs --otlp-endpoint HOST:PORT\n");
    exit(2);
  }
  if (o.rpcs && o.rpcs < (unsigned long long)o.clients) {
    fprintf(stderr, "--rpcs must be at least --clients\n");
    exit(2);
  }
  return o;
}

/* ---- server ---- */

/* A slot is one call the server works on at a time, reused call after call:
 * requested, then its message read, then the reply batch (initial metadata,
 * the echo, OK status, receive close), then released and requested again.
 * Exactly one event of a slot is outstanding at any time, and the slot
 * itself is its tag. Touched by its worker thread only. */
enum slot_state { S_REQUESTED, S_READING, S_REPLYING };

typedef struct server server;
typedef struct worker worker;

typedef struct slot {
  worker *w;
  int state;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_call_details details; /* --unregistered */
  grpc_metadata_array md;
  grpc_byte_buffer *msg;
  int cancelled;
} slot;

struct worker {
  server *srv;
  grpc_completion_queue *cq;
  pthread_t thread;
  slot *slots;
  int n_slots;
  int live; /* slots not retired (worker thread only) */
};

struct server {
  grpc_server *server;
  void *method; /* registered /bench.Echo/Unary, or NULL */
  int port;
  worker *workers;
  int n_workers;
  atomic_bool stopping;  /* set by main before shutdown; read by workers */
  char shutdown_tag;     /* its address is the tag of shutdown_and_notify */
  bool shutdown_seen;    /* worker 0 only */
  grpc_slice ok_details; /* empty */
};

static void slot_request(slot *s) {
  server *srv = s->w->srv;
  s->state = S_REQUESTED;
  grpc_metadata_array_init(&s->md);
  grpc_call_details_init(&s->details);
  grpc_call_error e = srv->method ? grpc_server_request_registered_call(
                                        srv->server, srv->method, &s->call, &s->deadline, &s->md,
                                        NULL, s->w->cq, s->w->cq, s)
                                  : grpc_server_request_call(srv->server, &s->call, &s->details,
                                                             &s->md, s->w->cq, s->w->cq, s);
  if (e != GRPC_CALL_OK) {
    if (!atomic_load(&srv->stopping)) die("server: request call: error %d", (int)e);
    grpc_metadata_array_destroy(&s->md);
    grpc_call_details_destroy(&s->details);
    s->w->live--;
  }
}

static void slot_release(slot *s) {
  if (s->msg) grpc_byte_buffer_destroy(s->msg);
  s->msg = NULL;
  grpc_metadata_array_destroy(&s->md);
  grpc_call_details_destroy(&s->details);
  grpc_call_unref(s->call);
  s->call = NULL;
  if (atomic_load_explicit(&s->w->srv->stopping, memory_order_relaxed))
    s->w->live--;
  else
    slot_request(s);
}

static void slot_start(slot *s, const grpc_op *ops, size_t n, int state) {
  s->state = state;
  grpc_call_error e = grpc_call_start_batch(s->call, ops, n, s, NULL);
  if (e != GRPC_CALL_OK) die("server: grpc_call_start_batch: error %d", (int)e);
}

static void slot_event(slot *s, bool ok) {
  switch (s->state) {
    case S_REQUESTED: {
      if (!ok) { /* the server is shutting down */
        grpc_metadata_array_destroy(&s->md);
        grpc_call_details_destroy(&s->details);
        s->w->live--;
        return;
      }
      grpc_op op;
      memset(&op, 0, sizeof op);
      op.op = GRPC_OP_RECV_MESSAGE;
      op.data.recv_message.recv_message = &s->msg;
      slot_start(s, &op, 1, S_READING);
      return;
    }
    case S_READING: {
      if (!ok || !s->msg) { /* cancelled: releasing the call ends it */
        slot_release(s);
        return;
      }
      grpc_op ops[4];
      memset(ops, 0, sizeof ops);
      ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
      ops[1].op = GRPC_OP_SEND_MESSAGE;
      ops[1].data.send_message.send_message = s->msg; /* the echo */
      ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
      ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
      ops[2].data.send_status_from_server.status_details = &s->w->srv->ok_details;
      ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
      ops[3].data.recv_close_on_server.cancelled = &s->cancelled;
      slot_start(s, ops, 4, S_REPLYING);
      return;
    }
    case S_REPLYING: slot_release(s); return;
    default: die("server: slot in state %d", s->state);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  server *srv = w->srv;
  bool first = w == &srv->workers[0];
  w->live = w->n_slots;
  for (int i = 0; i < w->n_slots; i++) slot_request(&w->slots[i]);
  while (w->live > 0 || (first && !srv->shutdown_seen)) {
    grpc_event ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE) die("server: unexpected queue event %d", (int)ev.type);
    if (ev.tag == &srv->shutdown_tag)
      srv->shutdown_seen = true;
    else
      slot_event(ev.tag, ev.success != 0);
  }
  return NULL;
}

static void server_start(server *srv, const options *o) {
  memset(srv, 0, sizeof *srv);
  srv->ok_details = grpc_empty_slice();
  srv->n_workers = o->server_threads;
  srv->workers = calloc((size_t)srv->n_workers, sizeof *srv->workers);
  if (!srv->workers) die("out of memory");
  srv->server = grpc_server_create(NULL, NULL);
  if (!o->unregistered) {
    srv->method = grpc_server_register_method(srv->server, METHOD, NULL, GRPC_SRM_PAYLOAD_NONE, 0);
    if (!srv->method) die("grpc_server_register_method failed");
  }
  for (int i = 0; i < srv->n_workers; i++) {
    worker *w = &srv->workers[i];
    w->srv = srv;
    w->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, w->cq, NULL);
    /* Enough requested calls that a client never waits for one. */
    w->n_slots = o->clients + 2;
    w->slots = calloc((size_t)w->n_slots, sizeof *w->slots);
    if (!w->slots) die("out of memory");
    for (int j = 0; j < w->n_slots; j++) w->slots[j].w = w;
  }
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  srv->port = grpc_server_add_http2_port(srv->server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  if (srv->port <= 0) die("could not listen on 127.0.0.1");
  grpc_server_start(srv->server);
  for (int i = 0; i < srv->n_workers; i++)
    if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0)
      die("pthread_create");
}

static void server_stop(server *srv) {
  atomic_store(&srv->stopping, true);
  grpc_server_shutdown_and_notify(srv->server, srv->workers[0].cq, &srv->shutdown_tag);
  grpc_server_cancel_all_calls(srv->server);
  for (int i = 0; i < srv->n_workers; i++) pthread_join(srv->workers[i].thread, NULL);
  grpc_server_destroy(srv->server);
  for (int i = 0; i < srv->n_workers; i++) {
    queue_destroy(srv->workers[i].cq, false);
    free(srv->workers[i].slots);
  }
  free(srv->workers);
}

/* ---- clients ---- */

/* Written by main (on at the start of the measured window, off at its
 * end); read by the clients to decide whether to time an RPC. */
static atomic_bool in_window;

typedef struct client {
  _Alignas(64) atomic_ullong done; /* RPCs completed (written by the client only) */
  atomic_ullong failed;
  grpc_channel *ch;
  void *method; /* grpc_channel_register_call handle, or NULL */
  size_t payload;
  bool send_traceparent;
  unsigned long long quota; /* --rpcs: this client's share; 0: until stop */
  uint64_t *hist;           /* --latency-out: BENCH_HIST_BUCKETS counts, else NULL */
  atomic_bool *stop;
} client;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --send-traceparent: a valid W3C traceparent with new ids for each call
 * (xorshift64; they only need to differ, as real ids do), hex-encoded by
 * table: the floor should be what gRPC pays to carry the header, not what
 * a printf costs (about 1,500 instructions) to make it. */
static void hex64(uint64_t v, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, v >>= 4) out[i] = digits[v & 15];
}

static void make_traceparent(uint64_t *state, char out[56]) {
  uint64_t v[3];
  for (int i = 0; i < 3; i++) {
    uint64_t x = *state;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v[i] = *state = x;
  }
  memcpy(out, "00-", 3);
  hex64(v[0], out + 3);
  hex64(v[1], out + 19);
  out[35] = '-';
  hex64(v[2], out + 36);
  memcpy(out + 52, "-01", 4); /* and the NUL */
}

static void *client_main(void *arg) {
  client *c = arg;
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  char *body = malloc(c->payload);
  if (!body) die("out of memory");
  memset(body, 'x', c->payload);
  /* One slice of the request bytes, referenced by each call's message: a
   * byte buffer cannot serve twice (gRPC 1.51 moves the slices out of a
   * buffer it sends). */
  grpc_slice body_slice = grpc_slice_from_copied_buffer(body, c->payload);
  free(body);
  grpc_slice method = grpc_slice_from_static_string(METHOD);
  uint64_t rnd = (uint64_t)(uintptr_t)c | 1;
  char traceparent[56];
  grpc_metadata md = {.key = grpc_slice_from_static_string("traceparent")};
  unsigned long long done = 0, failed = 0;
  while (c->quota ? done < c->quota : !atomic_load_explicit(c->stop, memory_order_relaxed)) {
    uint64_t t_start = c->hist ? mono_ns() : 0;
    gpr_timespec deadline = in_s(CALL_DEADLINE_S);
    grpc_call *call = c->method
                          ? grpc_channel_create_registered_call(
                                c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, c->method, deadline, NULL)
                          : grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                                     method, NULL, deadline, NULL);
    if (!call) die("client: could not create a call");
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&body_slice, 1), *resp = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->send_traceparent) { /* copied by grpc_call_start_batch */
      make_traceparent(&rnd, traceparent);
      md.value = grpc_slice_from_static_buffer(traceparent, 55);
      ops[0].data.send_initial_metadata.count = 1;
      ops[0].data.send_initial_metadata.metadata = &md;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    grpc_call_error e = grpc_call_start_batch(call, ops, 6, c, NULL);
    if (e != GRPC_CALL_OK) die("client: grpc_call_start_batch: error %d", (int)e);
    grpc_event ev = grpc_completion_queue_pluck(cq, c, in_s(CALL_DEADLINE_S + WAIT_SLACK_S), NULL);
    if (ev.type != GRPC_OP_COMPLETE) die("client: an RPC did not complete in time");
    bool ok = ev.success && status == GRPC_STATUS_OK && resp &&
              grpc_byte_buffer_length(resp) == c->payload;
    if (!ok && failed++ < 3)
      fprintf(stderr, "bench_rpc: an RPC failed: batch %s, status %d, reply of %zd bytes\n",
              ev.success ? "ok" : "failed", (int)status,
              resp ? (ssize_t)grpc_byte_buffer_length(resp) : (ssize_t)-1);
    grpc_byte_buffer_destroy(req);
    if (resp) grpc_byte_buffer_destroy(resp);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    if (c->hist && atomic_load_explicit(&in_window, memory_order_relaxed))
      c->hist[bench_hist_index(mono_ns() - t_start)]++;
    atomic_store_explicit(&c->done, ++done, memory_order_relaxed);
  }
  atomic_store(&c->failed, failed);
  grpc_slice_unref(body_slice);
  queue_destroy(cq, true);
  return NULL;
}

static unsigned long long rpcs_done(client *cl, int n) {
  unsigned long long sum = 0;
  for (int i = 0; i < n; i++) sum += atomic_load_explicit(&cl[i].done, memory_order_relaxed);
  return sum;
}

/* ---- tracing (bench_rpc_traced) ---- */

#ifndef RPCT_UNTRACED
/* What the discarding exporter received. Written by the batch processor's
 * export thread only; read by main after a force flush. */
typedef struct received {
  atomic_ullong spans, client, server;
  atomic_ullong linked; /* SERVER spans with a remote parent */
} received;

static int discard_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  received *r = impl;
  unsigned long long cl = 0, sv = 0, linked = 0;
  for (size_t i = 0; i < n; i++) {
    const rpct_span_data *d = spans[i];
    cl += d->kind == RPCT_SPAN_KIND_CLIENT;
    sv += d->kind == RPCT_SPAN_KIND_SERVER;
    linked += d->kind == RPCT_SPAN_KIND_SERVER && d->parent_remote &&
              rpct_span_id_is_valid(&d->parent_span_id);
  }
  atomic_fetch_add(&r->spans, n);
  atomic_fetch_add(&r->client, cl);
  atomic_fetch_add(&r->server, sv);
  atomic_fetch_add(&r->linked, linked);
  return 0;
}

static const rpct_exporter_ops discard_ops = {.export_spans = discard_export};

static void check(int r, const char *what) {
  if (r != RPCT_OK) die("%s: %s", what, rpct_strerror(r));
}

typedef struct tracing {
  rpct_tracer *tracer;
  rpct_processor *processor; /* owned by the tracer */
  received rcv;
  bool otlp;
  bool sampled;      /* the sampler samples a root span */
  char sampler[256]; /* its description */
} tracing;

static void tracing_start(tracing *tr, const options *opt) {
  rpct_exporter *e;
  rpct_sampler *s;
  rpct_tracer_options *o;
  /* The specification's defaults, whatever OTEL_BSP_* says. */
  const rpct_batch_options bo = {.max_queue_size = 2048,
                                 .schedule_delay_ms = 5000,
                                 .max_export_batch_size = 512,
                                 .export_timeout_ms = 30000};
  tr->otlp = opt->export_otlp;
  if (tr->otlp) {
    const rpct_otlp_options oo = {.endpoint = opt->otlp_endpoint,
                                  .insecure = RPCT_OTLP_PLAINTEXT,
                                  .compression = RPCT_OTLP_COMPRESSION_NONE};
    check(rpct_otlp_exporter_new(&e, &oo, NULL), "OTLP exporter");
  } else {
    check(rpct_exporter_new(&e, &discard_ops, &tr->rcv, NULL), "exporter");
  }
  check(rpct_batch_processor_new(&tr->processor, e, &bo, NULL), "batch processor");
  check(rpct_sampler_from_env(&s, NULL), "sampler");
  /* What it decides for a root span: the client span of every call here,
   * and (parent-based or not) the server span follows the same decision. */
  rpct_trace_id id;
  rpct_trace_id_generate(&id);
  const rpct_sampling_params sp = {
      .trace_id = &id, .name = METHOD + 1, .kind = RPCT_SPAN_KIND_CLIENT};
  tr->sampled = rpct_sampler_should_sample(s, &sp) == RPCT_SAMPLING_RECORD_AND_SAMPLE;
  snprintf(tr->sampler, sizeof tr->sampler, "%s", rpct_sampler_description(s));
  check(rpct_tracer_options_new(&o), "tracer options");
  rpct_tracer_options_set_sampler(o, s);
  rpct_tracer_options_set_processor(o, tr->processor);
  check(rpct_tracer_new(&tr->tracer, o), "tracer");
  rpct_tracer_options_del(o);
  check(rpct_init(tr->tracer), "rpct_init");
}

/* Flush, print what was exported; returns whether every span an RPC should
 * make (2 when sampled: one CLIENT and one SERVER with a remote parent; 0
 * when not) was exported or, if the queue was full, dropped and counted. */
static bool tracing_finish(tracing *tr, unsigned long long rpcs) {
  check(rpct_tracer_force_flush(tr->tracer, 30000), "force flush");
  rpct_tracer_stats st;
  rpct_tracer_get_stats(tr->tracer, &st);
  const rpct_processor_stats *ps = &st.processor;
  unsigned long long want = tr->sampled ? 2 * rpcs : 0;
  unsigned long long dropped = (unsigned long long)ps->dropped_full;
  bool ok;
  if (tr->otlp) {
    ok = ps->accepted + dropped == want && ps->exported == ps->accepted && !ps->failed &&
         !ps->rejected;
    printf("spans exported over OTLP/gRPC: %llu (+ %llu dropped, queue full); want %llu: %s\n",
           (unsigned long long)ps->exported, dropped, want, ok ? "ok" : "MISMATCH");
  } else {
    received *r = &tr->rcv;
    unsigned long long spans = atomic_load(&r->spans), cl = atomic_load(&r->client),
                       sv = atomic_load(&r->server), linked = atomic_load(&r->linked);
    ok = spans + dropped == want && cl + sv == spans && linked == sv &&
         (dropped || (cl == sv && cl == want / 2));
    printf(
        "spans received by the exporter: %llu (%llu CLIENT, %llu SERVER of which %llu with a "
        "remote parent) + %llu dropped; want %llu: %s\n",
        spans, cl, sv, linked, dropped, want, ok ? "ok" : "MISMATCH");
  }
  if (dropped)
    printf("WARNING: %llu spans dropped (queue full): this run did less tracing work than asked\n",
           dropped);
  printf(
      "tracer: %llu spans started, %llu ended; batch processor: %llu accepted, %llu exported, "
      "%llu dropped (queue full), %llu failed\n",
      (unsigned long long)st.spans_started, (unsigned long long)st.spans_ended,
      (unsigned long long)ps->accepted, (unsigned long long)ps->exported, dropped,
      (unsigned long long)ps->failed);
  rpct_shutdown(10000);
  rpct_tracer_del(tr->tracer);
  return ok;
}
#endif

/* ---- main ---- */

/* --latency-out: merge the clients' histograms, write FILE, print quantiles. */
static void latency_report(const options *o, client *cl) {
  static uint64_t sum[BENCH_HIST_BUCKETS];
  uint64_t n = 0;
  for (int i = 0; i < o->clients; i++)
    for (int b = 0; b < BENCH_HIST_BUCKETS; b++) sum[b] += cl[i].hist[b], n += cl[i].hist[b];
  FILE *f = fopen(o->latency_out, "w");
  if (!f) die("cannot write %s", o->latency_out);
  fprintf(f, "# bench_rpc per-RPC latency histogram: LOW_NS HIGH_NS COUNT (%llu RPCs)\n",
          (unsigned long long)n);
  for (int b = 0; b < BENCH_HIST_BUCKETS; b++)
    if (sum[b])
      fprintf(f, "%llu %llu %llu\n", (unsigned long long)bench_hist_low(b),
              (unsigned long long)bench_hist_low(b + 1), (unsigned long long)sum[b]);
  if (fclose(f) != 0) die("cannot write %s", o->latency_out);
  printf("latency us: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f (%llu RPCs; histogram in %s)\n",
         bench_hist_quantile(sum, 0.50) / 1e3, bench_hist_quantile(sum, 0.90) / 1e3,
         bench_hist_quantile(sum, 0.99) / 1e3, bench_hist_quantile(sum, 0.999) / 1e3,
         (unsigned long long)n, o->latency_out);
}

int main(int argc, char **argv) {
  options o = parse_options(argc, argv);
  setvbuf(stdout, NULL, _IOLBF, 0);
  install_alloc_counter();
#ifdef RPCT_UNTRACED
  const char *name = "bench_rpc_plain";
  printf("%s: gRPC core only (no rpctrace)%s\n", name,
         o.send_traceparent ? "; the client sends a traceparent header of its own" : "");
#else
  const char *name = "bench_rpc_traced";
  static tracing tr;
  tracing_start(&tr, &o);
  char exporter[160];
  if (o.export_otlp)
    snprintf(exporter, sizeof exporter, "OTLP/gRPC exporter to %s", o.otlp_endpoint);
  else
    snprintf(exporter, sizeof exporter, "an exporter that counts and discards");
  printf(
      "%s: rpctrace %s (rpctrace::wrap), sampler %s (%s), batch processor (queue 2048, "
      "batch 512), %s\n",
      name, RPCT_VERSION_STRING, tr.sampler, tr.sampled ? "samples" : "does not sample", exporter);
#endif
  grpc_init();
  char plan[96];
  if (o.rpcs)
    snprintf(plan, sizeof plan, "%llu RPCs, no warm-up", o.rpcs);
  else
    snprintf(plan, sizeof plan, "%.1f s warm-up, %.1f s measured", o.warmup_s, o.duration_s);
  printf(
      "gRPC core %s; %d client thread%s (a channel each), %d server thread%s; %s method; "
      "%zu-byte request and reply; %s%s\n",
      grpc_version_string(), o.clients, o.clients > 1 ? "s" : "", o.server_threads,
      o.server_threads > 1 ? "s" : "", o.unregistered ? "unregistered" : "registered", o.payload,
      plan, o.count_allocs ? "; counting allocations (RPC/s not comparable)" : "");

  server srv;
  server_start(&srv, &o);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", srv.port);

  atomic_bool stop = false;
  client *cl = aligned_alloc(64, (size_t)o.clients * sizeof *cl);
  pthread_t *tid = calloc((size_t)o.clients, sizeof *tid);
  if (!cl || !tid) die("out of memory");
  for (int i = 0; i < o.clients; i++) {
    memset(&cl[i], 0, sizeof cl[i]);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    cl[i].ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    if (!cl[i].ch) die("grpc_channel_create(%s) failed", target);
    cl[i].method = o.unregistered ? NULL : grpc_channel_register_call(cl[i].ch, METHOD, NULL, NULL);
    cl[i].payload = o.payload;
    cl[i].send_traceparent = o.send_traceparent;
    cl[i].quota = o.rpcs ? o.rpcs / (unsigned long long)o.clients +
                               ((unsigned long long)i < o.rpcs % (unsigned long long)o.clients)
                         : 0;
    if (o.latency_out && !(cl[i].hist = calloc(BENCH_HIST_BUCKETS, sizeof *cl[i].hist)))
      die("out of memory");
    cl[i].stop = &stop;
  }

  double t0 = 0, t1 = 0, cpu0 = 0, cpu1 = 0, exp0 = 0, exp1 = 0;
  unsigned long long n0 = 0, n1 = 0;
  /* The batch processor's export thread, by the name it gives itself: its
   * CPU time is part of the process's, printed apart (traced only). */
  pid_t export_tid = bench_find_thread("rpctrace-bsp");
  if (o.rpcs) { /* the whole run is the window */
    if (o.count_allocs) atomic_store(&counting, true);
    atomic_store(&in_window, true);
    t0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    exp0 = bench_thread_cpu_s(export_tid);
  }
  for (int i = 0; i < o.clients; i++)
    if (pthread_create(&tid[i], NULL, client_main, &cl[i]) != 0) die("pthread_create");
  if (!o.rpcs) {
    sleep_s(o.warmup_s);
    if (o.count_allocs) atomic_store(&counting, true);
    atomic_store(&in_window, true);
    t0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    exp0 = bench_thread_cpu_s(export_tid);
    n0 = rpcs_done(cl, o.clients);
    sleep_s(o.duration_s);
    n1 = rpcs_done(cl, o.clients);
    t1 = clock_s(CLOCK_MONOTONIC), cpu1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    exp1 = bench_thread_cpu_s(export_tid);
    atomic_store(&in_window, false);
    atomic_store(&counting, false);
    atomic_store(&stop, true);
  }
  unsigned long long failed = 0;
  for (int i = 0; i < o.clients; i++) {
    pthread_join(tid[i], NULL);
    failed += atomic_load(&cl[i].failed);
  }
  if (o.rpcs) {
    n1 = rpcs_done(cl, o.clients);
    t1 = clock_s(CLOCK_MONOTONIC), cpu1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    exp1 = bench_thread_cpu_s(export_tid);
    atomic_store(&in_window, false);
    atomic_store(&counting, false);
  }
  unsigned long long allocs = atomic_load(&n_allocs);
  for (int i = 0; i < o.clients; i++) grpc_channel_destroy(cl[i].ch);
  unsigned long long total = rpcs_done(cl, o.clients);
  server_stop(&srv); /* every server span has ended when its threads are joined */

  unsigned long long window = n1 - n0;
  printf("RPC/s: %.1f (%llu RPCs in %.3f s; %llu RPCs in all, %llu failed)\n",
         (double)window / (t1 - t0), window, t1 - t0, total, failed);
  /* Less sensitive than RPC/s to other jobs taking the cores. */
  printf("CPU us/RPC: %.2f (%.3f s of process CPU time in the window, all threads)\n",
         window ? (cpu1 - cpu0) * 1e6 / (double)window : 0.0, cpu1 - cpu0);
  if (export_tid > 0 && exp0 >= 0 && exp1 >= 0)
    printf("export thread CPU us/RPC: %.3f (thread %d, rpctrace-bsp; included above)\n",
           window ? (exp1 - exp0) * 1e6 / (double)window : 0.0, (int)export_tid);
  if (o.count_allocs)
    printf(
        "allocations per RPC: %.2f (%llu malloc/calloc/realloc/memalign calls of the whole "
        "process in the window / %llu RPCs)\n",
        window ? (double)allocs / (double)window : 0.0, allocs, window);
  if (o.latency_out) latency_report(&o, cl);
  bool ok = failed == 0 && window > 0;
#ifndef RPCT_UNTRACED
  ok = tracing_finish(&tr, total) && ok;
#endif
  grpc_shutdown();
  for (int i = 0; i < o.clients; i++) free(cl[i].hist);
  free(cl);
  free(tid);
  return ok ? 0 : 1;
}
