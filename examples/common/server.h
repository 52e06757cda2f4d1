/*
 * examples/common — a gRPC core server that dispatches calls to handlers
 * through a method table, with protobuf-c messages.
 *
 * How it works: the server listens on one address and runs `threads` worker
 * threads. Each worker waits on a shared completion queue for new calls and
 * runs the handler of the call's method to completion, on its own thread,
 * blocking (so a handler can make client calls of its own and simply wait
 * for them). Each call is bound to a private completion queue of the worker
 * that serves it, so the handler's reads and writes never race with other
 * calls. At most `threads` calls are served at once; more wait in gRPC.
 *
 * A handler gets the decoded request (unary and server-streaming methods;
 * NULL for client-streaming ones, which read with ex_server_recv()), sends
 * its reply or replies with ex_server_send(), and returns the status. The
 * server sends that status; a method not in the table is answered
 * UNIMPLEMENTED.
 *
 *   static ex_status get_user(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
 *     const User__V1__GetUserRequest *req = (const User__V1__GetUserRequest *)msg;
 *     ...
 *     if (!found) return ex_error(GRPC_STATUS_NOT_FOUND, "no user %" PRId64, req->id);
 *     User__V1__User user = USER__V1__USER__INIT;
 *     ...
 *     if (ex_server_send(call, &user.base) != 0)
 *       return ex_error(GRPC_STATUS_INTERNAL, "cannot encode the reply");
 *     return ex_ok();
 *   }
 *   static const ex_method methods[] = {
 *       {"/user.v1.UserService/GetUser", EX_UNARY, &user__v1__get_user_request__descriptor,
 *        get_user},
 *   };
 *   ex_stop_signals_block();            // first thing in main, before grpc_init()
 *   grpc_init();
 *   ex_serve("127.0.0.1:0", methods, 1, app, 4);   // until SIGTERM or SIGINT
 *   grpc_shutdown();
 *
 * Thread safety: ex_server_start/stop from one thread; handlers of
 * different calls run on different threads at once, so what `app` points
 * to must be safe for that. The ex_server_call functions are for the
 * handler's own thread.
 */
#ifndef EXAMPLES_COMMON_SERVER_H
#define EXAMPLES_COMMON_SERVER_H

#include <stddef.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "common/status.h"

typedef enum ex_method_kind {
  EX_UNARY,            /* one request, one reply */
  EX_SERVER_STREAMING, /* one request, any number of replies */
  EX_CLIENT_STREAMING, /* any number of requests (ex_server_recv), one reply */
} ex_method_kind;

/* One call being served; valid only during the handler. */
typedef struct ex_server_call ex_server_call;

/* `request`: the decoded request, owned by the server and freed after the
 * handler returns (NULL for EX_CLIENT_STREAMING). `app`: as given to the
 * server. Returns the status to send. */
typedef ex_status (*ex_handler)(ex_server_call *call, const ProtobufCMessage *request, void *app);

typedef struct ex_method {
  const char *path; /* "/package.Service/Method" */
  ex_method_kind kind;
  const ProtobufCMessageDescriptor *request_type; /* what the client sends */
  ex_handler handler;
} ex_method;

/* The gRPC call: for rpct_call_span_context(), and as the parent_call of
 * client calls the handler makes (they then inherit its deadline,
 * cancellation and trace). */
grpc_call *ex_server_call_grpc(const ex_server_call *call);

/* The call's deadline (infinite when the client set none). */
gpr_timespec ex_server_call_deadline(const ex_server_call *call);

/*
 * Send a reply (`msg` borrowed; encoded before return). For EX_UNARY and
 * EX_CLIENT_STREAMING, exactly one reply, sent with the status when the
 * handler returns OK (not sent otherwise); for EX_SERVER_STREAMING, each
 * reply is written at once, and this waits until gRPC took it.
 * Returns 0, EX_ERR_CALL (the client is gone: stop and return any status),
 * EX_ERR_MESSAGE, or EX_ERR_USAGE (a second reply to a single-reply method).
 */
int ex_server_send(ex_server_call *call, const ProtobufCMessage *msg);

/*
 * Receive the next request of an EX_CLIENT_STREAMING call, as a `type`
 * message. Returns 1 with `*out` yours (free it with
 * protobuf_c_message_free_unpacked(*out, NULL)), 0 at the end of the
 * stream, EX_ERR_CALL (the call failed), EX_ERR_MESSAGE (not a `type`
 * message) or EX_ERR_USAGE (another kind of method).
 */
int ex_server_recv(ex_server_call *call, const ProtobufCMessageDescriptor *type,
                   ProtobufCMessage **out);

typedef struct ex_server ex_server;

/*
 * Start serving `methods` (borrowed: must outlive the server; paths must
 * be unique) on `listen_addr` ("127.0.0.1:0" picks a free port: see
 * ex_server_port) without TLS, with `threads` worker threads (>= 1).
 * `app` is handed to every handler. grpc_init() must have been called.
 * Returns 0 with `*out` running, EX_ERR_LISTEN when the address cannot
 * be listened on, or EX_ERR_MEMORY (`*out` untouched either way).
 */
int ex_server_start(ex_server **out, const char *listen_addr, const ex_method *methods,
                    size_t n_methods, void *app, int threads);

/* The port the server listens on. */
int ex_server_port(const ex_server *server);

/*
 * Stop: no new calls; calls being served get `grace_ms` to finish, then
 * are cancelled; waits for the workers and frees everything. NULL is
 * accepted.
 */
void ex_server_stop(ex_server *server, int grace_ms);

/*
 * Make SIGTERM and SIGINT wait for ex_stop_signals_wait() instead of
 * killing the process. Call it first in main(), before grpc_init() and
 * rpct_init() start threads: threads inherit the blocked set, and a
 * signal is then delivered to no thread until it is waited for.
 */
void ex_stop_signals_block(void);

/* Wait for SIGTERM or SIGINT; returns the signal's number. */
int ex_stop_signals_wait(void);

/*
 * The usual main loop: start the server, print "listening on
 * 127.0.0.1:<port>" on stdout, wait for SIGTERM or SIGINT, stop (5 s of
 * grace). Returns 0, or a negative EX_ERR_* when the server did not start
 * (then reported on stderr). ex_stop_signals_block() must have been called.
 */
int ex_serve(const char *listen_addr, const ex_method *methods, size_t n_methods, void *app,
             int threads);

#endif /* EXAMPLES_COMMON_SERVER_H */
