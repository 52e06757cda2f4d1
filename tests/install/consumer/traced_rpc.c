/* A traced gRPC core client and server, built from the installed package
 * only, the way the README's link-time route says (rpctrace::wrap, or
 * `pkg-config --cflags --libs rpctrace-wrap`): rpct_init(NULL), plain gRPC
 * core calls, rpct_shutdown() at the end. No rpctrace call concerns RPCs;
 * the spans come from the front end alone.
 *
 *   traced_rpc server   listens on 127.0.0.1 on a port the system picks,
 *                       prints that port on a line of its own, serves one
 *                       unary call, then stops
 *   traced_rpc client   reads the port from stdin (../run.cmake pipes the
 *                       server's stdout into it), makes one unary call to
 *                       /rpctrace.install.Echo/Ping, expects status OK and
 *                       the reply "pong"
 *
 * Each side waits at most WAIT_MS for anything, so a lost peer ends the run
 * with an error instead of hanging. Exit status 0 on success. */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <rpctrace/rpctrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 20000
#define METHOD "/rpctrace.install.Echo/Ping"

static gpr_timespec deadline(void) {
  return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(WAIT_MS, GPR_TIMESPAN));
}

static int die(const char *side, const char *what) {
  fprintf(stderr, "traced_rpc %s: %s\n", side, what);
  return 1;
}

/* Waits for `tag` on `cq`; true when it completed with success. */
static int wait_for(grpc_completion_queue *cq, void *tag) {
  grpc_event ev = grpc_completion_queue_next(cq, deadline(), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.tag == tag && ev.success;
}

static void drain_and_destroy(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, deadline(), NULL).type == GRPC_OP_COMPLETE) {
  }
  grpc_completion_queue_destroy(cq);
}

/* The text of a received message (at most size - 1 bytes). */
static void message_text(grpc_byte_buffer *bb, char *out, size_t size) {
  grpc_byte_buffer_reader r;
  out[0] = '\0';
  if (!bb || !grpc_byte_buffer_reader_init(&r, bb)) return;
  grpc_slice all = grpc_byte_buffer_reader_readall(&r);
  size_t n = GRPC_SLICE_LENGTH(all) < size - 1 ? GRPC_SLICE_LENGTH(all) : size - 1;
  memcpy(out, GRPC_SLICE_START_PTR(all), n);
  out[n] = '\0';
  grpc_slice_unref(all);
  grpc_byte_buffer_reader_destroy(&r);
}

static int serve_one(void) {
  int tag_new, tag_read, tag_reply, tag_shutdown;
  grpc_server *server = grpc_server_create(NULL, NULL);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(server, cq, NULL);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(server, "127.0.0.1:0", creds);
  grpc_server_credentials_release(creds);
  if (port <= 0) return die("server", "cannot listen on 127.0.0.1");
  grpc_server_start(server);
  printf("%d\n", port);
  fflush(stdout);

  int rc = 1;
  grpc_call *call = NULL;
  grpc_call_details details;
  grpc_metadata_array request_md;
  grpc_call_details_init(&details);
  grpc_metadata_array_init(&request_md);
  grpc_byte_buffer *request = NULL;
  if (grpc_server_request_call(server, &call, &details, &request_md, cq, cq, &tag_new) != GRPC_CALL_OK ||
      !wait_for(cq, &tag_new)) {
    die("server", "no call arrived");
    goto out;
  }
  grpc_op read[1] = {{.op = GRPC_OP_RECV_MESSAGE, .data.recv_message.recv_message = &request}};
  if (grpc_call_start_batch(call, read, 1, &tag_read, NULL) != GRPC_CALL_OK || !wait_for(cq, &tag_read)) {
    die("server", "reading the request failed");
    goto out;
  }
  grpc_slice pong = grpc_slice_from_static_string("pong");
  grpc_byte_buffer *reply = grpc_raw_byte_buffer_create(&pong, 1);
  grpc_slice ok = grpc_slice_from_static_string("OK");
  int cancelled = 0;
  grpc_op ops[4] = {
      {.op = GRPC_OP_SEND_INITIAL_METADATA},
      {.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = reply},
      {.op = GRPC_OP_SEND_STATUS_FROM_SERVER,
       .data.send_status_from_server = {.status = GRPC_STATUS_OK, .status_details = &ok}},
      {.op = GRPC_OP_RECV_CLOSE_ON_SERVER, .data.recv_close_on_server.cancelled = &cancelled},
  };
  int replied = grpc_call_start_batch(call, ops, 4, &tag_reply, NULL) == GRPC_CALL_OK &&
                wait_for(cq, &tag_reply);
  grpc_byte_buffer_destroy(reply);
  if (!replied || cancelled) {
    die("server", "replying failed");
    goto out;
  }
  fprintf(stderr, "traced_rpc server: served %.*s\n", (int)GRPC_SLICE_LENGTH(details.method),
          (const char *)GRPC_SLICE_START_PTR(details.method));
  rc = 0;
out:
  if (request) grpc_byte_buffer_destroy(request);
  if (call) grpc_call_unref(call);
  grpc_call_details_destroy(&details);
  grpc_metadata_array_destroy(&request_md);
  grpc_server_shutdown_and_notify(server, cq, &tag_shutdown);
  grpc_server_cancel_all_calls(server);
  if (!wait_for(cq, &tag_shutdown)) rc = die("server", "shutdown did not complete");
  grpc_server_destroy(server);
  drain_and_destroy(cq);
  return rc;
}

static int call_one(void) {
  char line[32];
  if (!fgets(line, sizeof line, stdin)) return die("client", "no port on stdin (did the server start?)");
  int port = atoi(line);
  if (port <= 0 || port > 65535) return die("client", "bad port on stdin");
  char target[48];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);

  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *channel = grpc_channel_create(target, creds, NULL);
  grpc_channel_credentials_release(creds);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_slice method = grpc_slice_from_static_string(METHOD);
  grpc_call *call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                             deadline(), NULL);

  grpc_slice ping = grpc_slice_from_static_string("ping");
  grpc_byte_buffer *request = grpc_raw_byte_buffer_create(&ping, 1);
  grpc_byte_buffer *reply = NULL;
  grpc_metadata_array initial_md, trailing_md;
  grpc_metadata_array_init(&initial_md);
  grpc_metadata_array_init(&trailing_md);
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  int tag;
  grpc_op ops[6] = {
      {.op = GRPC_OP_SEND_INITIAL_METADATA},
      {.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = request},
      {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT},
      {.op = GRPC_OP_RECV_INITIAL_METADATA, .data.recv_initial_metadata.recv_initial_metadata = &initial_md},
      {.op = GRPC_OP_RECV_MESSAGE, .data.recv_message.recv_message = &reply},
      {.op = GRPC_OP_RECV_STATUS_ON_CLIENT,
       .data.recv_status_on_client = {.trailing_metadata = &trailing_md, .status = &status,
                                      .status_details = &details}},
  };
  int rc = 1;
  if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK || !wait_for(cq, &tag)) {
    die("client", "the call did not complete");
  } else {
    char text[16];
    message_text(reply, text, sizeof text);
    if (status != GRPC_STATUS_OK)
      fprintf(stderr, "traced_rpc client: status %d (%.*s)\n", (int)status, (int)GRPC_SLICE_LENGTH(details),
              (const char *)GRPC_SLICE_START_PTR(details));
    else if (strcmp(text, "pong") != 0)
      fprintf(stderr, "traced_rpc client: reply \"%s\", expected \"pong\"\n", text);
    else
      rc = 0;
  }
  if (rc == 0) printf("traced_rpc client: %s status OK, reply pong\n", METHOD);
  grpc_byte_buffer_destroy(request);
  if (reply) grpc_byte_buffer_destroy(reply);
  grpc_metadata_array_destroy(&initial_md);
  grpc_metadata_array_destroy(&trailing_md);
  grpc_slice_unref(details);
  grpc_call_unref(call);
  grpc_channel_destroy(channel);
  drain_and_destroy(cq);
  return rc;
}

int main(int argc, char **argv) {
  int server = argc == 2 && strcmp(argv[1], "server") == 0;
  if (argc != 2 || (!server && strcmp(argv[1], "client") != 0)) {
    fprintf(stderr, "usage: %s server|client\n", argv[0]);
    return 2;
  }
  /* Configured from OTEL_* (../run.cmake picks the otlp_file exporter). */
  int rc = rpct_init(NULL);
  if (rc != RPCT_OK) {
    fprintf(stderr, "traced_rpc: rpct_init: %s\n", rpct_strerror(rc));
    return 1;
  }
  grpc_init();
  rc = server ? serve_one() : call_one();
  /* Flush before gRPC goes: an OTLP/gRPC exporter would still need it. */
  rpct_shutdown(5000);
  grpc_shutdown();
  return rc;
}
