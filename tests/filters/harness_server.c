/*
 * The harness's test server (see harness.h). Public gRPC core API only: this
 * file must build and run without rpctrace.
 *
 * Each thread owns a completion queue registered with the server, keeps
 * `requests` grpc_server_request_call (and, with registered_unary,
 * grpc_server_request_registered_call) outstanding on it, and runs the
 * accepted calls' handlers as state machines driven by the queue's events
 * (every batch of a call completes on the queue of the thread that accepted
 * it). A handler that sleeps replies from a helper thread. Per thread an
 * atomic count of the events still to come lets a stopping thread leave only
 * when its queue will stay quiet; per call a count of its batches in flight
 * says when the call can be released.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>

#include "harness_internal.h"

/* ---- request parameters ---- */

typedef struct params {
  int status;
  char msg[TH_TEXT];
  int sleep_ms;
  bool hold;
  int n;
} params;

static void parse_params(const char *text, params *p) {
  memset(p, 0, sizeof *p);
  p->n = 3;
  const char *s = text;
  while (*s) {
    const char *end = strchr(s, ';');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    const char *eq = memchr(s, '=', len);
    if (eq) {
      size_t klen = (size_t)(eq - s);
      char val[TH_TEXT];
      th__copy_text(val, eq + 1, len - klen - 1);
      if (klen == 6 && !memcmp(s, "status", 6)) p->status = atoi(val);
      if (klen == 3 && !memcmp(s, "msg", 3)) memcpy(p->msg, val, sizeof val);
      if (klen == 8 && !memcmp(s, "sleep_ms", 8)) p->sleep_ms = atoi(val);
      if (klen == 4 && !memcmp(s, "hold", 4)) p->hold = atoi(val) != 0;
      if (klen == 1 && s[0] == 'n') p->n = atoi(val);
    }
    s += len;
    if (*s == ';') s++;
  }
}

/* ---- server ---- */

enum tag_kind { TK_REQUEST = 1, TK_CLOSE, TK_READ, TK_WRITE, TK_STATUS, TK_CHILD, TK_SHUTDOWN };
enum handler { H_UNIMPLEMENTED, H_UNARY, H_CLIENT_STREAM, H_SERVER_STREAM, H_BIDI, H_CHAIN, H_HEALTH };

struct srv_call;
typedef struct th_tag {
  struct srv_call *c;
  int kind;
} th_tag;

typedef struct worker {
  th_server *s;
  grpc_completion_queue *cq;
  pthread_t thread;
  atomic_int outstanding; /* events still to come on cq */
} worker;

/* A requested, then accepted, call. Touched by its worker thread only,
 * except the fields a sleeping handler's helper thread reads to reply
 * (params, send, status_details), which the worker leaves alone meanwhile. */
typedef struct srv_call {
  worker *w;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  th_tag t_request, t_close, t_read, t_write, t_status, t_child;
  bool registered; /* requested with grpc_server_request_registered_call */
  gpr_timespec deadline;
  char method[TH_TEXT];
  int handler;
  /* Set (release) by a sleeping handler's helper thread before it starts
   * the reply batch, read (acquire) by the worker at each event: the
   * ordering gRPC gives is invisible to TSan (gRPC is not instrumented). */
  atomic_bool handoff;
  int pending; /* batches in flight */
  bool dead;   /* an op failed: start nothing more */
  int cancelled;
  grpc_byte_buffer *recv, *send;
  grpc_slice status_details;
  bool status_started, status_ok;
  int status;
  params p;
  bool have_params;
  int count;
  char test_id[TH_TEXT];
  size_t log_index;
  bool logged;
  /* Chain */
  grpc_call *child;
  grpc_metadata child_md;
  char child_id[TH_TEXT + 8];
  grpc_byte_buffer *child_send, *child_recv;
  grpc_metadata_array child_initial, child_trailing;
  grpc_status_code child_status;
  grpc_slice child_details;
  int child_result;
} srv_call;

struct th_server {
  grpc_server *server;
  int port;
  th_server_options o;
  worker *workers;
  atomic_bool stopping;
  grpc_channel *self; /* for Chain's child calls */
  void *reg_unary;    /* registered /test.Echo/Unary, or NULL */
  th_tag shutdown_tag;
  bool shut_down; /* th_server_shutdown ran (owner thread only) */
  /* Everything below under `lock`; `cond` signalled when `live` drops. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  th_served *log;
  size_t n_log, cap_log;
  int live; /* accepted calls not yet released */
  pthread_t *sleepers;
  size_t n_sleepers, cap_sleepers;
};

static void request_new(worker *w, bool registered);

static srv_call *call_new(worker *w) {
  srv_call *c = calloc(1, sizeof *c);
  if (!c) th__die("out of memory");
  c->w = w;
  snprintf(c->method, sizeof c->method, "?");
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->md);
  c->t_request = (th_tag){c, TK_REQUEST};
  c->t_close = (th_tag){c, TK_CLOSE};
  c->t_read = (th_tag){c, TK_READ};
  c->t_write = (th_tag){c, TK_WRITE};
  c->t_status = (th_tag){c, TK_STATUS};
  c->t_child = (th_tag){c, TK_CHILD};
  c->status_details = grpc_empty_slice();
  c->child_result = -1;
  return c;
}

static void call_free(srv_call *c) {
  if (c->call) grpc_call_unref(c->call);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->md);
  if (c->recv) grpc_byte_buffer_destroy(c->recv);
  if (c->send) grpc_byte_buffer_destroy(c->send);
  grpc_slice_unref(c->status_details);
  free(c);
}

/* Count a batch in flight, before it is started (on the worker thread). */
static void reserve(srv_call *c) {
  c->pending++;
  atomic_fetch_add(&c->w->outstanding, 1);
}

static void start_reserved(grpc_call *call, const grpc_op *ops, size_t n, th_tag *tag) {
  grpc_call_error e = grpc_call_start_batch(call, ops, n, tag, NULL);
  if (e != GRPC_CALL_OK) th__die("server: grpc_call_start_batch: error %d", (int)e);
}

static void start(srv_call *c, const grpc_op *ops, size_t n, th_tag *tag) {
  reserve(c);
  start_reserved(c->call, ops, n, tag);
}

static void read_next(srv_call *c, bool with_initial_md) {
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (with_initial_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &c->recv;
  start(c, ops, n, &c->t_read);
}

static void write_text(srv_call *c, const char *text) {
  c->send = th__buffer_text(text);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_MESSAGE;
  op.data.send_message.send_message = c->send;
  start(c, &op, 1, &c->t_write);
}

/* The reply batch: [initial metadata], [message], status. `reserved`: the
 * batch was counted already (a helper thread starts it). */
static void send_status_ex(srv_call *c, bool initial_md, grpc_byte_buffer *msg, int status,
                           const char *details, bool reserved) {
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (initial_md) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (msg) {
    if (c->send) grpc_byte_buffer_destroy(c->send);
    c->send = msg;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = msg;
  }
  grpc_slice_unref(c->status_details);
  c->status_details = grpc_slice_from_copied_string(details ? details : "");
  c->status = status;
  c->status_started = true;
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)status;
  ops[n++].data.send_status_from_server.status_details = &c->status_details;
  if (reserved) {
    /* A helper thread: publish the writes above before the batch can
     * complete on the worker. */
    atomic_store_explicit(&c->handoff, true, memory_order_release);
    start_reserved(c->call, ops, n, &c->t_status);
  }
  else
    start(c, ops, n, &c->t_status);
}

/* Reply with `body` (only when the status is OK) and the status. */
static void reply(srv_call *c, const char *body, int status, const char *details, bool reserved) {
  send_status_ex(c, false, status == 0 && body ? th__buffer_text(body) : NULL, status, details,
                 reserved);
}

/* ---- sleeping handlers ---- */

typedef struct sleeper_arg {
  srv_call *c;
  grpc_call *call; /* a reference of its own: the worker may release the
                      call as soon as the reply batch completes */
  char body[TH_TEXT];
} sleeper_arg;

static void *sleeper_main(void *arg) {
  sleeper_arg *a = arg;
  srv_call *c = a->c;
  th_server *s = c->w->s;
  long long until = th_now_ms() + c->p.sleep_ms;
  while (th_now_ms() < until && !atomic_load(&s->stopping)) th__sleep_ms(5);
  reply(c, a->body, c->p.status, c->p.msg, true); /* c is not touched after this */
  grpc_call_unref(a->call);
  free(a);
  return NULL;
}

static void reply_later(srv_call *c, const char *body) {
  th_server *s = c->w->s;
  sleeper_arg *a = calloc(1, sizeof *a);
  if (!a) th__die("out of memory");
  a->c = c;
  a->call = c->call;
  grpc_call_ref(a->call);
  snprintf(a->body, sizeof a->body, "%s", body);
  reserve(c); /* the reply batch the helper starts */
  pthread_mutex_lock(&s->lock);
  if (s->n_sleepers == s->cap_sleepers) {
    size_t cap = s->cap_sleepers ? 2 * s->cap_sleepers : 16;
    pthread_t *p = realloc(s->sleepers, cap * sizeof *p);
    if (!p) th__die("out of memory");
    s->sleepers = p;
    s->cap_sleepers = cap;
  }
  if (pthread_create(&s->sleepers[s->n_sleepers], NULL, sleeper_main, a) != 0)
    th__die("pthread_create");
  s->n_sleepers++;
  pthread_mutex_unlock(&s->lock);
}

/* ---- Chain ---- */

static void start_child(srv_call *c) {
  th_server *s = c->w->s;
  grpc_slice method = grpc_slice_from_static_string("/test.Echo/Unary");
  c->child = grpc_channel_create_call(s->self, c->call, GRPC_PROPAGATE_DEFAULTS, c->w->cq, method,
                                      NULL, th__in_ms(5000), NULL);
  if (!c->child) th__die("server: Chain: grpc_channel_create_call failed");
  snprintf(c->child_id, sizeof c->child_id, "%s.child", c->test_id);
  c->child_md.key = grpc_slice_from_static_string("x-test-id");
  c->child_md.value = grpc_slice_from_copied_string(c->child_id);
  c->child_send = th__buffer_text("status=0");
  grpc_metadata_array_init(&c->child_initial);
  grpc_metadata_array_init(&c->child_trailing);
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 1;
  ops[0].data.send_initial_metadata.metadata = &c->child_md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = c->child_send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->child_initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &c->child_recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.status = &c->child_status;
  ops[5].data.recv_status_on_client.status_details = &c->child_details;
  ops[5].data.recv_status_on_client.trailing_metadata = &c->child_trailing;
  reserve(c);
  start_reserved(c->child, ops, 6, &c->t_child);
}

static void child_done(srv_call *c) {
  c->child_result = (int)c->child_status;
  grpc_slice_unref(c->child_md.value);
  grpc_byte_buffer_destroy(c->child_send);
  if (c->child_recv) grpc_byte_buffer_destroy(c->child_recv);
  grpc_metadata_array_destroy(&c->child_initial);
  grpc_metadata_array_destroy(&c->child_trailing);
  grpc_slice_unref(c->child_details);
  grpc_call_unref(c->child);
  c->child = NULL;
  if (c->dead) return;
  char body[64];
  snprintf(body, sizeof body, "child=%d", c->child_result);
  reply(c, body, 0, "", false);
}

/* ---- events ---- */

static int handler_of(const char *method) {
  static const struct {
    const char *path;
    int h;
  } table[] = {
      {"/test.Echo/Unary", H_UNARY},
      {"/test.Echo/ClientStream", H_CLIENT_STREAM},
      {"/test.Echo/ServerStream", H_SERVER_STREAM},
      {"/test.Echo/Bidi", H_BIDI},
      {"/test.Echo/Chain", H_CHAIN},
      {"/grpc.health.v1.Health/Check", H_HEALTH},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(method, table[i].path) == 0) return table[i].h;
  return H_UNIMPLEMENTED;
}

static void log_accepted(srv_call *c) {
  th_server *s = c->w->s;
  th_served e;
  memset(&e, 0, sizeof e);
  if (c->registered)
    snprintf(c->method, sizeof c->method, "/test.Echo/Unary");
  else
    th__slice_text(c->method, c->details.method);
  memcpy(e.method, c->method, sizeof e.method);
  e.child_status = -1;
  for (size_t i = 0; i < c->md.count; i++) {
    const grpc_metadata *m = &c->md.metadata[i];
    if (th__slice_is(m->key, "x-test-id")) {
      th__slice_text(e.test_id, m->value);
    } else if (th__slice_is(m->key, "traceparent")) {
      if (!e.n_traceparent++) th__slice_text(e.traceparent, m->value);
    } else if (th__slice_is(m->key, "tracestate")) {
      if (!e.n_tracestate++) th__slice_text(e.tracestate, m->value);
    } else if (th__slice_is(m->key, "baggage")) {
      if (!e.n_baggage++) {
        th__slice_text(e.baggage, m->value);
        e.baggage_len = GRPC_SLICE_LENGTH(m->value);
        e.baggage_fnv1a = th_fnv1a(GRPC_SLICE_START_PTR(m->value), e.baggage_len);
      }
    } else if (th__is_tracing_key(m->key)) {
      e.n_other_tracing++;
    }
  }
  memcpy(c->test_id, e.test_id, sizeof c->test_id);
  pthread_mutex_lock(&s->lock);
  s->live++;
  if (!s->o.no_log) {
    if (s->n_log == s->cap_log) {
      size_t cap = s->cap_log ? 2 * s->cap_log : 64;
      th_served *p = realloc(s->log, cap * sizeof *p);
      if (!p) th__die("out of memory");
      s->log = p;
      s->cap_log = cap;
    }
    c->log_index = s->n_log;
    c->logged = true;
    s->log[s->n_log++] = e;
  }
  pthread_mutex_unlock(&s->lock);
}

static void accept_call(srv_call *c) {
  log_accepted(c);
  c->handler = handler_of(c->method);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->cancelled;
  start(c, &op, 1, &c->t_close);
  if (c->handler == H_UNIMPLEMENTED)
    send_status_ex(c, true, NULL, GRPC_STATUS_UNIMPLEMENTED, "no such method", false);
  else
    read_next(c, true);
}

static void on_read(srv_call *c) {
  grpc_byte_buffer *b = c->recv;
  c->recv = NULL;
  bool eos = b == NULL;
  char text[TH_TEXT];
  th__buffer_to_text(b, text);
  if (b) grpc_byte_buffer_destroy(b);
  if (!c->have_params && !eos) {
    parse_params(text, &c->p);
    c->have_params = true;
  }
  switch (c->handler) {
    case H_UNARY:
      if (c->p.sleep_ms > 0)
        reply_later(c, text);
      else if (!c->p.hold)
        reply(c, text, c->p.status, c->p.msg, false);
      break;
    case H_CLIENT_STREAM:
      if (!eos) {
        c->count++;
        read_next(c, false);
      } else {
        char body[64];
        snprintf(body, sizeof body, "count=%d", c->count);
        reply(c, body, c->p.status, c->p.msg, false);
      }
      break;
    case H_SERVER_STREAM:
      if (c->p.n > 0)
        write_text(c, "msg 0");
      else if (!c->p.hold)
        reply(c, NULL, c->p.status, c->p.msg, false);
      break;
    case H_BIDI:
      if (!eos) {
        c->count++;
        write_text(c, text);
      } else {
        reply(c, NULL, c->p.status, c->p.msg, false);
      }
      break;
    case H_CHAIN: start_child(c); break;
    case H_HEALTH: {
      static const unsigned char serving[] = {0x08, 0x01}; /* status: SERVING */
      send_status_ex(c, false, th__buffer_of(serving, sizeof serving), 0, "", false);
      break;
    }
    default: break;
  }
}

static void on_write(srv_call *c) {
  grpc_byte_buffer_destroy(c->send);
  c->send = NULL;
  if (c->handler == H_SERVER_STREAM) {
    c->count++;
    if (c->count < c->p.n) {
      char msg[32];
      snprintf(msg, sizeof msg, "msg %d", c->count);
      write_text(c, msg);
    } else if (!c->p.hold) {
      reply(c, NULL, c->p.status, c->p.msg, false);
    }
  } else if (c->handler == H_BIDI) {
    read_next(c, false);
  }
}

static void call_released(srv_call *c) {
  th_server *s = c->w->s;
  pthread_mutex_lock(&s->lock);
  if (c->logged) {
    th_served *e = &s->log[c->log_index];
    e->finished = true;
    e->status_sent = c->status_ok;
    e->status = c->status_started ? c->status : -1;
    e->cancelled = c->cancelled != 0;
    e->child_status = c->child_result;
  }
  s->live--;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
  call_free(c);
}

static void on_call_event(srv_call *c, int kind, bool ok) {
  (void)atomic_load_explicit(&c->handoff, memory_order_acquire);
  switch (kind) {
    case TK_CLOSE: break;
    case TK_STATUS:
      c->status_ok = ok;
      if (c->send) grpc_byte_buffer_destroy(c->send), c->send = NULL;
      break;
    case TK_CHILD: child_done(c); break;
    case TK_READ:
      if (!ok || c->dead) {
        c->dead = true;
        if (c->recv) grpc_byte_buffer_destroy(c->recv), c->recv = NULL;
      } else {
        on_read(c);
      }
      break;
    case TK_WRITE:
      if (!ok || c->dead) {
        c->dead = true;
        grpc_byte_buffer_destroy(c->send), c->send = NULL;
      } else {
        on_write(c);
      }
      break;
    default: th__die("server: unknown tag kind %d", kind);
  }
  if (--c->pending == 0) call_released(c);
}

static void on_event(worker *w, th_tag *t, bool ok) {
  if (t->kind == TK_SHUTDOWN) return;
  srv_call *c = t->c;
  if (t->kind != TK_REQUEST) {
    on_call_event(c, t->kind, ok);
    return;
  }
  if (!ok) { /* the server is shutting down */
    call_free(c);
    return;
  }
  if (!atomic_load(&w->s->stopping)) request_new(w, c->registered);
  accept_call(c);
}

static void request_new(worker *w, bool registered) {
  srv_call *c = call_new(w);
  c->registered = registered;
  atomic_fetch_add(&w->outstanding, 1);
  grpc_call_error e =
      registered ? grpc_server_request_registered_call(w->s->server, w->s->reg_unary, &c->call,
                                                       &c->deadline, &c->md, NULL, w->cq, w->cq,
                                                       &c->t_request)
                 : grpc_server_request_call(w->s->server, &c->call, &c->details, &c->md, w->cq,
                                            w->cq, &c->t_request);
  if (e != GRPC_CALL_OK) {
    atomic_fetch_sub(&w->outstanding, 1);
    call_free(c);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  for (int i = 0; i < w->s->o.requests; i++) {
    request_new(w, false);
    if (w->s->reg_unary) request_new(w, true);
  }
  for (;;) {
    if (atomic_load(&w->s->stopping) && atomic_load(&w->outstanding) == 0) break;
    grpc_event ev = grpc_completion_queue_next(w->cq, th__in_ms(50), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) continue;
    if (ev.type != GRPC_OP_COMPLETE) th__die("server: unexpected queue event %d", (int)ev.type);
    on_event(w, ev.tag, ev.success != 0);
    atomic_fetch_sub(&w->outstanding, 1);
  }
  return NULL;
}

static void drain_and_destroy(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(cq, th__in_ms(WAIT_SLACK_MS), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_QUEUE_TIMEOUT) th__die("completion queue did not drain");
  }
  grpc_completion_queue_destroy(cq);
}

int th_server_start(th_server **out, const th_server_options *o) {
  th_server *s = calloc(1, sizeof *s);
  if (!s) return -1;
  if (o) s->o = *o;
  if (s->o.threads <= 0) s->o.threads = 2;
  if (s->o.requests <= 0) s->o.requests = 4;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  s->shutdown_tag = (th_tag){NULL, TK_SHUTDOWN};
  s->workers = calloc((size_t)s->o.threads, sizeof *s->workers);
  if (!s->workers) th__die("out of memory");

  grpc_init();
  grpc_arg max_md = {.type = GRPC_ARG_INTEGER,
                     .key = (char *)GRPC_ARG_MAX_METADATA_SIZE,
                     .value.integer = s->o.max_metadata_size};
  grpc_channel_args args = {.num_args = 1, .args = &max_md};
  s->server = grpc_server_create(s->o.max_metadata_size > 0 ? &args : NULL, NULL);
  if (s->o.registered_unary)
    s->reg_unary = grpc_server_register_method(s->server, "/test.Echo/Unary", NULL,
                                               GRPC_SRM_PAYLOAD_NONE, 0);
  for (int i = 0; i < s->o.threads; i++) {
    s->workers[i].s = s;
    s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
  }
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  s->port = grpc_server_add_http2_port(s->server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  if (s->port <= 0) {
    grpc_server_destroy(s->server);
    for (int i = 0; i < s->o.threads; i++) drain_and_destroy(s->workers[i].cq);
    grpc_shutdown();
    free(s->workers);
    free(s);
    return -1;
  }
  grpc_server_start(s->server);
  s->self = th_channel(s->port);
  for (int i = 0; i < s->o.threads; i++)
    if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0)
      th__die("pthread_create");
  *out = s;
  return 0;
}

int th_server_port(const th_server *s) { return s->port; }

static void join_bounded(pthread_t t, const char *what) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WAIT_SLACK_MS / 1000;
  if (pthread_timedjoin_np(t, NULL, &until) != 0) th__die("%s did not finish", what);
}

void th_server_shutdown(th_server *s) {
  if (s->shut_down) return;
  s->shut_down = true;
  /* Count the shutdown tag before a worker can see `stopping`. */
  atomic_fetch_add(&s->workers[0].outstanding, 1);
  atomic_store(&s->stopping, true);
  grpc_server_shutdown_and_notify(s->server, s->workers[0].cq, &s->shutdown_tag);
  grpc_server_cancel_all_calls(s->server);
  for (int i = 0; i < s->o.threads; i++) join_bounded(s->workers[i].thread, "a server thread");
  pthread_mutex_lock(&s->lock);
  size_t n = s->n_sleepers;
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < n; i++) join_bounded(s->sleepers[i], "a sleeping handler");
  grpc_channel_destroy(s->self);
  grpc_server_destroy(s->server);
  for (int i = 0; i < s->o.threads; i++) drain_and_destroy(s->workers[i].cq);
}

void th_server_stop(th_server *s) {
  if (!s) return;
  th_server_shutdown(s);
  grpc_shutdown();
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->lock);
  free(s->sleepers);
  free(s->log);
  free(s->workers);
  free(s);
}

int th_server_find(th_server *s, const char *test_id, th_served *out) {
  int n = 0;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n_log; i++) {
    if (strcmp(s->log[i].test_id, test_id) != 0) continue;
    if (out) *out = s->log[i];
    n++;
  }
  pthread_mutex_unlock(&s->lock);
  return n;
}

size_t th_server_served_count(th_server *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->n_log;
  pthread_mutex_unlock(&s->lock);
  return n;
}

bool th_server_wait_idle(th_server *s, int timeout_ms) {
  long long until = th_now_ms() + timeout_ms;
  pthread_mutex_lock(&s->lock);
  while (s->live > 0 && th_now_ms() < until) {
    pthread_mutex_unlock(&s->lock);
    th__sleep_ms(5);
    pthread_mutex_lock(&s->lock);
  }
  bool idle = s->live == 0;
  pthread_mutex_unlock(&s->lock);
  return idle;
}

