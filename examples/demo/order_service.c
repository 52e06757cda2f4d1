/*
 * order_service: order.v1.OrderService/PlaceOrder for the demo.
 *
 *   OTEL_SERVICE_NAME=order-service ./order_service --payment-target 127.0.0.1:P
 *       [--listen 127.0.0.1:0] [--threads 4]
 *
 * PlaceOrder reserves the item (child span "orders.reserve_stock"),
 * charges the user through payment.v1.PaymentService/Charge (a client call
 * with the server call as parent_call, so its span joins this trace) and
 * records the order (child span "orders.save"). A failed charge is passed
 * on with its code, and the reservation is released.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <rpctrace/rpctrace.h>

#include "common/client.h"
#include "common/log.h"
#include "common/server.h"
#include "demo/order.pb-c.h"
#include "demo/payment.pb-c.h"

#define PAYMENT_TIMEOUT_MS 2000
#define RECENT_ORDERS 64
#define ID_LEN 32

typedef struct order_record {
  char order_id[ID_LEN];
  char payment_id[ID_LEN];
  int64_t user_id;
  int64_t amount_cents;
} order_record;

typedef struct order_service {
  grpc_channel *payments; /* shared by the handler threads */
  atomic_int_fast64_t next_order;
  /* The last RECENT_ORDERS orders, a ring under `lock`. */
  pthread_mutex_t lock;
  order_record recent[RECENT_ORDERS];
  size_t n_saved;
  int reserved; /* items reserved and not yet saved or released, under `lock` */
} order_service;

/* Stock is endless in this demo; what counts is that the work shows as a
 * span of its own in the trace. */
static void reserve_stock(order_service *svc, const char *item, const rpct_span_context *parent,
                          int delta) {
  rpct_span span;
  rpct_span_start(&span, NULL, delta > 0 ? "orders.reserve_stock" : "orders.release_stock",
                  RPCT_SPAN_KIND_INTERNAL, parent);
  rpct_span_set_str(&span, "order.item", item);
  pthread_mutex_lock(&svc->lock);
  svc->reserved += delta;
  pthread_mutex_unlock(&svc->lock);
  rpct_span_end(&span, 0);
}

static void save_order(order_service *svc, const order_record *o, const rpct_span_context *parent) {
  rpct_span span;
  rpct_span_start(&span, NULL, "orders.save", RPCT_SPAN_KIND_INTERNAL, parent);
  rpct_span_set_str(&span, "order.id", o->order_id);
  pthread_mutex_lock(&svc->lock);
  svc->recent[svc->n_saved++ % RECENT_ORDERS] = *o;
  svc->reserved--;
  pthread_mutex_unlock(&svc->lock);
  rpct_span_end(&span, 0);
}

static ex_status place_order(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
  order_service *svc = app;
  const Order__V1__PlaceOrderRequest *req = (const Order__V1__PlaceOrderRequest *)msg;
  grpc_call *server_call = ex_server_call_grpc(call);
  const rpct_span_context *ctx = rpct_call_span_context(server_call);

  order_record order = {.user_id = req->user_id, .amount_cents = req->amount_cents};
  snprintf(order.order_id, sizeof order.order_id, "ord-%" PRId64,
           (int64_t)atomic_fetch_add(&svc->next_order, 1));
  ex_log(ctx, "PlaceOrder order=%s user=%" PRId64 " item=%s amount_cents=%" PRId64, order.order_id,
         req->user_id, req->item, req->amount_cents);
  reserve_stock(svc, req->item, ctx, +1);

  Payment__V1__ChargeRequest charge = PAYMENT__V1__CHARGE_REQUEST__INIT;
  charge.order_id = order.order_id;
  charge.user_id = req->user_id;
  charge.amount_cents = req->amount_cents;
  ProtobufCMessage *reply;
  ex_status st = ex_unary_call(svc->payments, server_call, "/payment.v1.PaymentService/Charge",
                               PAYMENT_TIMEOUT_MS, &charge.base,
                               &payment__v1__charge_response__descriptor, &reply);
  if (st.code != GRPC_STATUS_OK) {
    ex_log(ctx, "PlaceOrder order=%s failed: Charge: %s: %s", order.order_id,
           ex_status_code_name(st.code), st.message);
    reserve_stock(svc, req->item, ctx, -1);
    return ex_error(st.code, "charge: %s", st.message);
  }
  const Payment__V1__ChargeResponse *payment = (const Payment__V1__ChargeResponse *)reply;
  snprintf(order.payment_id, sizeof order.payment_id, "%s", payment->payment_id);
  protobuf_c_message_free_unpacked(reply, NULL);

  save_order(svc, &order, ctx);
  ex_log(ctx, "PlaceOrder order=%s placed payment=%s", order.order_id, order.payment_id);
  Order__V1__PlaceOrderResponse out = ORDER__V1__PLACE_ORDER_RESPONSE__INIT;
  out.order_id = order.order_id;
  out.payment_id = order.payment_id;
  if (ex_server_send(call, &out.base) != 0)
    return ex_error(GRPC_STATUS_INTERNAL, "cannot encode the reply");
  return ex_ok();
}

static const ex_method methods[] = {
    {"/order.v1.OrderService/PlaceOrder", EX_UNARY, &order__v1__place_order_request__descriptor,
     place_order},
};

static void usage(FILE *to) {
  fprintf(to,
          "usage: order_service --payment-target HOST:PORT [--listen HOST:PORT] [--threads N]\n");
}

int main(int argc, char **argv) {
  const char *listen_addr = "127.0.0.1:0", *payment_target = NULL;
  int threads = 4;
  static const struct option options[] = {{"listen", required_argument, NULL, 'l'},
                                          {"payment-target", required_argument, NULL, 'p'},
                                          {"threads", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "l:p:t:h", options, NULL)) != -1) {
    switch (opt) {
      case 'l': listen_addr = optarg; break;
      case 'p': payment_target = optarg; break;
      case 't': threads = atoi(optarg); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind != argc || !payment_target || threads < 1) {
    usage(stderr);
    return 2;
  }

  ex_stop_signals_block(); /* before any thread exists: see common/server.h */
  ex_log_set_name("order-service");
  grpc_init();
  int rc = rpct_init(NULL); /* tracing from OTEL_* variables */
  if (rc != RPCT_OK) fprintf(stderr, "order_service: tracing off: %s\n", rpct_strerror(rc));

  static order_service svc = {.lock = PTHREAD_MUTEX_INITIALIZER};
  atomic_init(&svc.next_order, 1);
  svc.payments = ex_channel_new(payment_target);
  int status = ex_serve(listen_addr, methods, 1, &svc, threads) == 0 ? 0 : 1;
  grpc_channel_destroy(svc.payments);
  rpct_shutdown(5000); /* flush the spans still queued */
  grpc_shutdown();
  return status;
}
