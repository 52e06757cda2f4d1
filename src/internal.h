/*
 * Internal declarations shared across src/ (names rpct__*). Not installed.
 */
#ifndef RPCTRACE_SRC_INTERNAL_H
#define RPCTRACE_SRC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpctrace/rpctrace.h"

#define RPCT__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define RPCT__LIKELY(x) __builtin_expect(!!(x), 1)
#define RPCT__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RPCT__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RPCT__LIKELY(x) (x)
#define RPCT__UNLIKELY(x) (x)
#define RPCT__PRINTF(f, a)
#endif

/* ---- alloc.c: allocation through an optional rpct_allocator ---- */
void *rpct__alloc(const rpct_allocator *a, size_t size);
void *rpct__calloc(const rpct_allocator *a, size_t n, size_t size); /* zeroed; overflow -> NULL */
void rpct__free(const rpct_allocator *a, void *p);
/* NUL-terminated copy of s[0..len) (len RPCT_NTS: strlen). NULL on failure. */
char *rpct__strndup(const rpct_allocator *a, const char *s, size_t len);

/* ---- diag.c: diagnostics through the handler of rpct_set_diag_handler ---- */
void rpct__diag(const char *fmt, ...) RPCT__PRINTF(1, 2);
/* Report once per process per `key` (e.g. the variable name): later calls
 * with the same key are silent. Up to 128 distinct keys are remembered;
 * beyond that every call reports. Returns true when it reported. */
bool rpct__diag_once(const char *key, const char *fmt, ...) RPCT__PRINTF(2, 3);
/* Tests: forget which keys were reported. */
void rpct__diag_reset_once(void);

/* ---- clock ---- */
uint64_t rpct__now_mono_ns(void);

/* ---- hex (ids.c) ---- */
/* Lowercase hex of `n` bytes into out[0..2n) (no NUL). */
void rpct__hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lowercase hex digits into out[0..n). false on any other char. */
bool rpct__hex_decode(const char *in, size_t n, uint8_t *out);

/* ---- env.c: OTEL_* environment parsing ---- */
/* `s[0..len)` made safe to print between double quotes on one line: cut at
 * RPCT__QUOTE_MAX bytes on a UTF-8 boundary (then "..."), with quotes,
 * backslashes and control bytes escaped, so a value holding a newline cannot
 * forge a second log line. Returns `out`. */
#define RPCT__QUOTE_MAX 64
#define RPCT__QUOTE_BUF (RPCT__QUOTE_MAX * 4 + 4)
const char *rpct__quote(char out[RPCT__QUOTE_BUF], const char *s, size_t len);
/* The variable's value with surrounding white space removed, or NULL when
 * unset or empty. Points into the environment: copy it before setenv. */
const char *rpct__env_get(const char *name, size_t *len);
/* An unsigned integer in [min, max]; unset/empty gives `def`; anything else
 * is reported once ("<NAME>=\"<v>\" is not ...; using <def>") and gives def. */
uint64_t rpct__env_uint(const char *name, uint64_t def, uint64_t min, uint64_t max);
/* A boolean: "true"/"false" in any case; unset gives `def`; else reported. */
bool rpct__env_bool(const char *name, bool def);

/* ---- kv_list.c: "k=v,k2=v2" lists (OTEL_RESOURCE_ATTRIBUTES, headers) ---- */
typedef int (*rpct__kv_fn)(void *data, const char *key, size_t key_len, const char *value,
                           size_t value_len);
/* Check the whole list; if a member is malformed, return RPCT_ERR_PARSE with
 * the member (*bad, *bad_len, pointing into s) and the reason (*why, static)
 * and call `fn` for none. Else call `fn` for each member with its decoded key
 * and value (valid during the call only); a non-zero return of `fn` stops and
 * is returned. */
int rpct__kv_list_parse(const char *s, size_t len, const rpct_allocator *alloc, rpct__kv_fn fn,
                        void *data, const char **bad, size_t *bad_len, const char **why);

/* Members of a canonical list ("k=v,k2=v2", no white space), one at a
 * time: *m and *n the member, *kn its key's length. */
typedef struct rpct__list_iter {
  const char *p, *end;
} rpct__list_iter;
bool rpct__list_next(rpct__list_iter *it, const char **m, size_t *n, size_t *kn);

/* ---- span.c / tracer.c ---- */
/* Span states (rpct_span.state_). */
enum {
  RPCT__SPAN_IDLE = 0,      /* zero-filled: never started */
  RPCT__SPAN_RECORDING = 1,
  RPCT__SPAN_NONRECORDING = 2,
  RPCT__SPAN_ENDED = 3
};

/* What span.c needs from the tracer. */
const rpct_span_limits *rpct__tracer_limits(const rpct_tracer *t);
rpct_sampling_decision rpct__tracer_sample(const rpct_tracer *t, const rpct_sampling_params *p);
void rpct__tracer_on_start(rpct_tracer *t, rpct_span *span);
void rpct__tracer_on_end(rpct_tracer *t, const rpct_span_data *d);
void rpct__tracer_count_not_recorded(rpct_tracer *t);
void rpct__tracer_count_ended_twice(rpct_tracer *t);
const char *rpct__tracer_scope_name(const rpct_tracer *t);
const char *rpct__tracer_scope_version(const rpct_tracer *t);

/* ---- export ---- */
/* Dispatch to the processor's ops (processor.c). on_end ignores nothing:
 * the processor decides what to keep. */
void rpct__processor_on_start(rpct_processor *p, rpct_span *span);
void rpct__processor_on_end(rpct_processor *p, const rpct_span_data *d);
/* The processor OTEL_TRACES_EXPORTER asks for. *out is NULL for "none". */
int rpct__processor_from_env(rpct_processor **out, const rpct_allocator *alloc);
/* Name of a span kind / status code as written by exporters ("CLIENT", "ERROR"). */
const char *rpct__span_kind_name(int kind);
const char *rpct__status_code_name(int code);

/* ---- otlp_grpc_exporter.c ---- */
/* True for a grpc_channel of one of rpctrace's own exporters: the call
 * filters leave its calls alone. Lock-free; any thread. */
bool rpct__is_internal_channel(const void *channel);

/* ---- otlp_encode.c ---- */
/* OTLP groups a batch by resource, then by instrumentation scope, groups in
 * order of first appearance and spans in input order within them. Both OTLP
 * encodings walk a batch with these: */
/* spans[i] is the first span of its resource in spans[0..i]. */
bool rpct__otlp_first_of_resource(const rpct_span_data *const *spans, size_t i);
/* spans[k] is the first span of its resource and scope in spans[from..k]. */
bool rpct__otlp_first_of_scope(const rpct_span_data *const *spans, size_t from, size_t k);
/* Same resource and same scope (NULL scope strings read as ""). */
bool rpct__otlp_same_group(const rpct_span_data *a, const rpct_span_data *b);
/* Serialize `n` spans as one ExportTraceServiceRequest (protobuf), grouped
 * by resource and then by instrumentation scope, in input order. On success
 * *out (allocated with `alloc`; free with rpct__free) holds *out_len bytes. */
int rpct__otlp_encode(const rpct_span_data *const *spans, size_t n, const rpct_allocator *alloc,
                      uint8_t **out, size_t *out_len);

#endif /* RPCTRACE_SRC_INTERNAL_H */
