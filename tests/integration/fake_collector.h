/*
 * A fake OTLP/gRPC trace collector for the integration tests, written on the
 * gRPC core C API. It listens on 127.0.0.1 (a free port chosen by the
 * kernel), serves /opentelemetry.proto.collector.trace.v1.TraceService/Export
 * on one thread, answers each attempt as its mode says, and records every
 * attempt: when it arrived, how many spans it carried, their span ids, and
 * the status it was answered with.
 *
 * Thread safety: fc_start() and fc_stop() on one thread; every accessor may
 * be called from any thread while the collector runs (the records are kept
 * under a mutex).
 */
#ifndef RPCT_FAKE_COLLECTOR_H
#define RPCT_FAKE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>

#include "rpctrace/context.h"

typedef enum fc_mode {
  FC_ACCEPT = 1,              /* OK, empty response */
  FC_UNAVAILABLE_THEN_ACCEPT, /* UNAVAILABLE for the first fail_first attempts */
  FC_EXHAUSTED_RETRY_INFO,    /* RESOURCE_EXHAUSTED + RetryInfo{retry_delay_ms}
                                 for the first fail_first attempts, then OK */
  FC_EXHAUSTED,               /* RESOURCE_EXHAUSTED without RetryInfo, always */
  FC_INVALID_ARGUMENT,        /* INVALID_ARGUMENT, always */
  FC_PARTIAL_SUCCESS,         /* OK with partial_success{rejected_spans, error_message} */
  FC_SLOW,                    /* wait delay_ms (cut short by fc_stop), then OK */
  FC_EXHAUSTED_RETRY_DURATION /* RESOURCE_EXHAUSTED + RetryInfo{retry_seconds,
                                 retry_nanos} as given (huge, negative: any
                                 Duration) for the first fail_first attempts,
                                 then OK */
} fc_mode;

typedef struct fc_config {
  fc_mode mode;
  unsigned fail_first;       /* FC_UNAVAILABLE_THEN_ACCEPT, FC_EXHAUSTED_RETRY_* */
  uint32_t retry_delay_ms;   /* FC_EXHAUSTED_RETRY_INFO */
  int64_t retry_seconds;     /* FC_EXHAUSTED_RETRY_DURATION */
  int32_t retry_nanos;       /* FC_EXHAUSTED_RETRY_DURATION */
  const char *header_key;    /* any mode: record this request header; copied */
  int64_t rejected_spans;    /* FC_PARTIAL_SUCCESS */
  const char *error_message; /* FC_PARTIAL_SUCCESS; copied by fc_start */
  uint32_t delay_ms;         /* FC_SLOW */
} fc_config;

/* One Export call as the collector saw it. */
typedef struct fc_attempt {
  uint64_t arrival_mono_ns;  /* CLOCK_MONOTONIC, when the request message was read */
  size_t n_spans;            /* spans in the request (0 if it did not decode) */
  bool decoded;              /* the request was a valid ExportTraceServiceRequest */
  grpc_status_code answered; /* the status sent back */
  bool has_header;           /* the request carried cfg.header_key */
  char header_value[128];    /* its value (cut to fit), NUL-terminated */
} fc_attempt;

typedef struct fake_collector fake_collector;

/* Start a collector (calls grpc_init). `cfg` copied. Returns 0, or -1 when
 * the server could not be set up (nothing is left running then). */
int fc_start(fake_collector **out, const fc_config *cfg);

/* Shut the server down (cancelling calls in progress and cutting a FC_SLOW
 * wait short), join its thread, free everything, grpc_shutdown. NULL ok. */
void fc_stop(fake_collector *fc);

/* The port it listens on (127.0.0.1). */
int fc_port(const fake_collector *fc);

/* Number of attempts recorded so far. */
size_t fc_attempt_count(fake_collector *fc);

/* Copy attempt `i` into `out`. false when `i` is out of range. */
bool fc_attempt_get(fake_collector *fc, size_t i, fc_attempt *out);

/* Copy up to `cap` span ids of attempt `i` into `out` in the order they were
 * received; returns how many the attempt holds (0 when out of range). */
size_t fc_attempt_span_ids(fake_collector *fc, size_t i, rpct_span_id *out, size_t cap);

/* Wait until at least `n` attempts are recorded, or `timeout_ms` passes.
 * Returns true when they were. */
bool fc_wait_attempts(fake_collector *fc, size_t n, uint32_t timeout_ms);

/* CLOCK_MONOTONIC in nanoseconds (the clock of arrival_mono_ns). */
uint64_t fc_now_mono_ns(void);

#endif /* RPCT_FAKE_COLLECTOR_H */
