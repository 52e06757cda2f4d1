/*
 * A raw OTLP/gRPC client for the `rpctrace collect` tests: makes one unary
 * call with a request body the test chooses, through gRPC core directly
 * (no rpctrace), and prints the status code it got back.
 *
 *   send_raw HOST:PORT garbage|deep|empty|other-method
 *
 * garbage: bytes that are not an ExportTraceServiceRequest; deep: a valid
 * request whose attribute value nests arrays 200 deep; empty: a valid empty
 * request; other-method: a call to another method of the service.
 * Exit status 0 when a status was received (whatever it was), 1 otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

/* Serialized bytes built from the inside out (see deep_request). */
static uint8_t buf[8192];
static size_t start = sizeof buf;

static void prepend_varint(uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
    v >>= 7;
  } while (v);
  while (n) buf[--start] = tmp[--n];
}

/* The bytes so far become length-delimited field `field` of a new message. */
static void wrap(unsigned field) {
  prepend_varint(sizeof buf - start);
  prepend_varint((uint64_t)field << 3 | 2);
}

static void deep_request(unsigned levels) {
  for (unsigned i = 0; i < levels; i++) {
    wrap(1); /* ArrayValue.values */
    wrap(5); /* AnyValue.array_value */
  }
  wrap(2); /* KeyValue.value */
  wrap(9); /* Span.attributes */
  wrap(2); /* ScopeSpans.spans */
  wrap(2); /* ResourceSpans.scope_spans */
  wrap(1); /* ExportTraceServiceRequest.resource_spans */
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: send_raw HOST:PORT garbage|deep|empty|other-method\n");
    return 2;
  }
  const char *method = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  if (strcmp(argv[2], "garbage") == 0) {
    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    start = sizeof buf - sizeof garbage;
    memcpy(buf + start, garbage, sizeof garbage);
  } else if (strcmp(argv[2], "deep") == 0) {
    deep_request(200);
  } else if (strcmp(argv[2], "other-method") == 0) {
    method = "/opentelemetry.proto.collector.trace.v1.TraceService/Other";
  } else if (strcmp(argv[2], "empty") != 0) {
    fprintf(stderr, "send_raw: unknown body %s\n", argv[2]);
    return 2;
  }

  grpc_init();
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(argv[1], creds, NULL);
  grpc_channel_credentials_release(creds);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(10, GPR_TIMESPAN));
  grpc_slice method_slice = grpc_slice_from_static_string(method);
  grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice,
                                             NULL, deadline, NULL);

  grpc_slice body = grpc_slice_from_copied_buffer((const char *)buf + start, sizeof buf - start);
  grpc_byte_buffer *request = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  grpc_byte_buffer *response = NULL;
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = request;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &response;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  int rc = 1;
  if (grpc_call_start_batch(call, ops, 6, (void *)1, NULL) == GRPC_CALL_OK) {
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)1, deadline, NULL);
    if (ev.type == GRPC_OP_COMPLETE) {
      char *msg = grpc_slice_to_c_string(details);
      printf("status %d %s\n", (int)status, msg);
      gpr_free(msg);
      rc = 0;
    }
  }
  grpc_call_unref(call);
  grpc_byte_buffer_destroy(request);
  /* cppcheck-suppress knownConditionTrueFalse ; set by the batch through ops[4] */
  if (response) grpc_byte_buffer_destroy(response);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_slice_unref(details);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  grpc_channel_destroy(ch);
  grpc_shutdown();
  return rc;
}
