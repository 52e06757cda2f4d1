/*
 * The client calls of client.h. Each call has a private pluck completion
 * queue: a helper starts a batch and plucks exactly that batch, so the
 * calling thread simply waits for each step. gRPC completes every batch it
 * accepted, at the latest when the call's deadline passes, so the waits
 * need no timeout of their own.
 */
#include "common/client.h"

#include <stdbool.h>
#include <stdlib.h>

#include <grpc/grpc_security.h>

#include "common/codec.h"

grpc_channel *ex_channel_new(const char *target) {
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *channel = grpc_channel_create(target, creds, NULL);
  grpc_channel_credentials_release(creds);
  return channel;
}

static gpr_timespec deadline_in(int timeout_ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

static grpc_call *create_call(grpc_channel *channel, grpc_call *parent, const char *method,
                              int timeout_ms, grpc_completion_queue *cq) {
  grpc_slice path = grpc_slice_from_static_string(method);
  return grpc_channel_create_call(channel, parent, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL,
                                  deadline_in(timeout_ms), NULL);
}

/* Start `ops` and wait for them; true when they all succeeded. */
static bool run_batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t n) {
  int tag;
  if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK) return false;
  grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static void destroy_queue(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

static ex_status status_from(grpc_status_code code, grpc_slice details) {
  return ex_error(code, "%.*s", (int)GRPC_SLICE_LENGTH(details),
                  (const char *)GRPC_SLICE_START_PTR(details));
}

/* ---- unary ---- */

ex_status ex_unary_call(grpc_channel *channel, grpc_call *parent, const char *method,
                        int timeout_ms, const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *reply_type, ProtobufCMessage **reply) {
  grpc_byte_buffer *request_buf;
  if (ex_pack(request, &request_buf) != 0)
    return ex_error(GRPC_STATUS_INTERNAL, "cannot encode the request");
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_call *call = create_call(channel, parent, method, timeout_ms, cq);

  grpc_metadata_array initial_md, trailing_md;
  grpc_metadata_array_init(&initial_md);
  grpc_metadata_array_init(&trailing_md);
  grpc_byte_buffer *reply_buf = NULL;
  grpc_status_code code = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();

  /* The whole call in one batch: gRPC runs the ops in their natural order
   * and completes the batch when the status arrived. */
  grpc_op ops[] = {
      {.op = GRPC_OP_SEND_INITIAL_METADATA},
      {.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = request_buf},
      {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT},
      {.op = GRPC_OP_RECV_INITIAL_METADATA,
       .data.recv_initial_metadata.recv_initial_metadata = &initial_md},
      {.op = GRPC_OP_RECV_MESSAGE, .data.recv_message.recv_message = &reply_buf},
      {.op = GRPC_OP_RECV_STATUS_ON_CLIENT,
       .data.recv_status_on_client = {.status = &code,
                                      .status_details = &details,
                                      .trailing_metadata = &trailing_md}},
  };

  ex_status st;
  int tag;
  grpc_call_error err = grpc_call_start_batch(call, ops, sizeof ops / sizeof ops[0], &tag, NULL);
  if (err != GRPC_CALL_OK) {
    st = ex_error(GRPC_STATUS_INTERNAL, "cannot start the call (grpc_call_error %d)", (int)err);
  } else {
    /* RECV_STATUS_ON_CLIENT always completes with the call's status, even
     * when the batch as a whole reports failure. */
    grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    st = status_from(code, details);
    if (st.code == GRPC_STATUS_OK) {
      if (!reply_buf)
        st = ex_error(GRPC_STATUS_INTERNAL, "the server sent no reply");
      else if (ex_unpack(reply_buf, reply_type, reply) != 0)
        st = ex_error(GRPC_STATUS_INTERNAL, "cannot parse the reply as %s", reply_type->name);
    }
  }

  grpc_byte_buffer_destroy(request_buf);
  if (reply_buf) grpc_byte_buffer_destroy(reply_buf);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial_md);
  grpc_metadata_array_destroy(&trailing_md);
  grpc_call_unref(call);
  destroy_queue(cq);
  return st;
}

/* ---- streaming ---- */

struct ex_client_call {
  grpc_call *call;
  grpc_completion_queue *cq;
  bool closed_send;
  bool recv_initial_md; /* the server's initial metadata was asked for */
  bool finished;        /* the status was received */
  grpc_metadata_array initial_md;
};

grpc_call *ex_client_call_grpc(const ex_client_call *c) { return c->call; }

int ex_client_call_start(ex_client_call **out, grpc_channel *channel, grpc_call *parent,
                         const char *method, int timeout_ms) {
  ex_client_call *c = calloc(1, sizeof *c);
  if (!c) return EX_ERR_MEMORY;
  c->cq = grpc_completion_queue_create_for_pluck(NULL);
  c->call = create_call(channel, parent, method, timeout_ms, c->cq);
  grpc_metadata_array_init(&c->initial_md);
  grpc_op op = {.op = GRPC_OP_SEND_INITIAL_METADATA};
  if (!run_batch(c->call, c->cq, &op, 1)) {
    ex_client_call_del(c);
    return EX_ERR_CALL;
  }
  *out = c;
  return 0;
}

int ex_client_call_send(ex_client_call *c, const ProtobufCMessage *msg) {
  grpc_byte_buffer *buf;
  if (ex_pack(msg, &buf) != 0) return EX_ERR_MESSAGE;
  grpc_op op = {.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = buf};
  bool ok = run_batch(c->call, c->cq, &op, 1);
  grpc_byte_buffer_destroy(buf);
  return ok ? 0 : EX_ERR_CALL;
}

int ex_client_call_close_send(ex_client_call *c) {
  if (c->closed_send) return 0;
  c->closed_send = true;
  grpc_op op = {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT};
  return run_batch(c->call, c->cq, &op, 1) ? 0 : EX_ERR_CALL;
}

int ex_client_call_recv(ex_client_call *c, const ProtobufCMessageDescriptor *type,
                        ProtobufCMessage **out) {
  grpc_byte_buffer *buf = NULL;
  grpc_op ops[2];
  size_t n = 0;
  if (!c->recv_initial_md) {
    ops[n++] = (grpc_op){.op = GRPC_OP_RECV_INITIAL_METADATA,
                         .data.recv_initial_metadata.recv_initial_metadata = &c->initial_md};
    c->recv_initial_md = true;
  }
  ops[n++] = (grpc_op){.op = GRPC_OP_RECV_MESSAGE, .data.recv_message.recv_message = &buf};
  if (!run_batch(c->call, c->cq, ops, n)) {
    if (buf) grpc_byte_buffer_destroy(buf);
    return EX_ERR_CALL;
  }
  if (!buf) return 0; /* the server is done sending */
  int rc = ex_unpack(buf, type, out);
  grpc_byte_buffer_destroy(buf);
  return rc == 0 ? 1 : rc;
}

ex_status ex_client_call_finish(ex_client_call *c) {
  if (c->finished) return ex_error(GRPC_STATUS_INTERNAL, "ex_client_call_finish called twice");
  ex_client_call_close_send(c); /* harmless when done or when the call already failed */
  grpc_metadata_array trailing_md;
  grpc_metadata_array_init(&trailing_md);
  grpc_status_code code = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[2];
  size_t n = 0;
  if (!c->recv_initial_md) {
    ops[n++] = (grpc_op){.op = GRPC_OP_RECV_INITIAL_METADATA,
                         .data.recv_initial_metadata.recv_initial_metadata = &c->initial_md};
    c->recv_initial_md = true;
  }
  ops[n++] = (grpc_op){
      .op = GRPC_OP_RECV_STATUS_ON_CLIENT,
      .data.recv_status_on_client = {
          .status = &code, .status_details = &details, .trailing_metadata = &trailing_md}};
  int tag;
  ex_status st;
  if (grpc_call_start_batch(c->call, ops, n, &tag, NULL) != GRPC_CALL_OK) {
    st = ex_error(GRPC_STATUS_INTERNAL, "cannot ask for the status");
  } else {
    grpc_completion_queue_pluck(c->cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    st = status_from(code, details);
    c->finished = true;
  }
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&trailing_md);
  return st;
}

void ex_client_call_del(ex_client_call *c) {
  if (!c) return;
  if (!c->finished) grpc_call_cancel(c->call, NULL);
  grpc_call_unref(c->call);
  grpc_metadata_array_destroy(&c->initial_md);
  destroy_queue(c->cq);
  free(c);
}
