/*
 * demo_client: drives the demo with a few gateway.v1.Gateway/CreateOrder
 * requests, each in a trace of its own.
 *
 *   OTEL_SERVICE_NAME=demo-client ./demo_client --target 127.0.0.1:PORT
 *
 * Each request runs under a root span ("demo.checkout") attached to the
 * thread, so the CLIENT span of the call becomes its child without
 * parent_call: that is how code that is not a gRPC handler puts its calls
 * in a trace. One request is over the payment service's limit and fails
 * there (INTERNAL), to show an error path across the four services.
 *
 * One log line per request on stderr, with its trace id. Exit status 0
 * when every request ended with the status it was meant to, else 1.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <grpc/grpc.h>
#include <rpctrace/rpctrace.h>

#include "common/client.h"
#include "common/log.h"
#include "demo/gateway.pb-c.h"

typedef struct demo_order {
  int64_t user_id;
  const char *item;
  int64_t amount_cents;
  grpc_status_code expect;
} demo_order;

static const demo_order orders[] = {
    {1, "book", 1999, GRPC_STATUS_OK},
    {2, "laptop", 250000, GRPC_STATUS_INTERNAL}, /* over the payment service's limit */
    {3, "coffee", 450, GRPC_STATUS_OK},
};

/* One CreateOrder in a trace of its own; true when it ended as expected. */
static bool checkout(grpc_channel *gateway, int n, const demo_order *o, int timeout_ms) {
  rpct_span root;
  rpct_span_start(&root, NULL, "demo.checkout", RPCT_SPAN_KIND_INTERNAL, NULL);
  rpct_span_set_int(&root, "order.user_id", o->user_id);
  rpct_span_set_str(&root, "order.item", o->item);
  rpct_span_set_int(&root, "order.amount_cents", o->amount_cents);
  /* Calls this thread makes now are children of `root`. */
  rpct_context_token token = rpct_context_attach(rpct_span_get_context(&root));

  Gateway__V1__CreateOrderRequest req = GATEWAY__V1__CREATE_ORDER_REQUEST__INIT;
  req.user_id = o->user_id;
  req.item = (char *)o->item; /* protobuf-c fields are not const; it is only read */
  req.amount_cents = o->amount_cents;
  ProtobufCMessage *reply;
  ex_status st = ex_unary_call(gateway, NULL, "/gateway.v1.Gateway/CreateOrder", timeout_ms,
                               &req.base, &gateway__v1__create_order_response__descriptor, &reply);
  rpct_context_detach(token);

  if (st.code == GRPC_STATUS_OK) {
    const Gateway__V1__CreateOrderResponse *r = (const Gateway__V1__CreateOrderResponse *)reply;
    ex_log(rpct_span_get_context(&root),
           "request %d user=%" PRId64 " item=%s amount_cents=%" PRId64
           " status=OK order=%s payment=%s user_name=\"%s\"",
           n, o->user_id, o->item, o->amount_cents, r->order_id, r->payment_id, r->user_name);
    protobuf_c_message_free_unpacked(reply, NULL);
  } else {
    rpct_span_set_status(&root, RPCT_STATUS_ERROR, st.message);
    ex_log(rpct_span_get_context(&root),
           "request %d user=%" PRId64 " item=%s amount_cents=%" PRId64 " status=%s message=\"%s\"",
           n, o->user_id, o->item, o->amount_cents, ex_status_code_name(st.code), st.message);
  }
  rpct_span_end(&root, 0);
  if (st.code == o->expect) return true;
  fprintf(stderr, "demo-client: request %d: expected %s, got %s\n", n,
          ex_status_code_name(o->expect), ex_status_code_name(st.code));
  return false;
}

static void usage(FILE *to) {
  fprintf(to, "usage: demo_client --target HOST:PORT [--timeout MS]\n");
}

int main(int argc, char **argv) {
  const char *target = NULL;
  int timeout_ms = 5000;
  static const struct option options[] = {{"target", required_argument, NULL, 'T'},
                                          {"timeout", required_argument, NULL, 'd'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "T:d:h", options, NULL)) != -1) {
    switch (opt) {
      case 'T': target = optarg; break;
      case 'd': timeout_ms = atoi(optarg); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind != argc || !target || timeout_ms <= 0) {
    usage(stderr);
    return 2;
  }

  ex_log_set_name("demo-client");
  grpc_init();
  int rc = rpct_init(NULL); /* tracing from OTEL_* variables */
  if (rc != RPCT_OK) fprintf(stderr, "demo_client: tracing off: %s\n", rpct_strerror(rc));
  grpc_channel *gateway = ex_channel_new(target);

  size_t n = sizeof orders / sizeof orders[0], as_expected = 0;
  for (size_t i = 0; i < n; i++)
    as_expected += checkout(gateway, (int)i + 1, &orders[i], timeout_ms);
  printf("demo-client: %zu requests, %zu ended as expected\n", n, as_expected);

  grpc_channel_destroy(gateway);
  rpct_shutdown(5000); /* flush this run's spans before exiting */
  grpc_shutdown();
  return as_expected == n ? 0 : 1;
}
