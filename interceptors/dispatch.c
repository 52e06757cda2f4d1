/*
 * The dispatcher: the one implementation of every interposed gRPC core
 * function (rpct__hook_*), reached from wrap.c or preload.c. It recognises
 * client calls at creation and server calls when a request-call completes,
 * keeps per-call state in the call's arena, and turns batch completions into
 * filter events. Calls it did not recognise are passed through untouched.
 *
 * Two lock-free tables, which grow with the calls in flight (tables.c):
 * - calls: grpc_call* -> call state. Looking a call up never dereferences a
 *   pointer rpctrace did not create (the census slot would hold whatever an
 *   application stored there), and leaves the application's census slot
 *   to the application.
 * - ops: (completion queue, tag) -> what a started batch or request-call
 *   must observe when it completes. For callback queues the tag given to
 *   core is the slot's own functor, which runs the observation and then the
 *   application's functor.
 * A call is given its table slot before any filter sees it, so a table
 * that cannot take it (no memory left to grow) leaves the call untraced
 * from the start, counted, with no span begun. A batch of a traced call
 * whose op cannot be kept is counted too, and the call's span, missing
 * what that batch would have said, never claims a status it did not see.
 * Neither blocks or fails the RPC.
 *
 * Metadata is shown to filters whole, and what filters add to a client
 * call is never cut for want of room: the common case uses the stack, and
 * a larger request (more than MD_STACK entries, or added headers beyond
 * ADDED_MD_BYTES, say 8 KB of baggage) takes what it needs from the call's
 * arena, freed with the call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/support/alloc.h>

#include "interceptors.h"
#include "internal.h"
#include "tables.h"
#include "utf8.h"

#define MAX_FILTERS 8
#define MD_STACK 64     /* metadata entries viewed or extended on the stack; more: the call arena */
#define MAX_ADDED_MD 16 /* entries filters add before the writer grows */
#define ADDED_MD_BYTES 2048 /* text filters add before the writer grows */
#define MAX_BATCH_OPS 8     /* gRPC takes each op type once per batch: at most 6 */

/* ---- the front end's table of real functions ---- */

static _Atomic(const rpct__grpc_api *) api;

void rpct__dispatch_set_api(const rpct__grpc_api *a) { atomic_store(&api, a); }

static inline const rpct__grpc_api *real(void) {
  return atomic_load_explicit(&api, memory_order_acquire);
}

/* What could not be traced (rpct_call_stats_get): calls left untraced
 * because no table slot could be had, batches of traced calls whose
 * completion could not be kept. Relaxed counters, any thread. */
static atomic_uint_least64_t calls_untraced, batches_unobserved;

/* ---- filters ---- */

/* Written by rpct_filter_register before any call; read-only afterwards
 * (calls_seen makes later registration fail). */
static const rpct_filter *filters[MAX_FILTERS];
static size_t n_filters;
static atomic_bool calls_seen;

int rpct_filter_register(const rpct_filter *f) {
  if (!f || !f->start) return RPCT_ERR_INVALID_ARGUMENT;
  if (atomic_load(&calls_seen)) return RPCT_ERR_STATE;
  if (n_filters == MAX_FILTERS) return RPCT_ERR_LIMIT;
  filters[n_filters++] = f;
  return RPCT_OK;
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

/* ---- per-call state, in the call arena ---- */

typedef struct call_state {
  grpc_call *call;
  unsigned side;
  grpc_completion_queue *cq; /* where the call's batches complete */
  bool cq_callback;
  pthread_mutex_t lock;             /* serialises the filters' callbacks of this call */
  atomic_int app_refs;              /* references the application holds */
  bool sent_md, status_done, ended; /* under lock */
  bool blind;                       /* under lock: a batch's completion went unobserved (counted) */
  gpr_timespec deadline;            /* server: the call's deadline */
  uint32_t follow;                  /* bit i: filter i follows the call */
  void *fdata[MAX_FILTERS];
  const rpct_span_context *span_ctx; /* published by a filter's start */
  const char *baggage;
  size_t baggage_len;
  char method[MAX_METHOD];
  size_t method_len;
} call_state;

/* ---- events ---- */

/* The metadata array as filters see it: every entry, wherever the
 * headers rpctrace reads sit in it. Up to MD_STACK entries in `stack`;
 * more in `call`'s arena (a request may carry hundreds). */
static const rpct_md *md_view(grpc_call *call, const grpc_metadata_array *a,
                              rpct_md stack[MD_STACK], size_t *n) {
  *n = a ? a->count : 0;
  rpct_md *out = *n <= MD_STACK ? stack : grpc_call_arena_alloc(call, *n * sizeof *out);
  for (size_t i = 0; i < *n; i++) {
    const grpc_metadata *m = &a->metadata[i];
    out[i] = (rpct_md){(const char *)GRPC_SLICE_START_PTR(m->key), GRPC_SLICE_LENGTH(m->key),
                       (const char *)GRPC_SLICE_START_PTR(m->value), GRPC_SLICE_LENGTH(m->value)};
  }
  return out;
}

static bool following(const call_state *cs, size_t i) { return (cs->follow >> i) & 1u; }

/* Status then end, once, with cs->lock held. */
static void finish_locked(call_state *cs, const rpct_call_status *st) {
  if (cs->ended) return;
  if (!cs->status_done) {
    cs->status_done = true;
    for (size_t i = 0; i < n_filters; i++)
      if (following(cs, i) && filters[i]->status) filters[i]->status(cs->fdata[i], st);
  }
  cs->ended = true;
  for (size_t i = 0; i < n_filters; i++)
    if (following(cs, i) && filters[i]->end) filters[i]->end(cs->fdata[i]);
}

static void finish(call_state *cs, int code, const char *msg) {
  rpct_call_status st = {.code = code, .message = msg, .message_len = msg ? strlen(msg) : 0};
  pthread_mutex_lock(&cs->lock);
  finish_locked(cs, &st);
  pthread_mutex_unlock(&cs->lock);
}

/* The application released the call before a status was seen. Core
 * cancels such a call; but when one of its batches went unobserved, the
 * status may have come and gone unseen: then the span ends with none
 * (unset, never an error it cannot vouch for). */
static void finish_released(call_state *cs) {
  rpct_call_status st = {.code = GRPC_STATUS_CANCELLED,
                         .message = "call released before it completed"};
  st.message_len = strlen(st.message);
  pthread_mutex_lock(&cs->lock);
  if (cs->blind) cs->status_done = true;
  finish_locked(cs, &st);
  pthread_mutex_unlock(&cs->lock);
}

/* Why a server call was cancelled: core reports both a client's cancel and
 * an expired deadline as "cancelled"; the deadline tells them apart. */
static grpc_status_code server_cancel_code(const call_state *cs) {
  if (cs->deadline.clock_type == GPR_TIMESPAN) return GRPC_STATUS_CANCELLED; /* unknown */
  gpr_timespec now = gpr_now(cs->deadline.clock_type);
  return gpr_time_cmp(now, cs->deadline) >= 0 ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED;
}

/* The events a completed batch carries, in the order of the application's
 * ops (a server reads the request before it replies, a client sends first),
 * then the status. */
static void batch_events_locked(call_state *cs, const pending_op *op, bool success) {
  rpct_md stack[MD_STACK];
  size_t n;
  for (uint8_t k = 0; k < op->n_order && success; k++) {
    switch (op->order[k]) {
      case B_RECV_INITIAL_MD: {
        const rpct_md *md = md_view(cs->call, op->recv_initial_md, stack, &n);
        for (size_t i = 0; i < n_filters; i++)
          if (following(cs, i) && filters[i]->recv_initial_metadata)
            filters[i]->recv_initial_metadata(cs->fdata[i], md, n);
        break;
      }
      case B_SEND_MSG:
        for (size_t i = 0; i < n_filters; i++)
          if (following(cs, i) && filters[i]->message_sent)
            filters[i]->message_sent(cs->fdata[i], op->sent_bytes);
        break;
      case B_RECV_MSG:
        /* A NULL message received is the end of the stream, not a message. */
        if (op->recv_message && *op->recv_message) {
          size_t bytes = grpc_byte_buffer_length(*op->recv_message);
          for (size_t i = 0; i < n_filters; i++)
            if (following(cs, i) && filters[i]->message_received)
              filters[i]->message_received(cs->fdata[i], bytes);
        }
        break;
    }
  }
  rpct_call_status st = {0};
  if (op->bits & B_RECV_STATUS) {
    /* Core always completes this op, with the call's final status. */
    const rpct_md *md = md_view(cs->call, op->recv_trailing, stack, &n);
    st = (rpct_call_status){.code = *op->recv_status, .trailing = md, .n_trailing = n};
    if (op->recv_details) {
      st.message = (const char *)GRPC_SLICE_START_PTR(*op->recv_details);
      st.message_len = GRPC_SLICE_LENGTH(*op->recv_details);
    }
  } else if (op->bits & B_SEND_STATUS) {
    st.code = success ? (int)op->sent_status : (int)server_cancel_code(cs);
    st.message = success ? op->sent_details : "status not sent: the call was cancelled";
    if (success) st.time_unix_ns = op->sent_at_unix_ns;
  } else if ((op->bits & B_RECV_CLOSE) && op->recv_cancelled && *op->recv_cancelled) {
    st.code = (int)server_cancel_code(cs);
    st.message = st.code == GRPC_STATUS_DEADLINE_EXCEEDED ? "deadline exceeded" : "cancelled";
  } else {
    return;
  }
  /* Received details are a slice (length set above, not NUL-terminated);
   * the other messages are C strings. */
  if (!(op->bits & B_RECV_STATUS) && st.message) st.message_len = strlen(st.message);
  finish_locked(cs, &st);
}

static void process_batch(const pending_op *op, bool success) {
  call_state *cs = op->cs;
  pthread_mutex_lock(&cs->lock);
  if (!cs->ended) batch_events_locked(cs, op, success);
  pthread_mutex_unlock(&cs->lock);
  /* The reference start_batch took keeps the arena alive until here. */
  real()->grpc_call_unref(cs->call);
}

/* A new call state in `call`'s arena, with every filter of `side` given its
 * zeroed data; NULL when no filter applies. */
static call_state *state_new(grpc_call *call, unsigned side) {
  size_t size = align16(sizeof(call_state));
  bool any = false;
  for (size_t i = 0; i < n_filters; i++) {
    if (!(filters[i]->sides & side)) continue;
    any = true;
    size += align16(filters[i]->call_data_size);
  }
  if (!any) return NULL;
  char *mem = grpc_call_arena_alloc(call, size);
  if (!mem) return NULL;
  /* The state up to its method text (written by copy_method before it is
   * read), and of each filter's data what it asks to be zeroed: the
   * tracing filters' span records are most of the arena and are written
   * field by field. */
  memset(mem, 0, offsetof(call_state, method));
  call_state *cs = (call_state *)mem;
  cs->call = call;
  cs->side = side;
  cs->method[0] = '\0';
  cs->method_len = 0;
  pthread_mutex_init(&cs->lock, NULL); /* never destroyed: glibc mutexes hold no resources */
  char *p = mem + align16(sizeof(call_state));
  for (size_t i = 0; i < n_filters; i++) {
    if (!(filters[i]->sides & side)) continue;
    const rpct_filter *f = filters[i];
    cs->fdata[i] = p;
    size_t zeroed = f->call_data_zeroed && f->call_data_zeroed < f->call_data_size
                        ? f->call_data_zeroed
                        : f->call_data_size;
    memset(p, 0, zeroed);
    p += align16(f->call_data_size);
  }
  return cs;
}

/* Run every applicable filter's start; register the call when one follows.
 * The slot comes first: a call that cannot be tracked is left alone before
 * any filter begins a span for it, rather than given a span that would
 * have to end at once, as if the RPC had failed. */
static call_state *start_call(call_state *cs, rpct_call_info *info) {
  atomic_store_explicit(&calls_seen, true, memory_order_relaxed);
  call_slot *slot = rpct__call_claim(cs->call);
  if (!slot) {
    atomic_fetch_add_explicit(&calls_untraced, 1, memory_order_relaxed);
    return NULL;
  }
  info->call = cs->call;
  for (size_t i = 0; i < n_filters; i++) {
    if (!cs->fdata[i]) continue;
    if (filters[i]->start(cs->fdata[i], info) == RPCT_FILTER_FOLLOW) cs->follow |= 1u << i;
  }
  if (!cs->follow) {
    rpct__call_unclaim(slot);
    return NULL;
  }
  cs->span_ctx = info->span_context;
  cs->baggage = info->baggage;
  cs->baggage_len = info->baggage_len;
  atomic_store(&cs->app_refs, 1);
  rpct__call_publish(slot, cs->call, cs);
  return cs;
}

static void ensure_init(void);
static void functor_run(grpc_completion_queue_functor *f, int ok);

/* The method as the filters see it, cut on a character boundary: a cut
 * inside a character would leave an ill-formed sequence in span names. */
static size_t copy_method(call_state *cs, const char *m, size_t len) {
  len = rpct__utf8_cut(m, len, sizeof cs->method - 1);
  memcpy(cs->method, m, len);
  cs->method[len] = '\0';
  return cs->method_len = len;
}

static void client_call_created(grpc_call *call, grpc_channel *channel, grpc_call *parent_call,
                                grpc_completion_queue *cq, const char *method, size_t method_len,
                                const char *host, size_t host_len) {
  if (!call || rpct__is_internal_channel(channel)) return;
  ensure_init();
  call_state *cs = state_new(call, RPCT_SIDE_CLIENT);
  if (!cs) return;
  cs->cq = cq;
  cs->cq_callback = rpct__is_callback_cq(cq);
  rpct_call_info info = {.side = RPCT_SIDE_CLIENT, .authority = host, .authority_len = host_len};
  info.method_len = copy_method(cs, method, method_len);
  info.method = cs->method;
  info.target = rpct__channel_target_of(channel);
  call_state *parent = parent_call ? rpct__call_lookup(parent_call) : NULL;
  if (parent) {
    info.parent = parent->span_ctx;
    info.parent_baggage = parent->baggage;
    info.parent_baggage_len = parent->baggage_len;
  } else {
    info.parent = rpct_context_current();
  }
  start_call(cs, &info);
}

/* ---- hooks: client calls ---- */

grpc_call *rpct__hook_grpc_channel_create_call(grpc_channel *channel, grpc_call *parent_call,
                                               uint32_t propagation_mask, grpc_completion_queue *cq,
                                               grpc_slice method, const grpc_slice *host,
                                               gpr_timespec deadline, void *reserved) {
  grpc_call *call = real()->grpc_channel_create_call(channel, parent_call, propagation_mask, cq,
                                                     method, host, deadline, reserved);
  client_call_created(call, channel, parent_call, cq, (const char *)GRPC_SLICE_START_PTR(method),
                      GRPC_SLICE_LENGTH(method),
                      host ? (const char *)GRPC_SLICE_START_PTR(*host) : NULL,
                      host ? GRPC_SLICE_LENGTH(*host) : 0);
  return call;
}

void *rpct__hook_grpc_channel_register_call(grpc_channel *channel, const char *method,
                                            const char *host, void *reserved) {
  void *handle = real()->grpc_channel_register_call(channel, method, host, reserved);
  rpct__registered_add(rpct__reg_channel, channel, handle, method, host);
  return handle;
}

grpc_call *rpct__hook_grpc_channel_create_registered_call(grpc_channel *channel,
                                                          grpc_call *parent_call,
                                                          uint32_t propagation_mask,
                                                          grpc_completion_queue *cq,
                                                          void *registered_call_handle,
                                                          gpr_timespec deadline, void *reserved) {
  grpc_call *call = real()->grpc_channel_create_registered_call(
      channel, parent_call, propagation_mask, cq, registered_call_handle, deadline, reserved);
  const registered *r = rpct__registered_find(rpct__reg_channel, registered_call_handle);
  if (r)
    client_call_created(call, channel, parent_call, cq, r->method, strlen(r->method),
                        r->host[0] ? r->host : NULL, strlen(r->host));
  return call;
}

void rpct__hook_grpc_channel_destroy(grpc_channel *channel) {
  rpct__channel_forget(channel);
  real()->grpc_channel_destroy(channel);
}

/* ---- hooks: server calls ---- */

/* What starting a request-call needs beyond the pending op. */
typedef struct request_args {
  grpc_server *server;
  void *registered_method; /* NULL: grpc_server_request_call */
  gpr_timespec *deadline;
  grpc_byte_buffer **optional_payload;
} request_args;

static grpc_call_error start_request(const request_args *a, const pending_op *op, void *tag) {
  if (!a->registered_method)
    return real()->grpc_server_request_call(a->server, op->new_call, op->details, op->request_md,
                                            op->cq_bound, op->cq, tag);
  return real()->grpc_server_request_registered_call(
      a->server, a->registered_method, op->new_call, a->deadline, op->request_md,
      a->optional_payload, op->cq_bound, op->cq, tag);
}

/* Start a request-call whose completion delivers a new server call. */
static grpc_call_error request(pending_op *op, void *tag_new, const request_args *a) {
  bool any = false;
  for (size_t i = 0; i < n_filters; i++) any |= (filters[i]->sides & RPCT_SIDE_SERVER) != 0;
  if (!any) return start_request(a, op, tag_new);
  op->kind = OP_REQUEST;
  op_slot *s;
  grpc_call_error rc;
  if (rpct__is_callback_cq(op->cq)) {
    if (!(s = rpct__op_reserve())) {
      /* The call it delivers will not be recognised: one untraced call. */
      atomic_fetch_add_explicit(&calls_untraced, 1, memory_order_relaxed);
      return start_request(a, op, tag_new);
    }
    op->app_functor = tag_new;
    s->op = *op;
    s->wrapper = (grpc_completion_queue_functor){.functor_run = functor_run,
                                                 .inlineable = op->app_functor->inlineable};
    rpct__op_publish_callback(s);
    rc = start_request(a, op, &s->wrapper);
  } else {
    s = rpct__op_publish(tag_new, op);
    if (!s) atomic_fetch_add_explicit(&calls_untraced, 1, memory_order_relaxed);
    rc = start_request(a, op, tag_new);
  }
  if (rc != GRPC_CALL_OK && s) rpct__op_release(s);
  return rc;
}

grpc_call_error rpct__hook_grpc_server_request_call(grpc_server *server, grpc_call **call,
                                                    grpc_call_details *details,
                                                    grpc_metadata_array *request_metadata,
                                                    grpc_completion_queue *cq_bound_to_call,
                                                    grpc_completion_queue *cq_for_notification,
                                                    void *tag_new) {
  ensure_init();
  pending_op op = {.cq = cq_for_notification,
                   .new_call = call,
                   .details = details,
                   .request_md = request_metadata,
                   .cq_bound = cq_bound_to_call,
                   .method_registration = rpct__registered_any_of(rpct__reg_server, server)
                                              ? RPCT_METHOD_UNREGISTERED
                                              : RPCT_METHOD_UNKNOWABLE};
  request_args a = {.server = server};
  return request(&op, tag_new, &a);
}

void *rpct__hook_grpc_server_register_method(grpc_server *server, const char *method,
                                             const char *host,
                                             grpc_server_register_method_payload_handling handling,
                                             uint32_t flags) {
  void *handle = real()->grpc_server_register_method(server, method, host, handling, flags);
  rpct__registered_add(rpct__reg_server, server, handle, method, host);
  return handle;
}

grpc_call_error rpct__hook_grpc_server_request_registered_call(
    grpc_server *server, void *registered_method, grpc_call **call, gpr_timespec *deadline,
    grpc_metadata_array *request_metadata, grpc_byte_buffer **optional_payload,
    grpc_completion_queue *cq_bound_to_call, grpc_completion_queue *cq_for_notification,
    void *tag_new) {
  ensure_init();
  const registered *r = rpct__registered_find(rpct__reg_server, registered_method);
  pending_op op = {.cq = cq_for_notification,
                   .new_call = call,
                   .request_md = request_metadata,
                   .cq_bound = cq_bound_to_call,
                   .reg_method = r ? r->method : NULL,
                   .method_registration = RPCT_METHOD_REGISTERED};
  request_args a = {server, registered_method, deadline, optional_payload};
  if (!r) return start_request(&a, &op, tag_new);
  return request(&op, tag_new, &a);
}

static void server_call_arrived(const pending_op *op, bool success) {
  if (!success || !op->new_call || !*op->new_call) return;
  grpc_call *call = *op->new_call;
  call_state *cs = state_new(call, RPCT_SIDE_SERVER);
  if (!cs) return;
  cs->cq = op->cq_bound;
  cs->cq_callback = rpct__is_callback_cq(op->cq_bound);
  rpct_md stack[MD_STACK];
  rpct_call_info info = {.side = RPCT_SIDE_SERVER, .method_registration = op->method_registration};
  if (op->reg_method) {
    info.method_len = copy_method(cs, op->reg_method, strlen(op->reg_method));
  } else if (op->details) {
    info.method_len = copy_method(cs, (const char *)GRPC_SLICE_START_PTR(op->details->method),
                                  GRPC_SLICE_LENGTH(op->details->method));
    info.authority = (const char *)GRPC_SLICE_START_PTR(op->details->host);
    info.authority_len = GRPC_SLICE_LENGTH(op->details->host);
  }
  info.method = cs->method;
  cs->deadline = op->details ? op->details->deadline
                 : op->deadline ? *op->deadline
                                : gpr_inf_future(GPR_TIMESPAN); /* TIMESPAN: not known */
  info.metadata = md_view(call, op->request_md, stack, &info.n_metadata);
  start_call(cs, &info);
}

/* ---- hooks: batches and completions ---- */

static void observe(const pending_op *op, bool success) {
  if (op->kind == OP_REQUEST)
    server_call_arrived(op, success);
  else
    process_batch(op, success);
}

static void functor_run(grpc_completion_queue_functor *f, int ok) {
  op_slot *s = (op_slot *)((char *)f - offsetof(op_slot, wrapper));
  pending_op op = rpct__op_read_callback(s);
  rpct__op_release(s);
  observe(&op, ok != 0);
  op.app_functor->functor_run(op.app_functor, ok);
}

/* Inject the filters' metadata into a copy of `ops`; returns the ops to
 * start (the copy, or `ops` unchanged). The application's entries and
 * what filters add go on the stack when they fit, else in the call's
 * arena: the writer grows there (md_writer.c). */
static const grpc_op *inject(call_state *cs, const grpc_op *ops, size_t nops, grpc_op *copy,
                             grpc_metadata *md_out, char *md_buf) {
  size_t at = nops;
  for (size_t i = 0; i < nops; i++)
    if (ops[i].op == GRPC_OP_SEND_INITIAL_METADATA) at = i;
  if (at == nops || cs->side != RPCT_SIDE_CLIENT || nops > MAX_BATCH_OPS) return ops;
  const grpc_op *o = &ops[at];
  size_t n_app = o->data.send_initial_metadata.count, cap = MD_STACK + MAX_ADDED_MD;
  if (n_app > MD_STACK) {
    cap = n_app + MAX_ADDED_MD;
    md_out = grpc_call_arena_alloc(cs->call, cap * sizeof *md_out);
  }
  rpct_md_writer w;
  rpct__md_writer_init(&w, o->data.send_initial_metadata.metadata, n_app, md_out, cap, md_buf,
                       ADDED_MD_BYTES);
  w.call = cs->call;
  pthread_mutex_lock(&cs->lock);
  if (!cs->sent_md && !cs->ended) {
    cs->sent_md = true;
    for (size_t i = 0; i < n_filters; i++)
      if (following(cs, i) && filters[i]->send_initial_metadata)
        filters[i]->send_initial_metadata(cs->fdata[i], &w);
  }
  pthread_mutex_unlock(&cs->lock);
  if (w.n_out == n_app) return ops;
  memcpy(copy, ops, nops * sizeof *ops);
  copy[at].data.send_initial_metadata.count = w.n_out;
  copy[at].data.send_initial_metadata.metadata = w.out;
  return copy;
}

grpc_call_error rpct__hook_grpc_call_start_batch(grpc_call *call, const grpc_op *ops, size_t nops,
                                                 void *tag, void *reserved) {
  call_state *cs = rpct__call_lookup(call);
  if (!cs) return real()->grpc_call_start_batch(call, ops, nops, tag, reserved);

  grpc_op copy[MAX_BATCH_OPS];
  grpc_metadata md_out[MD_STACK + MAX_ADDED_MD];
  char md_buf[ADDED_MD_BYTES];
  const grpc_op *send = inject(cs, ops, nops, copy, md_out, md_buf);

  pending_op op = {.kind = OP_BATCH, .cs = cs};
  for (size_t i = 0; i < nops; i++) {
    const grpc_op *o = &ops[i];
    switch (o->op) {
      case GRPC_OP_SEND_MESSAGE:
        op.bits |= B_SEND_MSG;
        op.order[op.n_order++] = B_SEND_MSG;
        op.sent_bytes = o->data.send_message.send_message
                            ? grpc_byte_buffer_length(o->data.send_message.send_message)
                            : 0;
        break;
      case GRPC_OP_RECV_INITIAL_METADATA:
        op.bits |= B_RECV_INITIAL_MD;
        op.order[op.n_order++] = B_RECV_INITIAL_MD;
        op.recv_initial_md = o->data.recv_initial_metadata.recv_initial_metadata;
        break;
      case GRPC_OP_RECV_MESSAGE:
        op.bits |= B_RECV_MSG;
        op.order[op.n_order++] = B_RECV_MSG;
        op.recv_message = o->data.recv_message.recv_message;
        break;
      case GRPC_OP_RECV_STATUS_ON_CLIENT:
        op.bits |= B_RECV_STATUS;
        op.recv_status = o->data.recv_status_on_client.status;
        op.recv_details = o->data.recv_status_on_client.status_details;
        op.recv_trailing = o->data.recv_status_on_client.trailing_metadata;
        break;
      case GRPC_OP_SEND_STATUS_FROM_SERVER: {
        op.bits |= B_SEND_STATUS;
        op.sent_status = o->data.send_status_from_server.status;
        op.sent_at_unix_ns = rpct_now_unix_ns();
        const grpc_slice *d = o->data.send_status_from_server.status_details;
        size_t n = d ? GRPC_SLICE_LENGTH(*d) : 0;
        if (n >= sizeof op.sent_details) n = sizeof op.sent_details - 1;
        if (n) memcpy(op.sent_details, GRPC_SLICE_START_PTR(*d), n);
        op.sent_details[n] = '\0';
        break;
      }
      case GRPC_OP_RECV_CLOSE_ON_SERVER:
        op.bits |= B_RECV_CLOSE;
        op.recv_cancelled = o->data.recv_close_on_server.cancelled;
        break;
      default: break;
    }
  }
  if (!op.bits) return real()->grpc_call_start_batch(call, send, nops, tag, reserved);

  /* Observed at completion: hold a reference so the call's arena (and the
   * state in it) outlives an application that releases the call early. */
  real()->grpc_call_ref(call);
  op.cq = cs->cq;
  op_slot *s;
  grpc_call_error rc;
  if (cs->cq_callback) {
    if ((s = rpct__op_reserve())) {
      op.app_functor = tag;
      s->op = op;
      s->wrapper = (grpc_completion_queue_functor){.functor_run = functor_run,
                                                   .inlineable = op.app_functor->inlineable};
      rpct__op_publish_callback(s);
      rc = real()->grpc_call_start_batch(call, send, nops, &s->wrapper, reserved);
    } else {
      rc = real()->grpc_call_start_batch(call, send, nops, tag, reserved);
    }
  } else {
    s = rpct__op_publish(tag, &op);
    rc = real()->grpc_call_start_batch(call, send, nops, tag, reserved);
  }
  if (rc == GRPC_CALL_OK && !s) {
    /* Started, but its completion will not be seen (counted). */
    atomic_fetch_add_explicit(&batches_unobserved, 1, memory_order_relaxed);
    pthread_mutex_lock(&cs->lock);
    cs->blind = true;
    pthread_mutex_unlock(&cs->lock);
  }
  if (rc != GRPC_CALL_OK || !s) {
    if (s) rpct__op_release(s);
    real()->grpc_call_unref(call);
  }
  return rc;
}

/* A completion: the op published under this queue and tag, if any. */
static void completed(grpc_completion_queue *cq, const grpc_event *ev) {
  pending_op op;
  if (ev->type == GRPC_OP_COMPLETE && rpct__op_take(cq, ev->tag, &op))
    observe(&op, ev->success != 0);
}

grpc_event rpct__hook_grpc_completion_queue_next(grpc_completion_queue *cq, gpr_timespec deadline,
                                                 void *reserved) {
  grpc_event ev = real()->grpc_completion_queue_next(cq, deadline, reserved);
  completed(cq, &ev);
  return ev;
}

grpc_event rpct__hook_grpc_completion_queue_pluck(grpc_completion_queue *cq, void *tag,
                                                  gpr_timespec deadline, void *reserved) {
  grpc_event ev = real()->grpc_completion_queue_pluck(cq, tag, deadline, reserved);
  completed(cq, &ev);
  return ev;
}

grpc_completion_queue *rpct__hook_grpc_completion_queue_create(
    const grpc_completion_queue_factory *factory,
    const grpc_completion_queue_attributes *attributes, void *reserved) {
  grpc_completion_queue *cq = real()->grpc_completion_queue_create(factory, attributes, reserved);
  if (cq && attributes && attributes->cq_completion_type == GRPC_CQ_CALLBACK)
    rpct__callback_cq_set(NULL, cq);
  return cq;
}

grpc_completion_queue *rpct__hook_grpc_completion_queue_create_for_callback(
    grpc_completion_queue_functor *shutdown_callback, void *reserved) {
  grpc_completion_queue *cq =
      real()->grpc_completion_queue_create_for_callback(shutdown_callback, reserved);
  if (cq) rpct__callback_cq_set(NULL, cq);
  return cq;
}

void rpct__hook_grpc_completion_queue_destroy(grpc_completion_queue *cq) {
  if (rpct__is_callback_cq(cq)) rpct__callback_cq_set(cq, NULL);
  real()->grpc_completion_queue_destroy(cq);
}

/* ---- hooks: cancellation and release ---- */

grpc_call_error rpct__hook_grpc_call_cancel(grpc_call *call, void *reserved) {
  call_state *cs = rpct__call_lookup(call);
  if (cs) finish(cs, GRPC_STATUS_CANCELLED, "cancelled by the application");
  return real()->grpc_call_cancel(call, reserved);
}

grpc_call_error rpct__hook_grpc_call_cancel_with_status(grpc_call *call, grpc_status_code status,
                                                        const char *description, void *reserved) {
  call_state *cs = rpct__call_lookup(call);
  if (cs) finish(cs, status, description);
  return real()->grpc_call_cancel_with_status(call, status, description, reserved);
}

void rpct__hook_grpc_call_ref(grpc_call *call) {
  call_state *cs = rpct__call_lookup(call);
  if (cs) atomic_fetch_add(&cs->app_refs, 1);
  real()->grpc_call_ref(call);
}

void rpct__hook_grpc_call_unref(grpc_call *call) {
  call_slot *slot = rpct__call_find(call);
  if (slot) {
    call_state *cs = slot->cs;
    if (atomic_fetch_sub(&cs->app_refs, 1) == 1) {
      finish_released(cs);
      rpct__call_remove(slot, call);
    }
  }
  real()->grpc_call_unref(call);
}

/* ---- the application API ---- */

void rpct_call_stats_get(rpct_call_stats *out) {
  if (!out) return;
  *out = (rpct_call_stats){
      .calls_untraced = atomic_load_explicit(&calls_untraced, memory_order_relaxed),
      .batches_unobserved = atomic_load_explicit(&batches_unobserved, memory_order_relaxed),
      .headers_dropped = rpct__md_writer_dropped(),
  };
}

const rpct_span_context *rpct_call_span_context(const grpc_call *call) {
  call_state *cs = rpct__call_lookup(call);
  return cs ? cs->span_ctx : NULL;
}

/* ---- setup ---- */

/*
 * Setup, exit and fork.
 *
 * rpct_init (or the auto-init at a program's first traced call) registers
 * one atexit handler that shuts the global tracer down: spans queued when
 * main returns or exit() is called are exported. rpct_shutdown can be
 * called any number of times (with the handler's own call after it): a
 * tracer shuts down once.
 *
 * The tracer rpct_init made is never freed. Calls may still be in flight
 * when rpct_shutdown runs, on other threads, above all in a program that
 * calls exit() while serving: their spans point to the tracer (and a
 * thread may have just read the global tracer to start one), and nothing
 * cheap on the RPC path could tell when the last of them has let go. Shut
 * down, the tracer stays valid: spans that end later are dropped and
 * counted (rpct_tracer_get_stats: processor.dropped_shutdown); its export
 * thread has ended and its exporter is shut down. A tracer the application
 * gave to rpct_init stays the application's: rpct_shutdown only shuts it
 * down.
 *
 * fork(): a child inherits the global tracer, whose processor does not
 * work there (processor.c: the child's spans are dropped and counted, and
 * its exit handler returns at once). init_lock is taken around fork() so
 * that the child never inherits it locked by a thread it does not have.
 */

/* rpct_init state: written under init_lock. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialized;
static bool exit_flush_registered;
/* Made by rpct_init; kept for the life of the process (see above), here
 * so that leak checkers see it as reachable. */
static rpct_tracer *owned_tracer;
static atomic_bool ready; /* initialized, read lock-free by hooks */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&init_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&init_lock); }
/* The child's only thread is this one, so re-initialising is safe. */
static void fork_child(void) { pthread_mutex_init(&init_lock, NULL); }
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

static void shutdown_at_exit(void) { rpct_shutdown(5000); }

/* Weak: see rpct__front_end in interceptors.h. Hidden, so the reference
 * binds within this module (a copy of the dispatcher in librpctrace.so must
 * not find the front end of another module). */
extern const char rpct__front_end[] __attribute__((weak, visibility("hidden")));

int rpct_init(rpct_tracer *tracer) {
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&init_lock);
  int rc = RPCT_OK;
  if (initialized) {
    rc = RPCT_ERR_STATE;
  } else {
    rpct_tracer *t = tracer;
    if (!t) rc = rpct_tracer_new(&t, NULL);
    if (rc == RPCT_OK) {
      if (!tracer) owned_tracer = t;
      rpct__tracing_configure();
      rpct_filter_register(&rpct__client_tracing_filter);
      rpct_filter_register(&rpct__server_tracing_filter);
      rpct_tracer_set_global(t);
      initialized = true;
      atomic_store(&ready, true);
      if (!exit_flush_registered) exit_flush_registered = atexit(shutdown_at_exit) == 0;
    }
  }
  pthread_mutex_unlock(&init_lock);
  /* Linked with rpctrace::rpctrace (or `pkg-config --libs rpctrace`) alone,
   * everything above succeeds and yet no RPC is ever traced: say so, since
   * nothing else would. Still RPCT_OK: the tracer and spans started through
   * the API work. Reported after the unlock, so a handler may call us. */
  if (rc == RPCT_OK && !rpct__front_end)
    rpct__diag_once("rpct_init.no_front_end",
                    "rpct_init: no gRPC front end in this program, so no RPC will be traced "
                    "(spans started through the API still are); link rpctrace::wrap "
                    "(CMake) or `pkg-config --libs rpctrace-wrap`, or run the program under "
                    "`rpctrace run` (LD_PRELOAD=librpctrace_preload.so)");
  return rc;
}

void rpct_shutdown(uint32_t timeout_ms) {
  pthread_mutex_lock(&init_lock);
  /* RPCT_ERR_STATE when already shut down: nothing more to do. */
  rpct_tracer *t = rpct_tracer_global();
  if (t) rpct_tracer_shutdown(t, timeout_ms);
  pthread_mutex_unlock(&init_lock);
}

static void auto_init(void) {
  /* A program that did not call rpct_init() is configured from the
   * environment at its first traced call (and flushed at exit). */
  rpct_init(NULL);
}

static void ensure_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (RPCT__LIKELY(atomic_load_explicit(&ready, memory_order_acquire))) return;
  pthread_once(&once, auto_init);
}
