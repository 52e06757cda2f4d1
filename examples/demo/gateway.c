/*
 * gateway: the demo's front door, gateway.v1.Gateway/CreateOrder.
 *
 *   OTEL_SERVICE_NAME=gateway ./gateway --user-target 127.0.0.1:P1 --order-target 127.0.0.1:P2
 *       [--listen 127.0.0.1:0] [--threads 4]
 *
 * CreateOrder validates the request (a child span of its own), looks the
 * user up (user.v1.UserService/GetUser) and places the order
 * (order.v1.OrderService/PlaceOrder). Both client calls are created with
 * the server call as their parent_call: they inherit its deadline and
 * cancellation, and rpctrace makes their CLIENT spans children of this
 * call's SERVER span, so one trace runs through every service.
 *
 * An error from a service downstream is passed on with its code, its
 * message prefixed with what failed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <grpc/grpc.h>
#include <rpctrace/rpctrace.h>

#include "common/client.h"
#include "common/log.h"
#include "common/server.h"
#include "demo/gateway.pb-c.h"
#include "demo/order.pb-c.h"
#include "user_service.pb-c.h"

#define DOWNSTREAM_TIMEOUT_MS 2000

typedef struct gateway {
  grpc_channel *users; /* shared by every handler thread: channels are thread-safe */
  grpc_channel *orders;
} gateway;

/* The checks a real gateway makes before it bothers anybody. */
static ex_status validate(const Gateway__V1__CreateOrderRequest *req,
                          const rpct_span_context *parent) {
  rpct_span span;
  rpct_span_start(&span, NULL, "gateway.validate", RPCT_SPAN_KIND_INTERNAL, parent);
  ex_status st = ex_ok();
  if (req->user_id <= 0)
    st = ex_error(GRPC_STATUS_INVALID_ARGUMENT, "user_id must be positive");
  else if (!req->item[0])
    st = ex_error(GRPC_STATUS_INVALID_ARGUMENT, "item is empty");
  else if (req->amount_cents <= 0)
    st = ex_error(GRPC_STATUS_INVALID_ARGUMENT, "amount_cents must be positive");
  rpct_span_set_bool(&span, "order.valid", st.code == GRPC_STATUS_OK);
  if (st.code != GRPC_STATUS_OK) rpct_span_set_status(&span, RPCT_STATUS_ERROR, st.message);
  rpct_span_end(&span, 0);
  return st;
}

static ex_status create_order(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
  gateway *gw = app;
  const Gateway__V1__CreateOrderRequest *req = (const Gateway__V1__CreateOrderRequest *)msg;
  grpc_call *server_call = ex_server_call_grpc(call);
  const rpct_span_context *ctx = rpct_call_span_context(server_call);
  ex_log(ctx, "CreateOrder user=%" PRId64 " item=%s amount_cents=%" PRId64, req->user_id, req->item,
         req->amount_cents);

  ex_status st = validate(req, ctx);
  if (st.code != GRPC_STATUS_OK) {
    ex_log(ctx, "CreateOrder rejected: %s", st.message);
    return st;
  }

  /* Who is ordering? */
  User__V1__GetUserRequest user_req = USER__V1__GET_USER_REQUEST__INIT;
  user_req.id = req->user_id;
  ProtobufCMessage *reply;
  st = ex_unary_call(gw->users, server_call, "/user.v1.UserService/GetUser", DOWNSTREAM_TIMEOUT_MS,
                     &user_req.base, &user__v1__user__descriptor, &reply);
  if (st.code != GRPC_STATUS_OK) {
    ex_log(ctx, "CreateOrder user=%" PRId64 " failed: GetUser: %s: %s", req->user_id,
           ex_status_code_name(st.code), st.message);
    return ex_error(st.code, "get user: %s", st.message);
  }
  User__V1__User *user = (User__V1__User *)reply;

  /* Place it. */
  Order__V1__PlaceOrderRequest order_req = ORDER__V1__PLACE_ORDER_REQUEST__INIT;
  order_req.user_id = req->user_id;
  order_req.item = req->item;
  order_req.amount_cents = req->amount_cents;
  st = ex_unary_call(gw->orders, server_call, "/order.v1.OrderService/PlaceOrder",
                     DOWNSTREAM_TIMEOUT_MS, &order_req.base,
                     &order__v1__place_order_response__descriptor, &reply);
  if (st.code != GRPC_STATUS_OK) {
    ex_log(ctx, "CreateOrder user=%" PRId64 " failed: PlaceOrder: %s: %s", req->user_id,
           ex_status_code_name(st.code), st.message);
    protobuf_c_message_free_unpacked(&user->base, NULL);
    return ex_error(st.code, "place order: %s", st.message);
  }
  Order__V1__PlaceOrderResponse *order = (Order__V1__PlaceOrderResponse *)reply;

  Gateway__V1__CreateOrderResponse out = GATEWAY__V1__CREATE_ORDER_RESPONSE__INIT;
  out.order_id = order->order_id;
  out.user_name = user->name;
  out.payment_id = order->payment_id;
  ex_log(ctx, "CreateOrder user=%" PRId64 " done order=%s payment=%s", req->user_id,
         order->order_id, order->payment_id);
  st = ex_server_send(call, &out.base) == 0
           ? ex_ok()
           : ex_error(GRPC_STATUS_INTERNAL, "cannot encode the reply");
  protobuf_c_message_free_unpacked(&order->base, NULL);
  protobuf_c_message_free_unpacked(&user->base, NULL);
  return st;
}

static const ex_method methods[] = {
    {"/gateway.v1.Gateway/CreateOrder", EX_UNARY, &gateway__v1__create_order_request__descriptor,
     create_order},
};

static void usage(FILE *to) {
  fprintf(to,
          "usage: gateway --user-target HOST:PORT --order-target HOST:PORT"
          " [--listen HOST:PORT] [--threads N]\n");
}

int main(int argc, char **argv) {
  const char *listen_addr = "127.0.0.1:0", *user_target = NULL, *order_target = NULL;
  int threads = 4;
  static const struct option options[] = {{"listen", required_argument, NULL, 'l'},
                                          {"user-target", required_argument, NULL, 'u'},
                                          {"order-target", required_argument, NULL, 'o'},
                                          {"threads", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "l:u:o:t:h", options, NULL)) != -1) {
    switch (opt) {
      case 'l': listen_addr = optarg; break;
      case 'u': user_target = optarg; break;
      case 'o': order_target = optarg; break;
      case 't': threads = atoi(optarg); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind != argc || !user_target || !order_target || threads < 1) {
    usage(stderr);
    return 2;
  }

  ex_stop_signals_block(); /* before any thread exists: see common/server.h */
  ex_log_set_name("gateway");
  grpc_init();
  int rc = rpct_init(NULL); /* tracing from OTEL_* variables */
  if (rc != RPCT_OK) fprintf(stderr, "gateway: tracing off: %s\n", rpct_strerror(rc));

  gateway gw = {.users = ex_channel_new(user_target), .orders = ex_channel_new(order_target)};
  int status = ex_serve(listen_addr, methods, 1, &gw, threads) == 0 ? 0 : 1;
  grpc_channel_destroy(gw.users);
  grpc_channel_destroy(gw.orders);
  rpct_shutdown(5000); /* flush the spans still queued */
  grpc_shutdown();
  return status;
}
