/*
 * The server of server.h. Two kinds of completion queue:
 *
 * - one shared "next" queue, registered with the server, on which every
 *   worker waits. It delivers new calls (one outstanding request per
 *   slot, tagged with the slot) and the server's shutdown notification;
 * - one private "pluck" queue per slot, to which the slot's call is bound.
 *   The handler's batches complete there, and only the worker serving the
 *   slot plucks them, so it can wait for exactly the batch it started.
 *
 * There are as many slots as workers. A worker that takes a new call from
 * the shared queue serves it to the end, then asks for the slot's next
 * call. So while k workers are busy, k slots are too, and every idle
 * worker has a slot waiting for a call.
 */
#include "common/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>

#include "common/codec.h"

typedef struct slot {
  grpc_completion_queue *call_cq; /* pluck queue the slot's calls are bound to */
  grpc_call *call;                /* set by gRPC when a request completes */
  grpc_call_details details;
  grpc_metadata_array request_md;
} slot;

struct ex_server {
  grpc_server *server;
  grpc_completion_queue *cq; /* shared: new calls and the shutdown notification */
  const ex_method *methods;
  size_t n_methods;
  void *app;
  int port;
  int n_slots;   /* one per worker */
  int n_workers; /* threads running worker() */
  pthread_t *threads;
  slot *slots;
  int shutdown_tag; /* its address is the shutdown notification's tag */

  /* `stopping` is set under `lock` before the server shuts down, and
   * requests for new calls are made under it: none can reach gRPC after
   * shutdown began. `shutdown_done` is set by the worker that receives the
   * shutdown notification; ex_server_stop waits for it on `done`. */
  pthread_mutex_t lock;
  pthread_cond_t done;
  bool stopping;
  bool shutdown_done;
};

struct ex_server_call {
  grpc_call *call;
  grpc_completion_queue *cq;
  const ex_method *method;
  gpr_timespec deadline;
  bool sent_initial_md;
  bool recv_done;          /* the client closed its side */
  grpc_byte_buffer *reply; /* single-reply methods: sent with the status */
};

grpc_call *ex_server_call_grpc(const ex_server_call *call) { return call->call; }

gpr_timespec ex_server_call_deadline(const ex_server_call *call) { return call->deadline; }

/* Start `ops` on the call and wait for them. True when they all succeeded. */
static bool run_batch(ex_server_call *c, const grpc_op *ops, size_t n) {
  int tag; /* any address unique among the call's outstanding batches */
  if (grpc_call_start_batch(c->call, ops, n, &tag, NULL) != GRPC_CALL_OK) return false;
  /* gRPC completes every started batch (a deadline or cancellation fails
   * it), so waiting without a timeout cannot hang forever. */
  grpc_event ev =
      grpc_completion_queue_pluck(c->cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

int ex_server_send(ex_server_call *c, const ProtobufCMessage *msg) {
  bool single = c->method->kind != EX_SERVER_STREAMING;
  if (single && c->reply) return EX_ERR_USAGE;
  grpc_byte_buffer *buf;
  int rc = ex_pack(msg, &buf);
  if (rc != 0) return rc;
  if (single) {
    c->reply = buf; /* send_status sends it with the status */
    return 0;
  }
  grpc_op ops[2];
  size_t n = 0;
  if (!c->sent_initial_md) ops[n++] = (grpc_op){.op = GRPC_OP_SEND_INITIAL_METADATA};
  ops[n++] = (grpc_op){.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = buf};
  bool ok = run_batch(c, ops, n);
  c->sent_initial_md = true;
  grpc_byte_buffer_destroy(buf); /* gRPC keeps its own reference while sending */
  return ok ? 0 : EX_ERR_CALL;
}

/* The next request message, whatever the method's kind. */
static int recv_message(ex_server_call *c, const ProtobufCMessageDescriptor *type,
                        ProtobufCMessage **out) {
  if (c->recv_done) return 0;
  grpc_byte_buffer *buf = NULL;
  grpc_op op = {.op = GRPC_OP_RECV_MESSAGE, .data.recv_message.recv_message = &buf};
  if (!run_batch(c, &op, 1)) return EX_ERR_CALL;
  if (!buf) { /* the client half-closed: no more requests */
    c->recv_done = true;
    return 0;
  }
  int rc = ex_unpack(buf, type, out);
  grpc_byte_buffer_destroy(buf);
  return rc == 0 ? 1 : rc;
}

int ex_server_recv(ex_server_call *c, const ProtobufCMessageDescriptor *type,
                   ProtobufCMessage **out) {
  if (c->method->kind != EX_CLIENT_STREAMING) return EX_ERR_USAGE;
  return recv_message(c, type, out);
}

/* Send the status, with the pending reply if OK, and wait until it left. */
static void send_status(ex_server_call *c, ex_status st) {
  if (st.code == GRPC_STATUS_OK && c->method && c->method->kind != EX_SERVER_STREAMING && !c->reply)
    st = ex_error(GRPC_STATUS_INTERNAL, "the handler returned OK without a reply");
  grpc_slice details = grpc_slice_from_copied_string(st.message);
  grpc_op ops[3];
  size_t n = 0;
  if (!c->sent_initial_md) ops[n++] = (grpc_op){.op = GRPC_OP_SEND_INITIAL_METADATA};
  if (st.code == GRPC_STATUS_OK && c->reply)
    ops[n++] = (grpc_op){.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = c->reply};
  ops[n++] =
      (grpc_op){.op = GRPC_OP_SEND_STATUS_FROM_SERVER,
                .data.send_status_from_server = {.status = st.code, .status_details = &details}};
  /* Failure here means the client is gone; there is nobody to tell. */
  run_batch(c, ops, n);
  grpc_slice_unref(details);
  if (c->reply) grpc_byte_buffer_destroy(c->reply);
  c->reply = NULL;
}

static const ex_method *find_method(const ex_server *s, grpc_slice path) {
  for (size_t i = 0; i < s->n_methods; i++)
    if (grpc_slice_str_cmp(path, s->methods[i].path) == 0) return &s->methods[i];
  return NULL;
}

/* Run the call's handler and return the status to send. */
static ex_status dispatch(ex_server *s, ex_server_call *c, grpc_slice path) {
  if (!c->method)
    return ex_error(GRPC_STATUS_UNIMPLEMENTED, "unknown method %.*s", (int)GRPC_SLICE_LENGTH(path),
                    (const char *)GRPC_SLICE_START_PTR(path));
  if (c->method->kind == EX_CLIENT_STREAMING) return c->method->handler(c, NULL, s->app);

  ProtobufCMessage *request = NULL;
  int rc = recv_message(c, c->method->request_type, &request);
  if (rc == 0) return ex_error(GRPC_STATUS_INTERNAL, "the client sent no request message");
  if (rc == EX_ERR_MESSAGE)
    return ex_error(GRPC_STATUS_INTERNAL, "cannot parse the request as %s",
                    c->method->request_type->name);
  if (rc < 0) return ex_error(GRPC_STATUS_CANCELLED, "the call failed before its request arrived");
  ex_status st = c->method->handler(c, request, s->app);
  protobuf_c_message_free_unpacked(request, NULL);
  return st;
}

/* Serve the call that just arrived on `sl`, start to end. */
static void serve(ex_server *s, slot *sl) {
  ex_server_call c = {
      .call = sl->call,
      .cq = sl->call_cq,
      .method = find_method(s, sl->details.method),
      .deadline = sl->details.deadline,
  };
  /* Asked for first, completed last: when the call is over on both sides
   * (or cancelled). In a batch of its own, so the status batch completes
   * as soon as the status left, and the server span ends then. */
  int cancelled = 0, close_tag;
  grpc_op close = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER,
                   .data.recv_close_on_server.cancelled = &cancelled};
  bool closing = grpc_call_start_batch(c.call, &close, 1, &close_tag, NULL) == GRPC_CALL_OK;

  send_status(&c, dispatch(s, &c, sl->details.method));
  if (closing)
    grpc_completion_queue_pluck(c.cq, &close_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

/* Ask gRPC for the slot's next call, unless the server is stopping. */
static void slot_request(ex_server *s, slot *sl) {
  pthread_mutex_lock(&s->lock);
  if (!s->stopping && grpc_server_request_call(s->server, &sl->call, &sl->details, &sl->request_md,
                                               sl->call_cq, s->cq, sl) != GRPC_CALL_OK)
    fprintf(stderr, "server: cannot request a new call; one worker fewer\n");
  pthread_mutex_unlock(&s->lock);
}

/* Release what the slot's last call left, ready for the next. */
static void slot_reset(slot *sl) {
  if (sl->call) grpc_call_unref(sl->call);
  sl->call = NULL;
  grpc_call_details_destroy(&sl->details);
  grpc_metadata_array_destroy(&sl->request_md);
  grpc_call_details_init(&sl->details);
  grpc_metadata_array_init(&sl->request_md);
}

static void *worker(void *arg) {
  ex_server *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &s->shutdown_tag) {
      /* Every call is over: let the other workers drain and leave. */
      pthread_mutex_lock(&s->lock);
      s->shutdown_done = true;
      pthread_cond_signal(&s->done);
      pthread_mutex_unlock(&s->lock);
      grpc_completion_queue_shutdown(s->cq);
      continue;
    }
    slot *sl = ev.tag;
    /* An unsuccessful request is the server shutting down: the slot retires. */
    if (ev.success) serve(s, sl);
    slot_reset(sl);
    if (ev.success) slot_request(s, sl);
  }
  return NULL;
}

/* Shut a private queue down, drain it, destroy it. */
static void destroy_pluck_queue(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

/* Free what ex_server_start made, once no worker runs. */
static void server_free(ex_server *s) {
  if (s->server) grpc_server_destroy(s->server);
  if (s->cq) {
    grpc_completion_queue_shutdown(s->cq); /* a no-op when already shut down */
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(s->cq);
  }
  for (int i = 0; s->slots && i < s->n_slots; i++) {
    slot *sl = &s->slots[i];
    if (sl->call) grpc_call_unref(sl->call);
    grpc_call_details_destroy(&sl->details);
    grpc_metadata_array_destroy(&sl->request_md);
    if (sl->call_cq) destroy_pluck_queue(sl->call_cq);
  }
  free(s->slots);
  free(s->threads);
  pthread_cond_destroy(&s->done);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* Shut the gRPC server down and wait (at most `grace_ms`, then cancel
 * what still runs) until the workers received the notification. */
static void shutdown_server(ex_server *s, int grace_ms) {
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_mutex_unlock(&s->lock);
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);

  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += grace_ms / 1000;
  until.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&s->lock);
  int rc = 0;
  while (!s->shutdown_done && rc == 0) rc = pthread_cond_timedwait(&s->done, &s->lock, &until);
  bool done = s->shutdown_done;
  pthread_mutex_unlock(&s->lock);
  /* Calls still running are cancelled: their handlers' reads and writes
   * fail, and they return. */
  if (!done) grpc_server_cancel_all_calls(s->server);
}

int ex_server_start(ex_server **out, const char *listen_addr, const ex_method *methods,
                    size_t n_methods, void *app, int threads) {
  if (threads < 1) threads = 1;
  ex_server *s = calloc(1, sizeof *s);
  if (!s) return EX_ERR_MEMORY;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->done, NULL);
  s->methods = methods;
  s->n_methods = n_methods;
  s->app = app;
  s->slots = calloc((size_t)threads, sizeof *s->slots);
  s->threads = calloc((size_t)threads, sizeof *s->threads);
  if (!s->slots || !s->threads) {
    server_free(s);
    return EX_ERR_MEMORY;
  }
  s->n_slots = threads;
  for (int i = 0; i < threads; i++) {
    grpc_call_details_init(&s->slots[i].details);
    grpc_metadata_array_init(&s->slots[i].request_md);
    s->slots[i].call_cq = grpc_completion_queue_create_for_pluck(NULL);
  }

  s->cq = grpc_completion_queue_create_for_next(NULL);
  s->server = grpc_server_create(NULL, NULL);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  s->port = grpc_server_add_http2_port(s->server, listen_addr, creds);
  grpc_server_credentials_release(creds);
  if (s->port == 0) {
    server_free(s); /* never started: destroying it needs no shutdown */
    return EX_ERR_LISTEN;
  }
  grpc_server_start(s->server);

  for (int i = 0; i < threads; i++) slot_request(s, &s->slots[i]);
  for (; s->n_workers < threads; s->n_workers++)
    if (pthread_create(&s->threads[s->n_workers], NULL, worker, s) != 0) break;
  if (s->n_workers == 0) {
    /* No worker to receive the shutdown notification: receive it here. */
    shutdown_server(s, 0);
    grpc_event ev;
    do ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    while (ev.type == GRPC_OP_COMPLETE && ev.tag != &s->shutdown_tag);
    server_free(s);
    return EX_ERR_MEMORY;
  }
  /* Fewer workers than asked still serve: the spare slots simply wait. */
  *out = s;
  return 0;
}

int ex_server_port(const ex_server *s) { return s->port; }

void ex_server_stop(ex_server *s, int grace_ms) {
  if (!s) return;
  shutdown_server(s, grace_ms);
  for (int i = 0; i < s->n_workers; i++) pthread_join(s->threads[i], NULL);
  server_free(s);
}

static void stop_signal_set(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
}

void ex_stop_signals_block(void) {
  sigset_t set;
  stop_signal_set(&set);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int ex_stop_signals_wait(void) {
  sigset_t set;
  stop_signal_set(&set);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int ex_serve(const char *listen_addr, const ex_method *methods, size_t n_methods, void *app,
             int threads) {
  ex_server *server;
  int rc = ex_server_start(&server, listen_addr, methods, n_methods, app, threads);
  if (rc != 0) {
    fprintf(stderr, "server: cannot serve on %s: %s\n", listen_addr, ex_strerror(rc));
    return rc;
  }
  /* Print the host as given and the port as bound (port 0 = a free one). */
  const char *colon = strrchr(listen_addr, ':');
  int host_len = colon ? (int)(colon - listen_addr) : (int)strlen(listen_addr);
  printf("listening on %.*s:%d\n", host_len, listen_addr, ex_server_port(server));
  fflush(stdout); /* whoever started us may be waiting for that line */
  ex_stop_signals_wait();
  ex_server_stop(server, 5000);
  return 0;
}
