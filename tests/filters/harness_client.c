/*
 * The harness's client helpers (see harness.h): one call at a time per
 * helper, each batch waited for with grpc_completion_queue_pluck or _next
 * on the call's queue, never past the call's deadline plus WAIT_SLACK_MS.
 * Public gRPC core API only.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <grpc/grpc_security.h>

#include "harness_internal.h"

/* ---- client ---- */

grpc_channel *th_channel(int port) {
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(target, creds, NULL);
  grpc_channel_credentials_release(creds);
  if (!ch) th__die("grpc_channel_create(%s) failed", target);
  return ch;
}

#define MAX_MD 160 /* x-test-id and up to 159 extra entries */

typedef struct ccall {
  grpc_call *call;
  grpc_completion_queue *cq;
  bool own_cq, next, small_tags;
  long long wait_until; /* ms, th_now_ms clock */
  uintptr_t seq;
  char tags[16];
  grpc_metadata md[MAX_MD];
  size_t n_md;
  grpc_slice test_id;
  grpc_metadata_array initial, trailing;
  grpc_status_code status;
  grpc_slice details;
  th_result *out;
} ccall;

static void *next_tag(ccall *cc) {
  cc->seq++;
  if (cc->small_tags) return (void *)cc->seq;
  return &cc->tags[cc->seq % sizeof cc->tags];
}

static void batch(ccall *cc, const grpc_op *ops, size_t n, void *tag) {
  grpc_call_error e = grpc_call_start_batch(cc->call, ops, n, tag, NULL);
  if (e != GRPC_CALL_OK) th__die("client: grpc_call_start_batch: error %d", (int)e);
}

/* Wait for `n` tags (any order); each success into ok[i]. */
static void wait_tags(ccall *cc, void *const *tags, bool *ok, size_t n) {
  bool seen[4] = {false, false, false, false};
  for (size_t done = 0; done < n;) {
    long long left = cc->wait_until - th_now_ms();
    if (left < 0) left = 0;
    grpc_event ev;
    if (cc->next) {
      ev = grpc_completion_queue_next(cc->cq, th__in_ms(left), NULL);
    } else {
      size_t i = 0;
      while (seen[i]) i++;
      ev = grpc_completion_queue_pluck(cc->cq, tags[i], th__in_ms(left), NULL);
    }
    if (ev.type != GRPC_OP_COMPLETE) th__die("client: a batch did not complete in time");
    size_t i = 0;
    while (i < n && (seen[i] || tags[i] != ev.tag)) i++;
    if (i == n) th__die("client: unexpected tag %p", ev.tag);
    seen[i] = true;
    ok[i] = ev.success != 0;
    done++;
  }
}

static bool run(ccall *cc, const grpc_op *ops, size_t n) {
  void *tag = next_tag(cc);
  bool ok;
  batch(cc, ops, n, tag);
  wait_tags(cc, &tag, &ok, 1);
  return ok;
}

static void check_response_md(ccall *cc, const grpc_metadata_array *a) {
  for (size_t i = 0; i < a->count; i++)
    if (th__is_tracing_key(a->metadata[i].key)) cc->out->tracing_in_response = true;
}

static int call_begin(ccall *cc, grpc_channel *ch, const char *method, const th_call_opts *o,
                      th_result *out) {
  static const th_call_opts none;
  if (!o) o = &none;
  memset(cc, 0, sizeof *cc);
  memset(out, 0, sizeof *out);
  cc->out = out;
  int deadline_ms = o->deadline_ms > 0 ? o->deadline_ms : 10000;
  cc->wait_until = th_now_ms() + deadline_ms + WAIT_SLACK_MS;
  if (o->cq) {
    cc->cq = o->cq;
    cc->next = o->cq_next;
  } else {
    cc->own_cq = true;
    cc->next = o->use_next || o->small_tags;
    cc->small_tags = o->small_tags;
    cc->cq = cc->next ? grpc_completion_queue_create_for_next(NULL)
                      : grpc_completion_queue_create_for_pluck(NULL);
  }
  gpr_timespec deadline = th__in_ms(deadline_ms);
  if (o->registered) {
    void *handle = grpc_channel_register_call(ch, method, NULL, NULL);
    cc->call = grpc_channel_create_registered_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cc->cq,
                                                   handle, deadline, NULL);
  } else {
    grpc_slice m = grpc_slice_from_copied_string(method);
    cc->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cc->cq, m, NULL,
                                        deadline, NULL);
    grpc_slice_unref(m);
  }
  if (!cc->call) th__die("client: could not create a call to %s", method);
  if (o->on_call) o->on_call(cc->call, o->user);
  cc->test_id = grpc_empty_slice();
  if (o->test_id) {
    cc->test_id = grpc_slice_from_copied_string(o->test_id);
    cc->md[cc->n_md].key = grpc_slice_from_static_string("x-test-id");
    cc->md[cc->n_md++].value = cc->test_id;
  }
  if (o->n_extra > MAX_MD - 1) th__die("client: too much metadata");
  for (size_t i = 0; i < o->n_extra; i++) cc->md[cc->n_md++] = o->extra[i];
  grpc_metadata_array_init(&cc->initial);
  grpc_metadata_array_init(&cc->trailing);
  cc->details = grpc_empty_slice();
  return 0;
}

static void op_send_md(ccall *cc, grpc_op *op) {
  memset(op, 0, sizeof *op);
  op->op = GRPC_OP_SEND_INITIAL_METADATA;
  op->data.send_initial_metadata.count = cc->n_md;
  op->data.send_initial_metadata.metadata = cc->n_md ? cc->md : NULL;
}

static void op_recv_status(ccall *cc, grpc_op *op) {
  memset(op, 0, sizeof *op);
  op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op->data.recv_status_on_client.status = &cc->status;
  op->data.recv_status_on_client.status_details = &cc->details;
  op->data.recv_status_on_client.trailing_metadata = &cc->trailing;
}

/* Note a received message (NULL: none). */
static void got_message(ccall *cc, grpc_byte_buffer *bb) {
  if (!bb) return;
  cc->out->n_received++;
  th__buffer_to_text(bb, cc->out->last);
  grpc_byte_buffer_destroy(bb);
}

static int call_end(ccall *cc) {
  th_result *out = cc->out;
  out->status = cc->status;
  th__slice_text(out->details, cc->details);
  check_response_md(cc, &cc->initial);
  check_response_md(cc, &cc->trailing);
  grpc_slice_unref(cc->details);
  grpc_metadata_array_destroy(&cc->initial);
  grpc_metadata_array_destroy(&cc->trailing);
  grpc_slice_unref(cc->test_id);
  grpc_call_unref(cc->call);
  if (cc->own_cq) {
    grpc_completion_queue_shutdown(cc->cq);
    for (;;) {
      grpc_event ev = cc->next ? grpc_completion_queue_next(cc->cq, th__in_ms(WAIT_SLACK_MS), NULL)
                               : grpc_completion_queue_pluck(cc->cq, NULL, th__in_ms(WAIT_SLACK_MS),
                                                             NULL);
      if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
      if (ev.type == GRPC_QUEUE_TIMEOUT) th__die("client: completion queue did not drain");
    }
    grpc_completion_queue_destroy(cc->cq);
  }
  return 0;
}

int th_unary(grpc_channel *ch, const char *method, const char *request, const th_call_opts *o,
             th_result *out) {
  ccall cc;
  call_begin(&cc, ch, method, o, out);
  grpc_byte_buffer *req = th__buffer_text(request), *resp = NULL;
  grpc_op ops[6];
  op_send_md(&cc, &ops[0]);
  memset(&ops[1], 0, sizeof ops - sizeof ops[0]);
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc.initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &resp;
  op_recv_status(&cc, &ops[5]);
  run(&cc, ops, 6);
  got_message(&cc, resp);
  grpc_byte_buffer_destroy(req);
  return call_end(&cc);
}

int th_client_stream(grpc_channel *ch, const char *method, const char *const *msgs, size_t n,
                     const th_call_opts *o, th_result *out) {
  ccall cc;
  call_begin(&cc, ch, method, o, out);
  grpc_op ops[3];
  op_send_md(&cc, &ops[0]);
  bool ok = run(&cc, ops, 1);
  for (size_t i = 0; i < n && ok; i++) {
    grpc_byte_buffer *m = th__buffer_text(msgs[i]);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_MESSAGE;
    ops[0].data.send_message.send_message = m;
    ok = run(&cc, ops, 1);
    grpc_byte_buffer_destroy(m);
  }
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  run(&cc, ops, 1);
  grpc_byte_buffer *resp = NULL;
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[0].data.recv_initial_metadata.recv_initial_metadata = &cc.initial;
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &resp;
  op_recv_status(&cc, &ops[2]);
  run(&cc, ops, 3);
  got_message(&cc, resp);
  return call_end(&cc);
}

int th_server_stream(grpc_channel *ch, const char *method, const char *request,
                     const th_call_opts *o, th_result *out) {
  static const th_call_opts none;
  const th_call_opts *opts = o ? o : &none;
  ccall cc;
  call_begin(&cc, ch, method, o, out);
  grpc_byte_buffer *req = th__buffer_text(request);
  grpc_op ops[3];
  op_send_md(&cc, &ops[0]);
  memset(&ops[1], 0, 2 * sizeof ops[0]);
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  run(&cc, ops, 3);
  grpc_byte_buffer_destroy(req);
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[0].data.recv_initial_metadata.recv_initial_metadata = &cc.initial;
  run(&cc, ops, 1);
  for (int i = 0;; i++) {
    grpc_byte_buffer *m = NULL;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_MESSAGE;
    ops[0].data.recv_message.recv_message = &m;
    bool ok = run(&cc, ops, 1);
    if (!ok || !m) {
      if (m) grpc_byte_buffer_destroy(m);
      break;
    }
    got_message(&cc, m);
    if (opts->on_message) opts->on_message(i, opts->user);
  }
  op_recv_status(&cc, &ops[0]);
  run(&cc, ops, 1);
  return call_end(&cc);
}

/* Send `msg` and receive one message, the two batches in flight at once.
 * Returns whether both succeeded and a message came. */
static bool exchange(ccall *cc, const char *msg, bool first) {
  grpc_byte_buffer *m = th__buffer_text(msg), *resp = NULL;
  grpc_op send[2], recv[2];
  memset(send, 0, sizeof send);
  memset(recv, 0, sizeof recv);
  size_t ns = 0, nr = 0;
  if (first) op_send_md(cc, &send[ns++]);
  send[ns].op = GRPC_OP_SEND_MESSAGE;
  send[ns++].data.send_message.send_message = m;
  if (first) {
    recv[nr].op = GRPC_OP_RECV_INITIAL_METADATA;
    recv[nr++].data.recv_initial_metadata.recv_initial_metadata = &cc->initial;
  }
  recv[nr].op = GRPC_OP_RECV_MESSAGE;
  recv[nr++].data.recv_message.recv_message = &resp;
  void *tags[2] = {next_tag(cc), next_tag(cc)};
  bool ok[2];
  batch(cc, send, ns, tags[0]);
  batch(cc, recv, nr, tags[1]);
  wait_tags(cc, tags, ok, 2);
  grpc_byte_buffer_destroy(m);
  bool got = resp != NULL;
  got_message(cc, resp);
  return ok[0] && ok[1] && got;
}

int th_bidi(grpc_channel *ch, const char *method, const char *const *msgs, size_t n,
            const th_call_opts *o, th_result *out) {
  ccall cc;
  call_begin(&cc, ch, method, o, out);
  grpc_op ops[2];
  bool ok = true;
  bool sent_md = false;
  for (size_t i = 0; i < n && ok; i++) {
    ok = exchange(&cc, msgs[i], i == 0);
    sent_md = true;
  }
  memset(ops, 0, sizeof ops);
  size_t k = 0;
  if (!sent_md) op_send_md(&cc, &ops[k++]);
  ops[k++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  run(&cc, ops, k);
  op_recv_status(&cc, &ops[0]);
  run(&cc, ops, 1);
  return call_end(&cc);
}

int th_bidi_cancel(grpc_channel *ch, const char *method, const char *msg, int code,
                   const char *details, const th_call_opts *o, th_result *out) {
  ccall cc;
  call_begin(&cc, ch, method, o, out);
  exchange(&cc, msg, true);
  grpc_call_error e = code ? grpc_call_cancel_with_status(cc.call, (grpc_status_code)code,
                                                          details ? details : "", NULL)
                           : grpc_call_cancel(cc.call, NULL);
  if (e != GRPC_CALL_OK) th__die("client: grpc_call_cancel: error %d", (int)e);
  grpc_op op;
  op_recv_status(&cc, &op);
  run(&cc, &op, 1);
  return call_end(&cc);
}

int th_abandon(grpc_channel *ch, const char *method, const char *request, const th_call_opts *o,
               th_result *out) {
  ccall cc;
  call_begin(&cc, ch, method, o, out);
  grpc_byte_buffer *req = th__buffer_text(request);
  grpc_op ops[3];
  op_send_md(&cc, &ops[0]);
  memset(&ops[1], 0, 2 * sizeof ops[0]);
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  run(&cc, ops, 3);
  grpc_byte_buffer_destroy(req);
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[0].data.recv_initial_metadata.recv_initial_metadata = &cc.initial;
  run(&cc, ops, 1);
  call_end(&cc); /* releases the call: no status was ever asked for */
  out->status = (grpc_status_code)-1;
  return 0;
}
