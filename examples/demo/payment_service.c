/*
 * payment_service: payment.v1.PaymentService/Charge for the demo.
 *
 *   OTEL_SERVICE_NAME=payment-service ./payment_service [--listen 127.0.0.1:0]
 *       [--limit-cents 100000] [--threads 4]
 *
 * Charge asks the "card processor" (child span "payments.authorize") and
 * answers a payment id. The demo's processor breaks on amounts above
 * --limit-cents: the charge then fails with INTERNAL, a server-side fault,
 * so this service's SERVER span is an error too and the trace shows where
 * the failure started. (A plain card decline would be FAILED_PRECONDITION:
 * an error for the caller, but not a fault of this server, whose span
 * would stay unset.)
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <grpc/grpc.h>
#include <rpctrace/rpctrace.h>

#include "common/log.h"
#include "common/server.h"
#include "demo/payment.pb-c.h"

typedef struct payment_service {
  int64_t limit_cents;
  atomic_int_fast64_t next_payment;
} payment_service;

static ex_status charge(ex_server_call *call, const ProtobufCMessage *msg, void *app) {
  payment_service *svc = app;
  const Payment__V1__ChargeRequest *req = (const Payment__V1__ChargeRequest *)msg;
  const rpct_span_context *ctx = rpct_call_span_context(ex_server_call_grpc(call));
  if (req->amount_cents <= 0)
    return ex_error(GRPC_STATUS_INVALID_ARGUMENT, "amount_cents must be positive");

  rpct_span authorize;
  rpct_span_start(&authorize, NULL, "payments.authorize", RPCT_SPAN_KIND_INTERNAL, ctx);
  rpct_span_set_str(&authorize, "payment.order_id", req->order_id);
  rpct_span_set_int(&authorize, "payment.amount_cents", req->amount_cents);
  ex_status st = ex_ok();
  if (req->amount_cents > svc->limit_cents) {
    st = ex_error(GRPC_STATUS_INTERNAL,
                  "card processor error: amount %" PRId64 " cents is over its limit of %" PRId64,
                  req->amount_cents, svc->limit_cents);
    rpct_span_set_status(&authorize, RPCT_STATUS_ERROR, st.message);
  }
  ex_log(rpct_span_get_context(&authorize),
         "Charge order=%s user=%" PRId64 " amount_cents=%" PRId64 " %s", req->order_id,
         req->user_id, req->amount_cents, st.code == GRPC_STATUS_OK ? "authorized" : "FAILED");
  rpct_span_end(&authorize, 0);
  if (st.code != GRPC_STATUS_OK) return st;

  char payment_id[32];
  snprintf(payment_id, sizeof payment_id, "pay-%" PRId64,
           (int64_t)atomic_fetch_add(&svc->next_payment, 1));
  Payment__V1__ChargeResponse out = PAYMENT__V1__CHARGE_RESPONSE__INIT;
  out.payment_id = payment_id;
  if (ex_server_send(call, &out.base) != 0)
    return ex_error(GRPC_STATUS_INTERNAL, "cannot encode the reply");
  return ex_ok();
}

static const ex_method methods[] = {
    {"/payment.v1.PaymentService/Charge", EX_UNARY, &payment__v1__charge_request__descriptor,
     charge},
};

static void usage(FILE *to) {
  fprintf(to, "usage: payment_service [--listen HOST:PORT] [--limit-cents N] [--threads N]\n");
}

int main(int argc, char **argv) {
  const char *listen_addr = "127.0.0.1:0";
  int threads = 4;
  long long limit = 100000;
  static const struct option options[] = {{"listen", required_argument, NULL, 'l'},
                                          {"limit-cents", required_argument, NULL, 'L'},
                                          {"threads", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "l:L:t:h", options, NULL)) != -1) {
    switch (opt) {
      case 'l': listen_addr = optarg; break;
      case 'L': limit = atoll(optarg); break;
      case 't': threads = atoi(optarg); break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind != argc || threads < 1 || limit <= 0) {
    usage(stderr);
    return 2;
  }

  ex_stop_signals_block(); /* before any thread exists: see common/server.h */
  ex_log_set_name("payment-service");
  grpc_init();
  int rc = rpct_init(NULL); /* tracing from OTEL_* variables */
  if (rc != RPCT_OK) fprintf(stderr, "payment_service: tracing off: %s\n", rpct_strerror(rc));

  static payment_service svc;
  svc.limit_cents = limit;
  atomic_init(&svc.next_payment, 1);
  int status = ex_serve(listen_addr, methods, 1, &svc, threads) == 0 ? 0 : 1;
  rpct_shutdown(5000); /* flush the spans still queued */
  grpc_shutdown();
  return status;
}
