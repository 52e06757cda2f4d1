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
/* Thread-locals read on every traced call (the current context, the id
 * generator): the initial-exec model reads them at a fixed offset instead
 * of calling __tls_get_addr. The library is linked or preloaded at start;
 * a dlopen later still works while they fit glibc's static TLS surplus
 * (they take a few hundred bytes). */
#define RPCT__TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define RPCT__LIKELY(x) (x)
#define RPCT__UNLIKELY(x) (x)
#define RPCT__PRINTF(f, a)
#define RPCT__TLS _Thread_local
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

/* Text from outside (span names, configuration values, endpoints) is
 * shown to people only through these, so that it cannot drive a terminal
 * or forge a log line. */
#define RPCT__ESCAPE_BUF 8 /* the longest escape, "\u202e", and its NUL */
/* The character at s[0..n) (n > 0) and how to show it. Returns 0 when it
 * may be shown as it is; else writes its escape into `esc` (NUL-terminated)
 * and returns the escape's length: "\x1b" for a C0 control, DEL or a byte
 * that starts no valid UTF-8 sequence, "\u0085" / "\u202e" for a C1
 * control or a Unicode bidi control (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069). Either way *used is how many bytes of s it stands for
 * (1 for an invalid byte). Any thread. */
size_t rpct__escape_char(const char *s, size_t n, char esc[RPCT__ESCAPE_BUF], size_t *used);
/* The endpoint URL ep[0..len) as messages may show it: the userinfo
 * replaced ("user:pw@host:4317" -> "***@host:4317"), each query
 * parameter's value and any fragment replaced ("/v1?token=***&***#***"),
 * characters escaped as rpct__escape_char does, cut to `size` with "...".
 * Returns out (size >= 8, else out is left empty). Any thread. */
#define RPCT__ENDPOINT_SHOWN_MAX 256
const char *rpct__endpoint_shown(char *out, size_t size, const char *ep, size_t len);

/* ---- clock ---- */
uint64_t rpct__now_mono_ns(void);

/* ---- hex (ids.c) ---- */
/* Lowercase hex of `n` bytes into out[0..2n) (no NUL). */
void rpct__hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lowercase hex digits into out[0..n). false on any other char. */
bool rpct__hex_decode(const char *in, size_t n, uint8_t *out);

/* ---- env.c: OTEL_* environment parsing ---- */
/* `s[0..len)` made safe to print between double quotes on one line: cut at
 * RPCT__QUOTE_MAX bytes on a UTF-8 boundary (then "..."), with quotes and
 * backslashes escaped and every character rpct__escape_char escapes
 * escaped, so a value holding a newline cannot forge a second log line nor
 * a bidi control reorder it. Returns `out`. Never use it on a value that
 * may be a secret: name the variable, key or position instead. */
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
/* Called for each member with its decoded key and value (valid during the
 * call only). A non-zero return refuses the member: set *why to a static
 * reason, or leave it NULL. */
typedef int (*rpct__kv_fn)(void *data, const char *key, size_t key_len, const char *value,
                           size_t value_len, const char **why);
/* Which member of a list was refused and why; never its value. */
typedef struct rpct__kv_error {
  size_t member;   /* 1-based, counting non-empty members */
  const char *key; /* the key as written (into the list), or NULL: no '=' */
  size_t key_len;
  const char *why; /* static text, or NULL when `fn` gave none */
} rpct__kv_error;
/* Check the whole list; if a member is malformed, return RPCT_ERR_PARSE with
 * *err filled and call `fn` for none. Else call `fn` for each member in
 * order; a non-zero return of `fn` stops, fills *err and is returned
 * (earlier members were already passed to `fn`). */
int rpct__kv_list_parse(const char *s, size_t len, const rpct_allocator *alloc, rpct__kv_fn fn,
                        void *data, rpct__kv_error *err);
/* `member N` or `member N (key "k")` for *err, for messages. Returns out. */
#define RPCT__KV_WHERE_BUF (RPCT__QUOTE_BUF + 48)
const char *rpct__kv_error_where(char out[RPCT__KV_WHERE_BUF], const rpct__kv_error *err);

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
/* A google.rpc.RetryInfo retry_delay (google.protobuf.Duration) in ms,
 * whatever a collector sends: saturated at INT64_MAX, a negative delay 0,
 * a partial millisecond rounded up; never a signed overflow. */
int64_t rpct__retry_delay_ms(int64_t seconds, int32_t nanos);

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
