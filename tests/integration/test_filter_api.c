/*
 * The filter API through the dispatcher, linked with rpctrace::wrap: a user
 * filter registered before rpct_init() runs before the tracing filters and
 * sees every event of a unary call on both sides, in order, exactly once;
 * a filter that returns SKIP sees nothing more of that call; the call's
 * span context is available to the handler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

/* ---- a recording user filter ---- */

#define MAX_EVENTS 64
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char event_log[MAX_EVENTS][64];
static int n_logged;

static void log_event(const char *fmt, ...) {
  pthread_mutex_lock(&log_lock);
  if (n_logged < MAX_EVENTS) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(event_log[n_logged++], sizeof event_log[0], fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&log_lock);
}

typedef struct rec_data {
  char side;
  bool tracing_ran_first; /* the tracing filter's span context was set before us */
} rec_data;

static int rec_start(void *cd, rpct_call_info *info) {
  rec_data *d = cd;
  d->side = info->side == RPCT_SIDE_CLIENT ? 'C' : 'S';
  d->tracing_ran_first = info->span_context != NULL;
  if (info->method_len == strlen("/test.Api/Skip") && memcmp(info->method, "/test.Api/Skip", 14) == 0)
    return RPCT_FILTER_SKIP;
  log_event("%c start %.*s%s", d->side, (int)info->method_len, info->method,
            d->tracing_ran_first ? " after-tracing" : "");
  return RPCT_FILTER_FOLLOW;
}
static void rec_send_md(void *cd, rpct_md_writer *w) {
  rec_data *d = cd;
  log_event("%c send_md", d->side);
  rpct_md_writer_add(w, "x-user-filter", 13, "yes", 3);
}
static void rec_recv_md(void *cd, const rpct_md *md, size_t n) {
  (void)md;
  rec_data *d = cd;
  log_event("%c recv_md %zu", d->side, n);
}
static void rec_sent(void *cd, size_t bytes) { log_event("%c sent %zu", ((rec_data *)cd)->side, bytes); }
static void rec_recv(void *cd, size_t bytes) { log_event("%c recv %zu", ((rec_data *)cd)->side, bytes); }
static void rec_status(void *cd, const rpct_call_status *st) {
  log_event("%c status %d %.*s", ((rec_data *)cd)->side, st->code, (int)st->message_len, st->message);
}
static void rec_end(void *cd) { log_event("%c end", ((rec_data *)cd)->side); }

static const rpct_filter recorder = {
    .name = "recorder",
    .sides = RPCT_SIDE_CLIENT | RPCT_SIDE_SERVER,
    .call_data_size = sizeof(rec_data),
    .start = rec_start,
    .send_initial_metadata = rec_send_md,
    .recv_initial_metadata = rec_recv_md,
    .message_sent = rec_sent,
    .message_received = rec_recv,
    .status = rec_status,
    .end = rec_end,
};

/* ---- a one-call server ---- */

typedef struct server {
  grpc_server *server;
  grpc_completion_queue *cq;
  int port;
  pthread_t thread;
  atomic_bool stop;
  char seen_user_header[8];
  bool had_span_context;
} server;

static gpr_timespec in_ms(int ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Serves one call: reads the request, answers "pong" with status 5. */
static void *serve_one(void *arg) {
  server *s = arg;
  grpc_call *call = NULL;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_call_details_init(&details);
  grpc_metadata_array_init(&md);
  int tag_new = 0, tag_ops = 0;
  if (grpc_server_request_call(s->server, &call, &details, &md, s->cq, s->cq, &tag_new) != GRPC_CALL_OK)
    return NULL;
  grpc_event ev = grpc_completion_queue_next(s->cq, in_ms(5000), NULL);
  if (ev.type != GRPC_OP_COMPLETE || ev.tag != &tag_new || !ev.success) return NULL;
  for (size_t i = 0; i < md.count; i++)
    if (grpc_slice_str_cmp(md.metadata[i].key, "x-user-filter") == 0)
      snprintf(s->seen_user_header, sizeof s->seen_user_header, "%.*s",
               (int)GRPC_SLICE_LENGTH(md.metadata[i].value),
               (const char *)GRPC_SLICE_START_PTR(md.metadata[i].value));
  s->had_span_context = rpct_call_span_context(call) != NULL;

  grpc_byte_buffer *req = NULL;
  grpc_slice reply_slice = grpc_slice_from_static_string("pong");
  grpc_byte_buffer *reply = grpc_raw_byte_buffer_create(&reply_slice, 1);
  grpc_slice details_out = grpc_slice_from_static_string("no such thing");
  int cancelled = 0;
  grpc_op ops[5];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &req;
  ops[2].op = GRPC_OP_SEND_MESSAGE;
  ops[2].data.send_message.send_message = reply;
  ops[3].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[3].data.send_status_from_server.status = GRPC_STATUS_NOT_FOUND;
  ops[3].data.send_status_from_server.status_details = &details_out;
  ops[4].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[4].data.recv_close_on_server.cancelled = &cancelled;
  if (grpc_call_start_batch(call, ops, 5, &tag_ops, NULL) == GRPC_CALL_OK)
    grpc_completion_queue_next(s->cq, in_ms(5000), NULL);
  grpc_byte_buffer_destroy(reply);
  if (req) grpc_byte_buffer_destroy(req);
  grpc_call_unref(call);
  grpc_call_details_destroy(&details);
  grpc_metadata_array_destroy(&md);
  /* Go on polling until the server stops. gRPC core's callback queues have
   * no poller of their own: a client on one needs some thread in
   * grpc_completion_queue_next (gRPC's C++ library starts one for that), or
   * its response is read only by chance. */
  while (!atomic_load(&s->stop)) grpc_completion_queue_next(s->cq, in_ms(20), NULL);
  return NULL;
}

static void server_start(server *s) {
  s->cq = grpc_completion_queue_create_for_next(NULL);
  s->server = grpc_server_create(NULL, NULL);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  s->port = grpc_server_add_http2_port(s->server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  grpc_server_start(s->server);
  pthread_create(&s->thread, NULL, serve_one, s);
}

static void server_stop(server *s) {
  atomic_store(&s->stop, true);
  pthread_join(s->thread, NULL);
  int tag = 0;
  grpc_server_shutdown_and_notify(s->server, s->cq, &tag);
  grpc_event ev;
  do ev = grpc_completion_queue_next(s->cq, in_ms(5000), NULL);
  while (ev.type == GRPC_OP_COMPLETE && ev.tag != &tag);
  grpc_server_destroy(s->server);
  grpc_completion_queue_shutdown(s->cq);
  while (grpc_completion_queue_next(s->cq, in_ms(1000), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(s->cq);
}

/* One unary call's channel, call, buffers and its six-op batch, on a
 * completion queue of the caller's choosing. */
typedef struct unary_batch {
  grpc_channel *ch;
  grpc_call *call;
  grpc_byte_buffer *req, *resp;
  grpc_metadata_array initial, trailing;
  grpc_status_code status;
  grpc_slice details;
  grpc_op ops[6];
} unary_batch;

static void unary_begin(unary_batch *u, int port, const char *method, grpc_completion_queue *cq) {
  memset(u, 0, sizeof *u);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  u->ch = grpc_channel_create(target, creds, NULL);
  grpc_channel_credentials_release(creds);
  u->call = grpc_channel_create_call(u->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                     grpc_slice_from_static_string(method), NULL, in_ms(5000),
                                     NULL);
  grpc_slice ping = grpc_slice_from_static_string("ping!");
  u->req = grpc_raw_byte_buffer_create(&ping, 1);
  grpc_metadata_array_init(&u->initial);
  grpc_metadata_array_init(&u->trailing);
  u->status = GRPC_STATUS_OK;
  u->details = grpc_empty_slice();
  u->ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  u->ops[1].op = GRPC_OP_SEND_MESSAGE;
  u->ops[1].data.send_message.send_message = u->req;
  u->ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  u->ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  u->ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->initial;
  u->ops[4].op = GRPC_OP_RECV_MESSAGE;
  u->ops[4].data.recv_message.recv_message = &u->resp;
  u->ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  u->ops[5].data.recv_status_on_client.status = &u->status;
  u->ops[5].data.recv_status_on_client.status_details = &u->details;
  u->ops[5].data.recv_status_on_client.trailing_metadata = &u->trailing;
}

/* Release everything but the queue; the call's status code. */
static int unary_end(unary_batch *u) {
  grpc_byte_buffer_destroy(u->req);
  if (u->resp) grpc_byte_buffer_destroy(u->resp);
  grpc_slice_unref(u->details);
  grpc_metadata_array_destroy(&u->initial);
  grpc_metadata_array_destroy(&u->trailing);
  grpc_call_unref(u->call);
  grpc_channel_destroy(u->ch);
  return (int)u->status;
}

/* One unary call on a pluck queue; returns its status code. */
static int unary(int port, const char *method) {
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  unary_batch u;
  unary_begin(&u, port, method, cq);
  int tag = 0;
  if (grpc_call_start_batch(u.call, u.ops, 6, &tag, NULL) == GRPC_CALL_OK)
    grpc_completion_queue_pluck(cq, &tag, in_ms(6000), NULL);
  int status = unary_end(&u);
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_pluck(cq, NULL, in_ms(1000), NULL);
  grpc_completion_queue_destroy(cq);
  return status;
}

/* A functor tag for callback completion queues: signals when run. */
typedef struct done_functor {
  grpc_completion_queue_functor base; /* first: core hands this pointer back */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int runs, ok;
} done_functor;

static void done_run(grpc_completion_queue_functor *f, int ok) {
  done_functor *d = (done_functor *)f;
  pthread_mutex_lock(&d->lock);
  d->runs++;
  d->ok = ok;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->lock);
}

static void done_init(done_functor *d) {
  memset(d, 0, sizeof *d);
  d->base.functor_run = done_run;
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->cond, NULL);
}

static bool done_wait(done_functor *d) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&d->lock);
  while (d->runs == 0 && pthread_cond_timedwait(&d->cond, &d->lock, &until) == 0) {
  }
  bool ran = d->runs == 1;
  pthread_mutex_unlock(&d->lock);
  return ran;
}

/* One unary call on a callback completion queue; its status code. */
static int unary_callback(int port, const char *method, int *functor_runs) {
  done_functor shutdown_done, batch_done;
  done_init(&shutdown_done);
  done_init(&batch_done);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_callback(&shutdown_done.base, NULL);
  unary_batch u;
  unary_begin(&u, port, method, cq);
  if (grpc_call_start_batch(u.call, u.ops, 6, &batch_done.base, NULL) == GRPC_CALL_OK)
    done_wait(&batch_done);
  *functor_runs = batch_done.runs;
  int status = unary_end(&u);
  grpc_completion_queue_shutdown(cq);
  done_wait(&shutdown_done);
  grpc_completion_queue_destroy(cq);
  return status;
}

static tu_tracer T;

static int setup_group(void **state) {
  (void)state;
  setenv("OTEL_PROPAGATORS", "tracecontext", 1);
  grpc_init();
  T = tu_tracer_new(NULL, NULL);
  assert_int_equal(rpct_filter_register(&recorder), RPCT_OK);
  assert_int_equal(rpct_init(T.tracer), RPCT_OK);
  assert_int_equal(rpct_init(T.tracer), RPCT_ERR_STATE);
  return 0;
}

static int teardown_group(void **state) {
  (void)state;
  rpct_shutdown(1000);
  rpct_tracer_del(T.tracer);
  grpc_shutdown();
  return 0;
}

static int index_of(const char *event) {
  for (int i = 0; i < n_logged; i++)
    if (strcmp(event_log[i], event) == 0) return i;
  return -1;
}

static void test_user_filter_sees_each_event_once_in_order(void **state) {
  (void)state;
  rpct_memory_exporter_clear(T.memory);
  server s = {0};
  server_start(&s);
  n_logged = 0;
  assert_int_equal(unary(s.port, "/test.Api/Call"), GRPC_STATUS_NOT_FOUND);
  server_stop(&s);

  for (int i = 0; i < n_logged; i++) printf("  event %2d: %s\n", i, event_log[i]);
  /* Registered before rpct_init(), the recorder runs before the tracing
   * filters: their span context is not set yet when it starts. */
  const char *client[] = {"C start /test.Api/Call", "C send_md", "C sent 5", "C recv_md 0",
                          "C recv 4", "C status 5 no such thing", "C end"};
  const char *srv[] = {"S start /test.Api/Call", "S recv 5", "S sent 4", "S status 5 no such thing",
                       "S end"};
  int last = -1;
  for (size_t i = 0; i < sizeof client / sizeof client[0]; i++) {
    int at = index_of(client[i]);
    if (at < 0) fail_msg("client event missing: %s", client[i]);
    if (at < last) fail_msg("client event out of order: %s", client[i]);
    last = at;
  }
  last = -1;
  for (size_t i = 0; i < sizeof srv / sizeof srv[0]; i++) {
    int at = index_of(srv[i]);
    if (at < 0) fail_msg("server event missing: %s", srv[i]);
    if (at < last) fail_msg("server event out of order: %s", srv[i]);
    last = at;
  }
  assert_int_equal(n_logged, 12); /* nothing twice, nothing else */
  assert_string_equal(s.seen_user_header, "yes");
  assert_true(s.had_span_context);

  /* The tracing filters recorded the pair: one client and one server span. */
  assert_int_equal(rpct_memory_exporter_count(T.memory), 2);
  rpct_span_data a, b;
  rpct_memory_exporter_get(T.memory, 0, &a);
  rpct_memory_exporter_get(T.memory, 1, &b);
  const rpct_span_data *c = a.kind == RPCT_SPAN_KIND_CLIENT ? &a : &b;
  const rpct_span_data *sv = a.kind == RPCT_SPAN_KIND_CLIENT ? &b : &a;
  assert_int_equal(c->kind, RPCT_SPAN_KIND_CLIENT);
  assert_int_equal(sv->kind, RPCT_SPAN_KIND_SERVER);
  assert_memory_equal(c->trace_id.bytes, sv->trace_id.bytes, 16);
  assert_memory_equal(sv->parent_span_id.bytes, c->span_id.bytes, 8);
  assert_true(sv->parent_remote);
  assert_string_equal(rpct_span_data_str(c, c->name), "test.Api/Call");
  assert_int_equal(c->status_code, RPCT_STATUS_ERROR);
  assert_int_equal(sv->status_code, RPCT_STATUS_UNSET); /* NOT_FOUND is no server error */
  rpct_memory_exporter_clear(T.memory);
}

static void test_skipped_call_gets_no_more_events(void **state) {
  (void)state;
  rpct_memory_exporter_clear(T.memory);
  server s = {0};
  server_start(&s);
  n_logged = 0;
  assert_int_equal(unary(s.port, "/test.Api/Skip"), GRPC_STATUS_NOT_FOUND);
  server_stop(&s);
  assert_int_equal(n_logged, 0);
  /* The tracing filters still traced it; and without the user filter's
   * header the server saw none. */
  assert_int_equal(rpct_memory_exporter_count(T.memory), 2);
  assert_string_equal(s.seen_user_header, "");
  rpct_memory_exporter_clear(T.memory);
}

static void test_callback_queue_call_is_traced_and_app_functor_runs_once(void **state) {
  (void)state;
  rpct_memory_exporter_clear(T.memory);
  server s = {0};
  server_start(&s);
  n_logged = 0;
  int runs = 0;
  assert_int_equal(unary_callback(s.port, "/test.Api/Callback", &runs), GRPC_STATUS_NOT_FOUND);
  server_stop(&s);
  assert_int_equal(runs, 1); /* the application's functor, once, after ours */
  assert_true(index_of("C start /test.Api/Callback") >= 0);
  assert_true(index_of("C recv 4") >= 0);
  assert_true(index_of("C status 5 no such thing") >= 0);
  assert_true(index_of("C end") >= 0);
  assert_int_equal(rpct_memory_exporter_count(T.memory), 2);
  rpct_memory_exporter_clear(T.memory);
}

static void test_register_after_calls_is_refused(void **state) {
  (void)state;
  assert_int_equal(rpct_filter_register(&recorder), RPCT_ERR_STATE);
  assert_int_equal(rpct_filter_register(NULL), RPCT_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_user_filter_sees_each_event_once_in_order),
      cmocka_unit_test(test_skipped_call_gets_no_more_events),
      cmocka_unit_test(test_callback_queue_call_is_traced_and_app_functor_runs_once),
      cmocka_unit_test(test_register_after_calls_is_refused),
  };
  return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
