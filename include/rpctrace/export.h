/*
 * rpctrace — span processors and exporters.
 *
 * A processor receives every recording span when it ends (on_end, on the
 * thread that ended it) and decides what to do with it; the built-in ones
 * pass sampled spans to an exporter. An exporter delivers batches of
 * finished spans somewhere (memory, a stream, OTLP).
 *
 * Thread safety: a processor's on_end may be called from any number of
 * threads at once and must not block. An exporter's export_spans is never
 * called concurrently with itself by the built-in processors.
 * rpct_*_del() must not race with any other use of the object.
 */
#ifndef RPCTRACE_EXPORT_H
#define RPCTRACE_EXPORT_H

#include <stdio.h>

#include "rpctrace/common.h"
#include "rpctrace/span.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Exporters ---- */

typedef struct rpct_exporter rpct_exporter;

/*
 * The operations of an exporter; `impl` is the pointer given to
 * rpct_exporter_new(). The table is borrowed and must outlive the exporter.
 */
typedef struct rpct_exporter_ops {
  /* Deliver `n` spans (records and array borrowed for the call). Returns the
   * number of spans the receiver rejected (0 for all accepted), or a
   * negative RPCT_ERR_* when the whole batch failed. Required. */
  int (*export_spans)(void *impl, const rpct_span_data *const *spans, size_t n);
  /* Deliver anything buffered within `timeout_ms`. May be NULL. */
  int (*force_flush)(void *impl, uint32_t timeout_ms);
  /* Flush and release connections; later exports fail. May be NULL. */
  int (*shutdown)(void *impl, uint32_t timeout_ms);
  /* Free `impl`. May be NULL. */
  void (*destroy)(void *impl);
} rpct_exporter_ops;

/* Wrap a user exporter. `ops` borrowed (must outlive the exporter), `impl`
 * taken: its destroy op runs in rpct_exporter_del(). `*out` untouched on
 * failure (and `impl` then still the caller's). */
RPCT_API int rpct_exporter_new(rpct_exporter **out, const rpct_exporter_ops *ops, void *impl,
                               const rpct_allocator *alloc);
RPCT_API int rpct_exporter_export(rpct_exporter *e, const rpct_span_data *const *spans, size_t n);
RPCT_API int rpct_exporter_force_flush(rpct_exporter *e, uint32_t timeout_ms);
RPCT_API int rpct_exporter_shutdown(rpct_exporter *e, uint32_t timeout_ms);
/* Destroy without shutting down (call rpct_exporter_shutdown first if the
 * exporter was used). NULL accepted. */
RPCT_API void rpct_exporter_del(rpct_exporter *e);

/* In-memory exporter (for tests): keeps a copy of every span it receives,
 * in order. Its accessors are thread-safe. */
RPCT_API int rpct_memory_exporter_new(rpct_exporter **out, const rpct_allocator *alloc);
/* Number of spans held; 0 when `e` is not a memory exporter. */
RPCT_API size_t rpct_memory_exporter_count(const rpct_exporter *e);
/* Copy the i-th span into `out` (caller-owned). RPCT_ERR_NOT_FOUND when out
 * of range, RPCT_ERR_INVALID_ARGUMENT when `e` is not a memory exporter. */
RPCT_API int rpct_memory_exporter_get(const rpct_exporter *e, size_t i, rpct_span_data *out);
RPCT_API void rpct_memory_exporter_clear(rpct_exporter *e);

/*
 * Console exporter: one human-readable line per span on `stream` (borrowed,
 * must outlive the exporter; NULL: stdout), flushed after each batch:
 *   <service> <name> kind=<KIND> trace_id=<hex> span_id=<hex>
 *   parent_id=<hex|-> start=<unix ns> duration_us=<n> status=<UNSET|OK|ERROR>["msg"]
 *   {key=value, ...}
 * all on one line.
 */
RPCT_API int rpct_console_exporter_new(rpct_exporter **out, FILE *stream,
                                       const rpct_allocator *alloc);

/* ---- Processors ---- */

typedef struct rpct_processor rpct_processor;

/* Counters a processor keeps. For any run:
 * accepted = exported + rejected + failed + queued (+ dropped ones were never
 * accepted). */
typedef struct rpct_processor_stats {
  uint64_t accepted;          /* sampled spans taken in */
  uint64_t dropped_full;      /* sampled spans dropped: queue full */
  uint64_t dropped_shutdown;  /* spans offered after shutdown */
  uint64_t exported;          /* delivered and accepted by the receiver */
  uint64_t rejected;          /* delivered but rejected by the receiver */
  uint64_t failed;            /* in batches whose export failed */
  uint64_t queued;            /* accepted, not yet exported */
  uint64_t failed_exports;    /* export calls that failed */
} rpct_processor_stats;

typedef struct rpct_processor_ops {
  /* A span started (mutable: may add attributes). May be NULL. */
  void (*on_start)(void *impl, rpct_span *span);
  /* A recording span ended. Must not block; copy what is kept. Required. */
  void (*on_end)(void *impl, const rpct_span_data *span);
  int (*force_flush)(void *impl, uint32_t timeout_ms); /* may be NULL */
  int (*shutdown)(void *impl, uint32_t timeout_ms);    /* may be NULL */
  void (*stats)(void *impl, rpct_processor_stats *out); /* may be NULL */
  void (*destroy)(void *impl);                         /* may be NULL */
} rpct_processor_ops;

/* Wrap a user processor; ownership as for rpct_exporter_new(). */
RPCT_API int rpct_processor_new(rpct_processor **out, const rpct_processor_ops *ops, void *impl,
                                const rpct_allocator *alloc);

/*
 * Simple processor: exports each sampled span as it ends, on the ending
 * thread, one export at a time (a mutex serialises the exporter). Meant for
 * tests and debugging; use the batch processor in production. Takes
 * `exporter` on success.
 */
RPCT_API int rpct_simple_processor_new(rpct_processor **out, rpct_exporter *exporter,
                                       const rpct_allocator *alloc);

RPCT_API int rpct_processor_force_flush(rpct_processor *p, uint32_t timeout_ms);
/* Shut down: flush, then refuse further spans (counted as dropped_shutdown).
 * A second call returns RPCT_ERR_STATE. */
RPCT_API int rpct_processor_shutdown(rpct_processor *p, uint32_t timeout_ms);
/* All counters zero when the processor keeps none. */
RPCT_API void rpct_processor_get_stats(rpct_processor *p, rpct_processor_stats *out);
/* Destroy the processor and what it owns, without shutting down. NULL ok. */
RPCT_API void rpct_processor_del(rpct_processor *p);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_EXPORT_H */
