/*
 * A gRPC core C test harness for the filter tests: a multi-threaded test
 * server and synchronous client helpers, on the public gRPC core API alone
 * (no rpctrace header is included here or in harness_*.c), so the same code
 * runs in an untraced program, in one linked with rpctrace::wrap, and in one
 * traced through LD_PRELOAD.
 *
 * The server ("test.Echo" and "grpc.health.v1.Health") listens on 127.0.0.1
 * (a free port chosen by the kernel), insecure. Each of its threads owns a
 * completion queue (grpc_completion_queue_next) on which it requests calls
 * (grpc_server_request_call) and runs their handlers as state machines.
 * Requests are a small text protocol, "key=value;key=value":
 *   status=<code>   status the handler ends with (default 0)
 *   msg=<text>      its status message (default empty)
 *   sleep_ms=<n>    Unary: reply after n ms (from a helper thread)
 *   hold=1          Unary: never reply; ServerStream: after the n messages,
 *                   send no status (the call stays open until cancelled)
 *   n=<count>       ServerStream: messages to send (default 3)
 * Methods:
 *   /test.Echo/Unary         echo the request (no message when status != 0)
 *   /test.Echo/ClientStream  read to end of stream, reply "count=<n>"; the
 *                            first message sets status/msg
 *   /test.Echo/ServerStream  reply n messages "msg <i>"
 *   /test.Echo/Bidi          echo each message; at end of stream end with
 *                            the first message's status/msg
 *   /test.Echo/Chain         make a child call to /test.Echo/Unary on the
 *                            same server with parent_call = this call and
 *                            GRPC_PROPAGATE_DEFAULTS, sending x-test-id
 *                            "<own x-test-id>.child" and the request
 *                            "status=0"; reply "child=<code>" with OK
 *   /grpc.health.v1.Health/Check  HealthCheckResponse{SERVING}
 *   anything else            UNIMPLEMENTED
 * Every call the server accepts is logged (th_served): its method, the
 * x-test-id it carried, the tracing headers it received, how it ended.
 *
 * Every client call has a deadline and every wait is bounded: a wait that
 * overruns its deadline by far means a bug, and aborts with a message.
 *
 * Thread safety: th_server_* on one thread, except th_server_find,
 * th_server_served_count and th_server_wait_idle (any thread). Client
 * helpers from any number of threads at once (a channel may be shared).
 */
#ifndef RPCT_FILTERS_HARNESS_H
#define RPCT_FILTERS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <grpc/status.h>

#define TH_TEXT 256 /* bytes of a recorded text (NUL included; longer is cut) */

/* ---- server ---- */

typedef struct th_server th_server;

typedef struct th_server_options {
  int threads;  /* serving threads, each with its own queue (default 2) */
  int requests; /* calls requested ahead per thread (default 4) */
  bool no_log;  /* do not log calls (load tests) */
  /* Register /test.Echo/Unary (grpc_server_register_method, no payload
   * handling) and accept its calls with grpc_server_request_registered_call,
   * as the C++ server does; other methods still come through
   * grpc_server_request_call. */
  bool registered_unary;
  /* GRPC_ARG_MAX_METADATA_SIZE: the request metadata the server accepts,
   * in HPACK bytes (0: gRPC's default, 8 KB). */
  int max_metadata_size;
} th_server_options;

/* A call as the server saw it. Header values are the first value received
 * ("" when none); n_* count the entries with that key. */
typedef struct th_served {
  char method[TH_TEXT];
  char test_id[TH_TEXT];
  char traceparent[TH_TEXT];
  char tracestate[TH_TEXT];
  char baggage[TH_TEXT];
  size_t baggage_len;     /* the first baggage value's whole length */
  uint64_t baggage_fnv1a; /* and its FNV-1a 64 hash (th_fnv1a), to compare it whole */
  int n_traceparent, n_tracestate, n_baggage;
  int n_other_tracing; /* grpc-trace-bin, b3, x-b3-* */
  bool finished;       /* the call is over and released */
  bool status_sent;    /* the handler's status batch succeeded */
  int status;          /* the status the handler sent (or tried to) */
  bool cancelled;      /* RECV_CLOSE_ON_SERVER reported cancelled */
  int child_status;    /* Chain: the child call's status; -1 otherwise */
} th_served;

/* Start a server (calls grpc_init). `o` may be NULL. Returns 0, or -1. */
int th_server_start(th_server **out, const th_server_options *o);
int th_server_port(const th_server *s);
/* Shut down (grpc_server_shutdown_and_notify, then cancel every call in
 * progress) and join every thread; the log stays readable. Idempotent. */
void th_server_shutdown(th_server *s);
/* th_server_shutdown, then free everything and grpc_shutdown. NULL ok. */
void th_server_stop(th_server *s);
/* Copy the last logged call whose x-test-id is `test_id` into `out`;
 * returns how many were logged with that id. */
int th_server_find(th_server *s, const char *test_id, th_served *out);
size_t th_server_served_count(th_server *s);
/* Wait until no accepted call is in progress. true when that happened
 * within `timeout_ms`. */
bool th_server_wait_idle(th_server *s, int timeout_ms);

/* ---- client ---- */

/* An insecure channel to 127.0.0.1:<port> (grpc_channel_destroy to free). */
grpc_channel *th_channel(int port);

typedef struct th_call_opts {
  const char *test_id;         /* sent as x-test-id when not NULL */
  const grpc_metadata *extra;  /* more request metadata (borrowed) */
  size_t n_extra;
  int deadline_ms;             /* default 10000 */
  /* A completion queue to use (borrowed; created per call when NULL);
   * cq_next: it is a next queue, else a pluck queue. */
  grpc_completion_queue *cq;
  bool cq_next;
  /* Use a queue for next (not pluck) when the helper creates it. */
  bool use_next;
  /* Tags (void *)1, (void *)2, ... like the gRPC core examples, instead of
   * addresses. Only with a queue of its own (cq NULL). */
  bool small_tags;
  /* Create the call with grpc_channel_register_call +
   * grpc_channel_create_registered_call. */
  bool registered;
  /* Run once the call is created (to look it up in a tracing library). */
  void (*on_call)(grpc_call *call, void *user);
  /* Run after each message received by th_server_stream, with its index. */
  void (*on_message)(int index, void *user);
  void *user;
} th_call_opts;

typedef struct th_result {
  grpc_status_code status;
  char details[TH_TEXT];
  int n_received;          /* messages received */
  char last[TH_TEXT];      /* the last one, as text */
  bool tracing_in_response; /* traceparent/tracestate/baggage/grpc-trace-bin/b3
                               in the server's initial or trailing metadata */
} th_result;

/* The RPC kinds. `method` is the full path ("/test.Echo/Unary"). Each
 * returns 0 when the call ran to its status (whatever the status), -1 when
 * the harness could not run it. */
int th_unary(grpc_channel *ch, const char *method, const char *request, const th_call_opts *o,
             th_result *out);
/* Send `n` messages, half-close, read the reply and the status. */
int th_client_stream(grpc_channel *ch, const char *method, const char *const *msgs, size_t n,
                     const th_call_opts *o, th_result *out);
/* Send `request`, half-close, read every message, then the status. */
int th_server_stream(grpc_channel *ch, const char *method, const char *request,
                     const th_call_opts *o, th_result *out);
/* For each message: send it, read one reply. Then half-close and read the
 * status. */
int th_bidi(grpc_channel *ch, const char *method, const char *const *msgs, size_t n,
            const th_call_opts *o, th_result *out);
/* Send one message, read its echo, cancel, read the status. `code` 0:
 * grpc_call_cancel; else grpc_call_cancel_with_status(code, `details`). */
int th_bidi_cancel(grpc_channel *ch, const char *method, const char *msg, int code,
                   const char *details, const th_call_opts *o, th_result *out);
/* Send `request` and half-close, wait for the server's initial metadata
 * (the server has accepted the call), then release the call with
 * grpc_call_unref without ever asking for its status. out->status is -1. */
int th_abandon(grpc_channel *ch, const char *method, const char *request, const th_call_opts *o,
               th_result *out);

/* A monotonic clock in milliseconds. */
long long th_now_ms(void);

/* FNV-1a, 64 bits, of s[0..n). */
uint64_t th_fnv1a(const void *s, size_t n);

#endif /* RPCT_FILTERS_HARNESS_H */
