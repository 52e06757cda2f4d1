/*
 * examples/common — gRPC core client calls with protobuf-c messages, each
 * with a deadline.
 *
 * ex_unary_call() is one request, one reply, in one function. Streaming
 * calls use an ex_client_call: start, send and/or receive, finish, del.
 *
 *   ProtobufCMessage *reply;
 *   ex_status st = ex_unary_call(channel, NULL, "/user.v1.UserService/GetUser", 2000,
 *                                &req.base, &user__v1__user__descriptor, &reply);
 *   if (st.code == GRPC_STATUS_OK) {
 *     const User__V1__User *user = (const User__V1__User *)reply;
 *     ...
 *     protobuf_c_message_free_unpacked(reply, NULL);
 *   }
 *
 * `parent`: inside a server handler, pass the server call
 * (ex_server_call_grpc): the client call then inherits its deadline (the
 * earlier of the two wins) and its cancellation, and rpctrace makes the
 * client span a child of the server span. Elsewhere pass NULL: the client
 * span is then a child of the thread's current context
 * (rpct_context_attach), or a new trace.
 *
 * Every call runs on a completion queue of its own and the helpers wait for
 * each step, so a call belongs to the thread that started it; channels are
 * shared freely between threads.
 */
#ifndef EXAMPLES_COMMON_CLIENT_H
#define EXAMPLES_COMMON_CLIENT_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "common/status.h"

/* A channel to `target` ("127.0.0.1:50051", "dns:///host:port") without
 * TLS. Yours: grpc_channel_destroy() it after its last call. gRPC connects
 * lazily, so a wrong target shows up as UNAVAILABLE on the first call.
 * grpc_init() must have been called. */
grpc_channel *ex_channel_new(const char *target);

/*
 * One unary call of `method` ("/package.Service/Method") on `channel`,
 * with `request` (borrowed) and a deadline `timeout_ms` from now. Returns
 * the call's status; when it is OK, `*reply` is the `reply_type` reply,
 * yours to free with protobuf_c_message_free_unpacked(*reply, NULL).
 * Otherwise `*reply` is untouched. A reply that does not parse gives
 * INTERNAL.
 */
ex_status ex_unary_call(grpc_channel *channel, grpc_call *parent, const char *method,
                        int timeout_ms, const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **reply);

/* A streaming call in progress. */
typedef struct ex_client_call ex_client_call;

/*
 * Start a call of `method` with a deadline `timeout_ms` from now; nothing
 * is sent yet. Returns 0 with `*out` yours (ex_client_call_del), or
 * EX_ERR_MEMORY / EX_ERR_CALL (`*out` untouched).
 */
int ex_client_call_start(ex_client_call **out, grpc_channel *channel, grpc_call *parent,
                         const char *method, int timeout_ms);

/* Send one request (`msg` borrowed) and wait until gRPC took it. Returns 0,
 * EX_ERR_CALL (the call is over: ex_client_call_finish tells why) or
 * EX_ERR_MESSAGE. */
int ex_client_call_send(ex_client_call *c, const ProtobufCMessage *msg);

/* Tell the server no more requests come (half-close). 0 or EX_ERR_CALL. */
int ex_client_call_close_send(ex_client_call *c);

/*
 * Receive the next reply as a `type` message. Returns 1 with `*out` yours
 * (protobuf_c_message_free_unpacked), 0 when the server sent its last one,
 * EX_ERR_CALL (the call failed: ex_client_call_finish tells why) or
 * EX_ERR_MESSAGE (a reply that does not parse; the call goes on).
 */
int ex_client_call_recv(ex_client_call *c, const ProtobufCMessageDescriptor *type,
                        ProtobufCMessage **out);

/*
 * Wait for the call's status and return it. Call it once every reply was
 * received (recv returned 0 or an error): the status comes after the
 * replies.
 */
ex_status ex_client_call_finish(ex_client_call *c);

/* Cancel the call if it is not finished, and free it. NULL is accepted. */
void ex_client_call_del(ex_client_call *c);

/* The gRPC call (e.g. for rpct_call_span_context()). */
grpc_call *ex_client_call_grpc(const ex_client_call *c);

#endif /* EXAMPLES_COMMON_CLIENT_H */
