/*
 * rpctrace — call filters for gRPC core, and the calls that set tracing up.
 *
 * gRPC core 1.51 has no public filter API, so rpctrace interposes its
 * public call API (link-time wrapping or LD_PRELOAD) and runs the registered
 * filters at each event of each call it recognises: a client call created
 * through grpc_channel_create_call / _registered_call, a server call
 * obtained by grpc_server_request_call / _registered_call. Other calls are
 * never touched.
 *
 * A filter is a const table of callbacks. Per call it gets `call_data_size`
 * bytes in the call's arena (no malloc), zeroed (or their first
 * `call_data_zeroed`). Callbacks of one call never
 * run concurrently with each other (the dispatcher serialises them with a
 * per-call lock), but callbacks of different calls run on any threads at
 * once. A filter never fails an RPC: it has no way to, and the dispatcher
 * goes on whatever it does.
 *
 * Every callback's return convention is stated once, at the table below.
 * Pointers a callback receives are borrowed for the duration of the call.
 *
 * Thread safety: rpct_filter_register() and rpct_init() before the first
 * call of the program (not concurrently with calls); rpct_shutdown() from
 * any thread, also with calls in flight (their spans are then dropped and
 * counted); rpct_call_span_context() from any thread.
 */
#ifndef RPCTRACE_FILTER_H
#define RPCTRACE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "rpctrace/common.h"
#include "rpctrace/context.h"
#include "rpctrace/tracer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct grpc_call;

#define RPCT_SIDE_CLIENT 1u
#define RPCT_SIDE_SERVER 2u

/* One metadata entry (not NUL-terminated). */
typedef struct rpct_md {
  const char *key;
  size_t key_len;
  const char *value;
  size_t value_len;
} rpct_md;

/* rpct_call_info.method_registration */
#define RPCT_METHOD_UNKNOWABLE 0    /* a client call, or a server with no registered method */
#define RPCT_METHOD_REGISTERED 1    /* server: a method the server registered */
#define RPCT_METHOD_UNREGISTERED 2  /* server: a path the server did not register, though it
                                       registers methods (a generic handler, or a client's
                                       path the server does not know) */

/* What a filter learns when a call starts. */
typedef struct rpct_call_info {
  unsigned side;            /* RPCT_SIDE_* */
  const char *method;       /* "/pkg.Service/Method" */
  size_t method_len;
  unsigned method_registration; /* RPCT_METHOD_* */
  const char *authority;    /* server: :authority of the request; client: the host
                               override given to create_call, else NULL */
  size_t authority_len;
  const char *target;       /* client: the channel's target ("dns:///h:p"), NUL-terminated,
                               or NULL when unknown */
  const rpct_md *metadata;  /* server: the request's initial metadata */
  size_t n_metadata;
  /* Client: the span context the call's span should be a child of (that of
   * its parent_call if that call is traced, else the thread's current
   * context), or NULL for a root. */
  const rpct_span_context *parent;
  /* Client: the W3C baggage its parent_call published (see below), or NULL. */
  const char *parent_baggage;
  size_t parent_baggage_len;
  struct grpc_call *call;
  /* Out: a filter that starts a span sets this to the span's context (kept
   * valid until `end`); rpct_call_span_context() returns it and client
   * calls created with this call as parent_call become its children. */
  const rpct_span_context *span_context;
  /* Out: baggage to hand to client calls made with this call as
   * parent_call (kept valid until `end`; e.g. copied into the call arena
   * with grpc_call_arena_alloc). */
  const char *baggage;
  size_t baggage_len;
} rpct_call_info;

/* Outgoing initial metadata of a client call, which filters may extend. */
typedef struct rpct_md_writer rpct_md_writer;

/* Append key/value (copied; keys lowercase). Returns RPCT_OK,
 * RPCT_ERR_STATE when the application already sends this key (it is never
 * duplicated), RPCT_ERR_NO_SPACE when the writer is full. */
RPCT_API int rpct_md_writer_add(rpct_md_writer *w, const char *key, size_t key_len,
                                const char *value, size_t value_len);

/* How a call ended, as the filters see it. */
typedef struct rpct_call_status {
  int code;                /* grpc_status_code */
  const char *message;     /* status details, may be empty */
  size_t message_len;
  const rpct_md *trailing; /* trailing metadata, when known */
  size_t n_trailing;
  /* When the status was sent (server: when the application handed it to
   * gRPC, which can be well before its completion is seen), or 0 for "now". */
  uint64_t time_unix_ns;
} rpct_call_status;

#define RPCT_FILTER_FOLLOW 0 /* start: run the other callbacks for this call */
#define RPCT_FILTER_SKIP 1   /* start: leave this call alone from now on */

typedef struct rpct_filter {
  const char *name;
  unsigned sides;        /* RPCT_SIDE_CLIENT | RPCT_SIDE_SERVER */
  size_t call_data_size; /* per call, zeroed (see call_data_zeroed) */
  /* Returns RPCT_FILTER_FOLLOW or RPCT_FILTER_SKIP. Required. */
  int (*start)(void *call_data, rpct_call_info *info);
  /* Client, before the first batch that sends initial metadata. */
  void (*send_initial_metadata)(void *call_data, rpct_md_writer *w);
  /* Initial metadata received (client: the server's; server: not used). */
  void (*recv_initial_metadata)(void *call_data, const rpct_md *md, size_t n);
  /* A message was sent / received, `bytes` long (uncompressed). */
  void (*message_sent)(void *call_data, size_t bytes);
  void (*message_received)(void *call_data, size_t bytes);
  /* The call's status: received (client), sent (server), cancelled, or
   * given by the dispatcher when the call was released without one. Runs
   * at most once, always before `end`. */
  void (*status)(void *call_data, const rpct_call_status *st);
  /* Exactly once per followed call, on every path. */
  void (*end)(void *call_data);
  /* How many bytes at the start of the call data the dispatcher zeroes:
   * 0 means all of call_data_size. A filter that writes every field before
   * reading it sets this to spare the RPC path the rest. */
  size_t call_data_zeroed;
} rpct_filter;

/* Register `f` (borrowed: must outlive the program's calls). Filters run
 * in registration order. RPCT_ERR_LIMIT past 8 filters, RPCT_ERR_STATE once
 * calls have been traced, RPCT_ERR_INVALID_ARGUMENT without `start`. */
RPCT_API int rpct_filter_register(const rpct_filter *f);

/*
 * Set tracing up: the global tracer (given, or built from the OTEL_*
 * environment when `tracer` is NULL; that one lives until the process
 * ends) and the tracing client and server filters, configured from the
 * environment (README: RPCTRACE_* variables), and register, once, an
 * atexit handler that calls rpct_shutdown(5000), so that spans queued when
 * the program exits are exported. A second call returns RPCT_ERR_STATE.
 * RPCs are traced only through a front end: a program linked with
 * rpctrace::wrap (`pkg-config --libs rpctrace-wrap`) or run under
 * `rpctrace run` (LD_PRELOAD=librpctrace_preload.so). Without one, the
 * first successful call says so once through the diag handler and still
 * returns RPCT_OK: the tracer and spans started through the API work.
 */
RPCT_API int rpct_init(rpct_tracer *tracer);

/* Flush and stop: shuts the global tracer down (waiting at most
 * `timeout_ms`). Never frees it: spans of calls still in flight end later
 * and are dropped and counted (rpct_tracer_get_stats). A tracer given to
 * rpct_init() is still the caller's to delete, after this. Calling it
 * again (the exit handler does) does nothing. */
RPCT_API void rpct_shutdown(uint32_t timeout_ms);

/* The span context of a traced call (a server call in its handler, or a
 * client call), valid until the call is released; NULL when the call is
 * not traced. */
RPCT_API const rpct_span_context *rpct_call_span_context(const struct grpc_call *call);

/* What the call interception could not do, counted since the program
 * started (the tracer's own counters are in rpct_tracer_stats). None of
 * these ever fails or delays an RPC. */
typedef struct rpct_call_stats {
  /* Calls left untraced, with no span, because no memory could be had to
   * keep track of them (the tables grow with the calls in flight). */
  uint64_t calls_untraced;
  /* Batches of traced calls whose completion could not be kept track of
   * (same cause). If the call's status was in one, its span ends at
   * release with the status unset rather than a guessed one. */
  uint64_t batches_unobserved;
  /* Metadata entries filters added to client calls that did not fit
   * (rpct_md_writer_add returned RPCT_ERR_NO_SPACE). */
  uint64_t headers_dropped;
} rpct_call_stats;

/* Copy the counters into *out (caller-owned; NULL: nothing). Any thread. */
RPCT_API void rpct_call_stats_get(rpct_call_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_FILTER_H */
