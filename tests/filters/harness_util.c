/* Helpers shared by the harness's server and client (harness_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>

#include "harness_internal.h"

void th__die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("harness: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
  abort();
}

long long th_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

gpr_timespec th__in_ms(long long ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

void th__sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

void th__copy_text(char dst[TH_TEXT], const void *src, size_t len) {
  if (len >= TH_TEXT) len = TH_TEXT - 1;
  if (len) memcpy(dst, src, len);
  dst[len] = '\0';
}

void th__slice_text(char dst[TH_TEXT], grpc_slice s) {
  th__copy_text(dst, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
}

bool th__slice_is(grpc_slice s, const char *text) {
  size_t n = strlen(text);
  return GRPC_SLICE_LENGTH(s) == n && memcmp(GRPC_SLICE_START_PTR(s), text, n) == 0;
}

bool th__slice_starts(grpc_slice s, const char *text) {
  size_t n = strlen(text);
  return GRPC_SLICE_LENGTH(s) >= n && memcmp(GRPC_SLICE_START_PTR(s), text, n) == 0;
}

bool th__is_tracing_key(grpc_slice k) {
  return th__slice_is(k, "traceparent") || th__slice_is(k, "tracestate") || th__slice_is(k, "baggage") ||
         th__slice_is(k, "grpc-trace-bin") || th__slice_is(k, "b3") || th__slice_starts(k, "x-b3-");
}

grpc_byte_buffer *th__buffer_of(const void *data, size_t len) {
  grpc_slice s = grpc_slice_from_copied_buffer(data, len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

grpc_byte_buffer *th__buffer_text(const char *text) { return th__buffer_of(text, strlen(text)); }

/* The buffer's bytes as text (cut to TH_TEXT - 1). */
void th__buffer_to_text(grpc_byte_buffer *bb, char out[TH_TEXT]) {
  out[0] = '\0';
  if (!bb) return;
  grpc_byte_buffer_reader r;
  if (!grpc_byte_buffer_reader_init(&r, bb)) th__die("byte buffer reader");
  grpc_slice all = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  th__slice_text(out, all);
  grpc_slice_unref(all);
}

uint64_t th_fnv1a(const void *s, size_t n) {
  const unsigned char *p = s;
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3u;
  return h;
}
