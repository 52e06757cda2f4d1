/*
 * Helpers shared by harness_server.c and harness_client.c (names th__*).
 * Not part of the harness API (harness.h).
 */
#ifndef RPCT_FILTERS_HARNESS_INTERNAL_H
#define RPCT_FILTERS_HARNESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "harness.h"

#define WAIT_SLACK_MS 20000 /* how far past its deadline a wait may run */

/* Report a harness failure (not a test failure) on stderr and abort. */
__attribute__((format(printf, 1, 2), noreturn)) void th__die(const char *fmt, ...);
/* GPR_CLOCK_MONOTONIC `ms` from now. */
gpr_timespec th__in_ms(long long ms);
void th__sleep_ms(int ms);
/* Copy at most TH_TEXT - 1 bytes and a NUL. */
void th__copy_text(char dst[TH_TEXT], const void *src, size_t len);
void th__slice_text(char dst[TH_TEXT], grpc_slice s);
bool th__slice_is(grpc_slice s, const char *text);
bool th__slice_starts(grpc_slice s, const char *text);
/* traceparent, tracestate, baggage, grpc-trace-bin, b3, x-b3-*. */
bool th__is_tracing_key(grpc_slice k);
grpc_byte_buffer *th__buffer_of(const void *data, size_t len);
grpc_byte_buffer *th__buffer_text(const char *text);
/* The buffer's bytes as text (cut to TH_TEXT - 1); "" for NULL. */
void th__buffer_to_text(grpc_byte_buffer *bb, char out[TH_TEXT]);

#endif /* RPCT_FILTERS_HARNESS_INTERNAL_H */
