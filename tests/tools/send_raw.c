/*
 * A raw OTLP/gRPC client for the `rpctrace collect` tests: makes one unary
 * call with a request body the test chooses, through gRPC core directly
 * (no rpctrace), and prints the status code it got back.
 *
 *   send_raw HOST:PORT BODY [SECONDS]
 *
 * BODY is garbage: bytes that are not an ExportTraceServiceRequest; deep: a
 * valid request whose attribute value nests arrays 200 deep; empty: a valid
 * empty request; other-method: a call to another method of the service;
 * empty-spans:BYTES: a request of exactly BYTES bytes (6 or more) of spans
 * with no field set, the costliest request per byte for a receiver (2 bytes
 * each on the wire, a struct each for protobuf-c, about 100 bytes each in
 * OTLP/JSON), the last one named "x" when that makes the size exact.
 * SECONDS is the call's deadline (default 10).
 *
 * It prints "spans N" for empty-spans, then "status CODE MESSAGE". Exit
 * status 0 when a status was received (whatever it was), 1 otherwise.
 */
#include <stdbool.h>
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

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v > 0x7F) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v > 0x7F) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* Size of a request of one ResourceSpans of one ScopeSpans holding `n`
 * empty spans and, when `named`, one more span named "x" (5 bytes on the
 * wire: 12 03 2a 01 'x'). */
static size_t empty_spans_size(size_t n, bool named) {
  size_t spans = 2 * n + (named ? 5 : 0);
  size_t scope_spans = 1 + varint_len(spans) + spans;
  return 1 + varint_len(scope_spans) + scope_spans;
}

/* A request of exactly `size` bytes (see the header comment); NULL when
 * no such request exists (below 6 bytes) or memory is short. */
static uint8_t *empty_spans_request(size_t size, size_t *spans) {
  /* The size grows by 2 per span, and by 5 for the named one: one of the
   * largest few counts below size/2 hits any size from 6 up exactly. */
  size_t n = 0;
  bool named = false, found = false;
  for (size_t guess = size / 2 + 1; guess-- > 0 && size / 2 - guess < 16 && !found;) {
    for (int k = 0; k < 2 && !found; k++) {
      if (empty_spans_size(guess, k == 1) == size) {
        n = guess;
        named = k == 1;
        found = true;
      }
    }
  }
  if (!found) return NULL;
  uint8_t *req = malloc(size), *p = req;
  if (!req) return NULL;
  size_t inner = 2 * n + (named ? 5 : 0);
  *p++ = 0x0a; /* ExportTraceServiceRequest.resource_spans */
  p = put_varint(p, 1 + varint_len(inner) + inner);
  *p++ = 0x12; /* ResourceSpans.scope_spans */
  p = put_varint(p, inner);
  for (size_t i = 0; i < n; i++) {
    *p++ = 0x12; /* ScopeSpans.spans, empty */
    *p++ = 0x00;
  }
  if (named) {
    static const uint8_t span_x[] = {0x12, 0x03, 0x2a, 0x01, 'x'}; /* Span.name = "x" */
    memcpy(p, span_x, sizeof span_x);
  }
  *spans = n + (named ? 1 : 0);
  return req;
}

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
  if (argc != 3 && argc != 4) {
    fprintf(stderr,
            "usage: send_raw HOST:PORT garbage|deep|empty|other-method|empty-spans:BYTES "
            "[SECONDS]\n");
    return 2;
  }
  const char *method = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  const uint8_t *body = NULL;
  size_t body_len = 0;
  uint8_t *big = NULL;
  if (strcmp(argv[2], "garbage") == 0) {
    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    start = sizeof buf - sizeof garbage;
    memcpy(buf + start, garbage, sizeof garbage);
  } else if (strcmp(argv[2], "deep") == 0) {
    deep_request(200);
  } else if (strcmp(argv[2], "other-method") == 0) {
    method = "/opentelemetry.proto.collector.trace.v1.TraceService/Other";
  } else if (strncmp(argv[2], "empty-spans:", 12) == 0) {
    char *end;
    unsigned long long size = strtoull(argv[2] + 12, &end, 10);
    size_t spans = 0;
    if (*end || !(big = empty_spans_request((size_t)size, &spans))) {
      fprintf(stderr, "send_raw: cannot make a request of %s bytes\n", argv[2] + 12);
      return 2;
    }
    body = big;
    body_len = (size_t)size;
    printf("spans %zu\n", spans);
    fflush(stdout);
  } else if (strcmp(argv[2], "empty") != 0) {
    fprintf(stderr, "send_raw: unknown body %s\n", argv[2]);
    return 2;
  }
  if (!body) {
    body = buf + start;
    body_len = sizeof buf - start;
  }
  long seconds = argc == 4 ? strtol(argv[3], NULL, 10) : 10;
  if (seconds <= 0) seconds = 10;

  grpc_init();
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(argv[1], creds, NULL);
  grpc_channel_credentials_release(creds);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(seconds, GPR_TIMESPAN));
  grpc_slice method_slice = grpc_slice_from_static_string(method);
  grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice,
                                             NULL, deadline, NULL);

  grpc_slice body_slice = grpc_slice_from_copied_buffer((const char *)body, body_len);
  free(big);
  grpc_byte_buffer *request = grpc_raw_byte_buffer_create(&body_slice, 1);
  grpc_slice_unref(body_slice);
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
