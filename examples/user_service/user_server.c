/*
 * user_server: user.v1.UserService over an in-memory table, traced.
 *
 *   OTEL_SERVICE_NAME=user-service ./user_server [--listen 127.0.0.1:0] [--threads 4]
 *
 * What tracing takes: rpct_init(NULL) below, rpctrace::wrap at link time
 * (examples/CMakeLists.txt), rpct_shutdown() before exit. Every RPC then
 * gets a SERVER span continuing the caller's trace. On top of that,
 * GetUser shows the two things a handler does by hand: a child span for
 * its own work ("users.lookup", under rpct_call_span_context(call)) and
 * log lines that carry the trace and span ids.
 *
 * Prints "listening on 127.0.0.1:<port>" once it serves; stops on SIGTERM
 * or SIGINT, letting calls finish and flushing spans.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "common/log.h"
#include "common/server.h"
#include "common/tracing.h" /* <rpctrace/rpctrace.h>, or no-ops under EX_UNTRACED */
#include "user_service.pb-c.h"

/* ---- the table ---- */

#define MAX_USERS 256
#define NAME_MAX_LEN 64
#define EMAIL_MAX_LEN 128

typedef struct user_record {
  int64_t id;
  char name[NAME_MAX_LEN];
  char email[EMAIL_MAX_LEN];
} user_record;

/* Handlers run on several threads at once: `lock` guards the rest. */
typedef struct user_table {
  pthread_mutex_t lock;
  user_record users[MAX_USERS];
  size_t count;
  int64_t next_id;
} user_table;

/* Add a user with the next id, or with `id` when it is not 0. */
static bool table_add(user_table *t, int64_t id, const char *name, const char *email,
                      int64_t *id_out) {
  bool ok = false;
  pthread_mutex_lock(&t->lock);
  if (t->count < MAX_USERS) {
    user_record *u = &t->users[t->count++];
    u->id = id ? id : t->next_id;
    if (u->id >= t->next_id) t->next_id = u->id + 1;
    snprintf(u->name, sizeof u->name, "%s", name);
    snprintf(u->email, sizeof u->email, "%s", email);
    *id_out = u->id;
    ok = true;
  }
  pthread_mutex_unlock(&t->lock);
  return ok;
}

/* Copies the user out, so the caller needs no lock afterwards. */
static bool table_get(user_table *t, int64_t id, user_record *out) {
  bool found = false;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < t->count && !found; i++) {
    if (t->users[i].id != id) continue;
    *out = t->users[i];
    found = true;
  }
  pthread_mutex_unlock(&t->lock);
  return found;
}

/* A copy of the first `max` users (all when max is 0); returns how many. */
static size_t table_snapshot(user_table *t, user_record *out, size_t max) {
  pthread_mutex_lock(&t->lock);
  size_t n = t->count;
  if (max && max < n) n = max;
  memcpy(out, t->users, n * sizeof *out);
  pthread_mutex_unlock(&t->lock);
  return n;
}

/* ---- handlers ---- */

static ex_status get_user(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
  user_table *table = app;
  const User__V1__GetUserRequest *req = (const User__V1__GetUserRequest *)msg;

  /* The handler's own work as a child of the call's SERVER span. */
  rpct_span lookup;
  rpct_span_start(&lookup, NULL, "users.lookup", RPCT_SPAN_KIND_INTERNAL,
                  rpct_call_span_context(ex_server_call_grpc(call)));
  rpct_span_set_int(&lookup, "user.id", req->id);
  user_record user;
  bool found = table_get(table, req->id, &user);
  rpct_span_set_bool(&lookup, "user.found", found);
  ex_log(rpct_span_get_context(&lookup), "GetUser id=%" PRId64 " %s", req->id,
         found ? "found" : "not found");
  rpct_span_end(&lookup, 0);

  /* NOT_FOUND is an answer, not a server fault: the SERVER span keeps an
   * unset status (the client span records it as an error). */
  if (!found) return ex_error(GRPC_STATUS_NOT_FOUND, "user %" PRId64 " not found", req->id);
  User__V1__User reply = USER__V1__USER__INIT;
  reply.id = user.id;
  reply.name = user.name;
  reply.email = user.email;
  if (ex_server_send(call, &reply.base) != 0)
    return ex_error(GRPC_STATUS_INTERNAL, "cannot encode the reply");
  return ex_ok();
}

static ex_status list_users(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
  user_table *table = app;
  const User__V1__ListUsersRequest *req = (const User__V1__ListUsersRequest *)msg;
  if (req->page_size < 0) return ex_error(GRPC_STATUS_INVALID_ARGUMENT, "page_size < 0");

  /* Stream from a snapshot, so no lock is held while the client reads
   * (on the heap: MAX_USERS records would be a big stack frame). */
  user_record *users = malloc(MAX_USERS * sizeof *users);
  if (!users) return ex_error(GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  size_t n = table_snapshot(table, users, (size_t)req->page_size);
  ex_log(rpct_call_span_context(ex_server_call_grpc(call)),
         "ListUsers page_size=%" PRId32 " sending %zu", req->page_size, n);
  ex_status st = ex_ok();
  for (size_t i = 0; i < n; i++) {
    User__V1__User reply = USER__V1__USER__INIT;
    reply.id = users[i].id;
    reply.name = users[i].name;
    reply.email = users[i].email;
    if (ex_server_send(call, &reply.base) != 0) {
      st = ex_error(GRPC_STATUS_CANCELLED, "the client went away after %zu users", i);
      break;
    }
  }
  free(users);
  return st;
}

static ex_status create_users(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
  (void)msg; /* client streaming: requests come from ex_server_recv */
  user_table *table = app;
  const rpct_span_context *ctx = rpct_call_span_context(ex_server_call_grpc(call));
  int32_t created = 0;
  for (;;) {
    ProtobufCMessage *m;
    int rc = ex_server_recv(call, &user__v1__create_user_request__descriptor, &m);
    if (rc == 0) break;
    if (rc == EX_ERR_MESSAGE) return ex_error(GRPC_STATUS_INTERNAL, "cannot parse a request");
    if (rc < 0) return ex_error(GRPC_STATUS_CANCELLED, "the request stream failed");
    const User__V1__CreateUserRequest *req = (const User__V1__CreateUserRequest *)m;
    ex_status st = ex_ok();
    int64_t id = 0;
    if (!req->name[0] || !strchr(req->email, '@'))
      st = ex_error(GRPC_STATUS_INVALID_ARGUMENT, "user %d needs a name and an email",
                    (int)created + 1);
    else if (!table_add(table, 0, req->name, req->email, &id))
      st = ex_error(GRPC_STATUS_RESOURCE_EXHAUSTED, "the table is full (%d users)", MAX_USERS);
    else
      ex_log(ctx, "CreateUsers created id=%" PRId64 " name=%s", id, req->name);
    protobuf_c_message_free_unpacked(m, NULL);
    if (st.code != GRPC_STATUS_OK) return st;
    created++;
  }
  User__V1__CreateUsersResponse reply = USER__V1__CREATE_USERS_RESPONSE__INIT;
  reply.created = created;
  if (ex_server_send(call, &reply.base) != 0)
    return ex_error(GRPC_STATUS_INTERNAL, "cannot encode the reply");
  return ex_ok();
}

static const ex_method methods[] = {
    {"/user.v1.UserService/GetUser", EX_UNARY, &user__v1__get_user_request__descriptor, get_user},
    {"/user.v1.UserService/ListUsers", EX_SERVER_STREAMING,
     &user__v1__list_users_request__descriptor, list_users},
    {"/user.v1.UserService/CreateUsers", EX_CLIENT_STREAMING,
     &user__v1__create_user_request__descriptor, create_users},
};

/* ---- main ---- */

static void usage(FILE *to) {
  fprintf(to,
          "usage: user_server [--listen HOST:PORT] [--threads N]\n"
          "  --listen   address to serve on (default 127.0.0.1:0, a free port)\n"
          "  --threads  calls served at once (default 4)\n");
}

int main(int argc, char **argv) {
  const char *listen_addr = "127.0.0.1:0";
  int threads = 4;
  static const struct option options[] = {{"listen", required_argument, NULL, 'l'},
                                          {"threads", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "l:t:h", options, NULL)) != -1) {
    switch (opt) {
      case 'l': listen_addr = optarg; break;
      case 't': threads = atoi(optarg); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind != argc || threads < 1) {
    usage(stderr);
    return 2;
  }

  ex_stop_signals_block(); /* before any thread exists: see server.h */
  ex_log_set_name("user-service");
  grpc_init();
  int rc = rpct_init(NULL); /* tracing from OTEL_* variables */
  if (rc != RPCT_OK) fprintf(stderr, "user_server: tracing off: %s\n", rpct_strerror(rc));

  static user_table table = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1};
  static const struct {
    int64_t id;
    const char *name, *email;
  } seed[] = {{1, "Ada Lovelace", "ada@example.com"},
              {2, "Alan Turing", "alan@example.com"},
              {3, "Grace Hopper", "grace@example.com"},
              {42, "Douglas Adams", "douglas@example.com"}};
  int64_t id;
  for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++)
    table_add(&table, seed[i].id, seed[i].name, seed[i].email, &id);

  size_t n_methods = sizeof methods / sizeof methods[0];
  int status = ex_serve(listen_addr, methods, n_methods, &table, threads) == 0 ? 0 : 1;
  rpct_shutdown(5000); /* flush the spans still queued */
  grpc_shutdown();
  return status;
}
