/*
 * user_client: calls user.v1.UserService, traced.
 *
 *   OTEL_SERVICE_NAME=user-client ./user_client --target 127.0.0.1:PORT get 42
 *   ./user_client --target 127.0.0.1:PORT list [PAGE_SIZE]
 *   ./user_client --target 127.0.0.1:PORT create NAME EMAIL [NAME EMAIL ...]
 *
 * One RPC per run (unary, server-streaming, client-streaming), each a
 * CLIENT span whose context travels to the server in `traceparent`. All
 * tracing takes is rpct_init(NULL), rpctrace::wrap at link time and
 * rpct_shutdown() before exit. Exit status: 0 when the RPC returned OK, 1
 * when it failed (status on stderr), 2 for a bad command line.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "common/client.h"
#include "common/tracing.h" /* <rpctrace/rpctrace.h>, or no-ops under EX_UNTRACED */
#include "user_service.pb-c.h"

static void print_user(const User__V1__User *u) {
  printf("%" PRId64 "\t%s\t%s\n", u->id, u->name, u->email);
}

static int report(const char *method, ex_status st) {
  if (st.code == GRPC_STATUS_OK) return 0;
  fprintf(stderr, "user_client: %s: %s: %s\n", method, ex_status_code_name(st.code), st.message);
  return 1;
}

static int get_user(grpc_channel *ch, int timeout_ms, const char *id_text) {
  char *end;
  long long id = strtoll(id_text, &end, 10);
  if (*end || end == id_text) {
    fprintf(stderr, "user_client: not a user id: %s\n", id_text);
    return 2;
  }
  User__V1__GetUserRequest req = USER__V1__GET_USER_REQUEST__INIT;
  req.id = id;
  ProtobufCMessage *reply;
  ex_status st = ex_unary_call(ch, NULL, "/user.v1.UserService/GetUser", timeout_ms, &req.base,
                               &user__v1__user__descriptor, &reply);
  if (st.code == GRPC_STATUS_OK) {
    print_user((const User__V1__User *)reply);
    protobuf_c_message_free_unpacked(reply, NULL);
  }
  return report("GetUser", st);
}

static int list_users(grpc_channel *ch, int timeout_ms, int page_size) {
  ex_client_call *call;
  if (ex_client_call_start(&call, ch, NULL, "/user.v1.UserService/ListUsers", timeout_ms) != 0) {
    fprintf(stderr, "user_client: ListUsers: cannot start the call\n");
    return 1;
  }
  User__V1__ListUsersRequest req = USER__V1__LIST_USERS_REQUEST__INIT;
  req.page_size = page_size;
  /* A failed send shows in the status below; no need to look twice. */
  if (ex_client_call_send(call, &req.base) == 0) ex_client_call_close_send(call);
  ProtobufCMessage *m;
  int rc;
  while ((rc = ex_client_call_recv(call, &user__v1__user__descriptor, &m)) == 1) {
    print_user((const User__V1__User *)m);
    protobuf_c_message_free_unpacked(m, NULL);
  }
  ex_status st = rc == EX_ERR_MESSAGE ? ex_error(GRPC_STATUS_INTERNAL, "unparseable reply")
                                      : ex_client_call_finish(call);
  ex_client_call_del(call);
  return report("ListUsers", st);
}

static int create_users(grpc_channel *ch, int timeout_ms, char **pairs, int n) {
  if (n == 0 || n % 2) {
    fprintf(stderr, "user_client: create needs NAME EMAIL pairs\n");
    return 2;
  }
  ex_client_call *call;
  if (ex_client_call_start(&call, ch, NULL, "/user.v1.UserService/CreateUsers", timeout_ms) != 0) {
    fprintf(stderr, "user_client: CreateUsers: cannot start the call\n");
    return 1;
  }
  for (int i = 0; i < n; i += 2) {
    User__V1__CreateUserRequest req = USER__V1__CREATE_USER_REQUEST__INIT;
    req.name = pairs[i];
    req.email = pairs[i + 1];
    if (ex_client_call_send(call, &req.base) != 0) break; /* the status says why */
  }
  ex_client_call_close_send(call);
  ProtobufCMessage *m = NULL;
  int rc = ex_client_call_recv(call, &user__v1__create_users_response__descriptor, &m);
  ex_status st = ex_client_call_finish(call);
  if (rc == 1) {
    if (st.code == GRPC_STATUS_OK)
      printf("created %" PRId32 "\n", ((const User__V1__CreateUsersResponse *)m)->created);
    protobuf_c_message_free_unpacked(m, NULL);
  } else if (st.code == GRPC_STATUS_OK) {
    st = ex_error(GRPC_STATUS_INTERNAL, "no reply");
  }
  ex_client_call_del(call);
  return report("CreateUsers", st);
}

static void usage(FILE *to) {
  fprintf(to,
          "usage: user_client --target HOST:PORT [--timeout MS] COMMAND\n"
          "  get ID                        one user (GetUser)\n"
          "  list [PAGE_SIZE]              every user (ListUsers, server streaming)\n"
          "  create NAME EMAIL [NAME EMAIL ...]  new users (CreateUsers, client streaming)\n");
}

int main(int argc, char **argv) {
  const char *target = NULL;
  int timeout_ms = 5000;
  static const struct option options[] = {{"target", required_argument, NULL, 'T'},
                                          {"timeout", required_argument, NULL, 'd'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  int opt;
  /* "+": options end at the command, so NAME and EMAIL may start with '-'. */
  while ((opt = getopt_long(argc, argv, "+T:d:h", options, NULL)) != -1) {
    switch (opt) {
      case 'T': target = optarg; break;
      case 'd': timeout_ms = atoi(optarg); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (!target || optind >= argc || timeout_ms <= 0) {
    usage(stderr);
    return 2;
  }
  const char *command = argv[optind];
  char **args = argv + optind + 1;
  int n_args = argc - optind - 1;

  grpc_init();
  int rc = rpct_init(NULL); /* tracing from OTEL_* variables */
  if (rc != RPCT_OK) fprintf(stderr, "user_client: tracing off: %s\n", rpct_strerror(rc));
  grpc_channel *ch = ex_channel_new(target);

  int status;
  if (strcmp(command, "get") == 0 && n_args == 1) {
    status = get_user(ch, timeout_ms, args[0]);
  } else if (strcmp(command, "list") == 0 && n_args <= 1) {
    status = list_users(ch, timeout_ms, n_args ? atoi(args[0]) : 0);
  } else if (strcmp(command, "create") == 0) {
    status = create_users(ch, timeout_ms, args, n_args);
  } else {
    usage(stderr);
    status = 2;
  }

  grpc_channel_destroy(ch);
  rpct_shutdown(5000); /* flush this run's spans before exiting */
  grpc_shutdown();
  return status;
}
