/*
 * An OTLP/gRPC trace receiver that discards what it receives: the far end
 * of the benchmark runs in which the traced program exports for real
 * (bench_rpc_traced --exporter otlp, bench_micro's export-thread run). It
 * answers each Export request with an empty ExportTraceServiceResponse
 * without decoding it, so the CPU it takes from the shared cores is
 * gRPC's receive path and no more; `rpctrace collect` decodes and writes
 * JSON, which would weigh on the figure of the process under test.
 *
 *   bench_otlp_sink [--listen HOST:PORT] [--for SECONDS]
 *
 * Prints "bench_otlp_sink: listening on HOST:PORT" once listening (port 0
 * picks a free one), then runs until SIGINT or SIGTERM (or --for), and
 * prints the requests and bytes it received. One thread, one completion
 * queue, SLOTS calls served at a time; each slot is requested -> reading ->
 * replying -> requested again, and is its own tag.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#define EXPORT_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define SLOTS 8
#define POLL_MS 100

/* Set by the signal handler, read by the serving loop. */
static atomic_int stop_signal;

static void on_signal(int sig) { atomic_store(&stop_signal, sig); }

enum { S_REQUESTED, S_READING, S_REPLYING };

typedef struct slot {
  int state;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_byte_buffer *msg;
  int cancelled;
} slot;

typedef struct sink {
  grpc_server *server;
  grpc_completion_queue *cq;
  void *method;
  bool stopping;
  int live; /* slots with an operation outstanding */
  unsigned long long requests, bytes;
  grpc_slice empty;
} sink;

static void die(const char *what) {
  fprintf(stderr, "bench_otlp_sink: %s\n", what);
  exit(1);
}

static void slot_request(sink *k, slot *s) {
  s->state = S_REQUESTED;
  grpc_metadata_array_init(&s->md);
  if (grpc_server_request_registered_call(k->server, k->method, &s->call, &s->deadline, &s->md,
                                          NULL, k->cq, k->cq, s) != GRPC_CALL_OK) {
    grpc_metadata_array_destroy(&s->md);
    k->live--;
  }
}

static void slot_release(sink *k, slot *s) {
  if (s->msg) grpc_byte_buffer_destroy(s->msg);
  s->msg = NULL;
  grpc_metadata_array_destroy(&s->md);
  grpc_call_unref(s->call);
  s->call = NULL;
  if (k->stopping)
    k->live--;
  else
    slot_request(k, s);
}

static void slot_event(sink *k, slot *s, bool ok) {
  switch (s->state) {
    case S_REQUESTED: {
      if (!ok) { /* shutting down */
        grpc_metadata_array_destroy(&s->md);
        k->live--;
        return;
      }
      grpc_op op;
      memset(&op, 0, sizeof op);
      op.op = GRPC_OP_RECV_MESSAGE;
      op.data.recv_message.recv_message = &s->msg;
      s->state = S_READING;
      if (grpc_call_start_batch(s->call, &op, 1, s, NULL) != GRPC_CALL_OK) die("start_batch");
      return;
    }
    case S_READING: {
      if (!ok || !s->msg) {
        slot_release(k, s);
        return;
      }
      k->requests++;
      k->bytes += grpc_byte_buffer_length(s->msg);
      grpc_byte_buffer_destroy(s->msg);
      /* An empty ExportTraceServiceResponse: zero bytes. */
      s->msg = grpc_raw_byte_buffer_create(NULL, 0);
      grpc_op ops[4];
      memset(ops, 0, sizeof ops);
      ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
      ops[1].op = GRPC_OP_SEND_MESSAGE;
      ops[1].data.send_message.send_message = s->msg;
      ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
      ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
      ops[2].data.send_status_from_server.status_details = &k->empty;
      ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
      ops[3].data.recv_close_on_server.cancelled = &s->cancelled;
      s->state = S_REPLYING;
      if (grpc_call_start_batch(s->call, ops, 4, s, NULL) != GRPC_CALL_OK) die("start_batch");
      return;
    }
    default: slot_release(k, s); return;
  }
}

int main(int argc, char **argv) {
  const char *listen = "127.0.0.1:0";
  double for_s = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--listen") && i + 1 < argc)
      listen = argv[++i];
    else if (!strcmp(argv[i], "--for") && i + 1 < argc)
      for_s = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--listen HOST:PORT] [--for SECONDS]\n", argv[0]);
      return 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  grpc_init();
  sink k;
  memset(&k, 0, sizeof k);
  k.empty = grpc_empty_slice();
  /* Exporters send up to a few MB per request; gRPC's default receive
   * limit is 4 MB. */
  grpc_arg arg = {.type = GRPC_ARG_INTEGER,
                  .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                  .value.integer = 64 * 1024 * 1024};
  grpc_channel_args args = {.num_args = 1, .args = &arg};
  k.server = grpc_server_create(&args, NULL);
  k.method = grpc_server_register_method(k.server, EXPORT_METHOD, NULL, GRPC_SRM_PAYLOAD_NONE, 0);
  k.cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(k.server, k.cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(k.server, listen, creds);
  grpc_server_credentials_release(creds);
  if (port <= 0) die("cannot listen");
  grpc_server_start(k.server);
  char host[256];
  snprintf(host, sizeof host, "%s", listen);
  char *colon = strrchr(host, ':');
  if (colon) *colon = '\0';
  printf("bench_otlp_sink: listening on %s:%d\n", host, port);

  static slot slots[SLOTS];
  k.live = SLOTS;
  for (int i = 0; i < SLOTS; i++) slot_request(&k, &slots[i]);
  gpr_timespec end = for_s > 0
                         ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                        gpr_time_from_millis((int64_t)(for_s * 1e3), GPR_TIMESPAN))
                         : gpr_inf_future(GPR_CLOCK_MONOTONIC);
  char shutdown_tag;
  bool shutdown_seen = false;
  while (k.live > 0 || (k.stopping && !shutdown_seen)) {
    if (!k.stopping &&
        (atomic_load(&stop_signal) || gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), end) >= 0)) {
      k.stopping = true;
      grpc_server_shutdown_and_notify(k.server, k.cq, &shutdown_tag);
      grpc_server_cancel_all_calls(k.server);
    }
    grpc_event ev = grpc_completion_queue_next(
        k.cq,
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(POLL_MS, GPR_TIMESPAN)),
        NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) continue;
    if (ev.type != GRPC_OP_COMPLETE) die("unexpected queue event");
    if (ev.tag == &shutdown_tag)
      shutdown_seen = true;
    else
      slot_event(&k, ev.tag, ev.success != 0);
  }
  grpc_server_destroy(k.server);
  grpc_completion_queue_shutdown(k.cq);
  while (grpc_completion_queue_next(k.cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(k.cq);
  grpc_shutdown();
  printf("bench_otlp_sink: %llu requests, %llu bytes received and discarded\n", k.requests,
         k.bytes);
  return 0;
}
