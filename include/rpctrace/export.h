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
 *
 * fork(): in a child process, no processor that existed at fork() is
 * called again, except its stats op: its threads did not follow, and its
 * locks and its exporter (a gRPC channel, say) belong to the parent. The
 * handle drops the child's spans and counts them in dropped_shutdown; its
 * force_flush and shutdown return RPCT_OK at once; rpct_processor_del()
 * frees nothing. So an exporter is never called in a forked child, and a
 * child that exits never waits for a thread it does not have. Processors
 * made in the child work as usual.
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
  /* Flush and release connections; later exports fail. May be NULL. May
   * be called from another thread while an export runs (a processor whose
   * shutdown ran out of time does so): the export must then return
   * promptly. */
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
 *   parent_id=<hex|-> start=<unix ns> duration_us=<n>
 *   status=<UNSET|OK|ERROR>[("msg")] [{key=value, ...}] [events=N] [links=N]
 * all on one line (cut with "..." past 4096 bytes).
 */
RPCT_API int rpct_console_exporter_new(rpct_exporter **out, FILE *stream,
                                       const rpct_allocator *alloc);

/*
 * OTLP/JSON lines exporter: one ExportTraceServiceRequest per export call,
 * one line each, in the OTLP/JSON encoding (lowerCamelCase names, ids as
 * lowercase hex, enums as integers, 64-bit integers as decimal strings): the
 * format the OpenTelemetry Collector's file exporter writes and its file
 * receiver reads. `path` (copied) is opened for appending; NULL: the
 * RPCTRACE_OTLP_FILE_PATH variable, else "rpctrace-traces.jsonl".
 * rpct_otlp_json_exporter_new_stream writes to `stream` instead (borrowed,
 * must outlive the exporter). Each line is flushed when written.
 */
RPCT_API int rpct_otlp_file_exporter_new(rpct_exporter **out, const char *path,
                                         const rpct_allocator *alloc);
RPCT_API int rpct_otlp_json_exporter_new_stream(rpct_exporter **out, FILE *stream,
                                                const rpct_allocator *alloc);

/*
 * OTLP/gRPC exporter: sends ExportTraceServiceRequest to
 * /opentelemetry.proto.collector.trace.v1.TraceService/Export with gRPC core.
 * Every field left zero/NULL comes from the environment
 * (OTEL_EXPORTER_OTLP_TRACES_* then OTEL_EXPORTER_OTLP_*), else the default.
 * Retries CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
 * DATA_LOSS with exponential backoff and full jitter, and RESOURCE_EXHAUSTED
 * only when the server sends google.rpc.RetryInfo, waiting its delay; all
 * within `timeout_ms` for the whole export. A partial_success response is
 * not retried; its rejected_spans are returned as the rejected count.
 * Its own RPCs never pass through rpctrace's call filters.
 */
typedef struct rpct_otlp_options {
  const char *endpoint;         /* "http://host:port" or "host:port"; default http://localhost:4317 */
  const char *headers;          /* "k=v,k2=v2", percent-decoded; values never printed */
  uint32_t timeout_ms;          /* whole export, retries included; default 10000 */
  int compression;              /* 0: env, 1: none, 2: gzip */
  int insecure;                 /* 0: env, 1: plaintext, 2: TLS; default: from the scheme */
  const char *certificate_file; /* PEM roots for TLS */
  uint32_t initial_backoff_ms;  /* default 1000 */
  uint32_t max_backoff_ms;      /* default 5000 */
} rpct_otlp_options;

#define RPCT_OTLP_COMPRESSION_NONE 1
#define RPCT_OTLP_COMPRESSION_GZIP 2
#define RPCT_OTLP_PLAINTEXT 1
#define RPCT_OTLP_TLS 2

/* `opts` (borrowed; NULL: all from the environment). Creating the exporter
 * does not connect; a collector that is down shows as failed exports. */
RPCT_API int rpct_otlp_exporter_new(rpct_exporter **out, const rpct_otlp_options *opts,
                                    const rpct_allocator *alloc);

/* ---- Processors ---- */

typedef struct rpct_processor rpct_processor;

/* Counters a processor keeps. For any run:
 * accepted = exported + rejected + failed + queued (+ dropped ones were never
 * accepted). */
typedef struct rpct_processor_stats {
  uint64_t accepted;          /* sampled spans taken in */
  uint64_t dropped_full;      /* sampled spans dropped: queue full */
  uint64_t dropped_shutdown;  /* spans offered after shutdown, or in a forked child */
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

/*
 * Batch processor (OpenTelemetry SDK): a bounded, pre-allocated queue of span
 * records drained by one export thread. on_end copies the record into a free
 * slot and never blocks or waits for the export thread; a full queue drops
 * the span and counts it (dropped_full). The thread exports when
 * max_export_batch_size spans are queued or schedule_delay_ms has passed,
 * one export at a time. An export still running export_timeout_ms after it
 * began is abandoned: its spans are counted failed at that moment and
 * reported once, and its result, when the exporter returns, is ignored
 * (the next export waits for that return: an exporter is never called
 * concurrently). force_flush and shutdown return within their timeout;
 * shutdown flushes first. Both return RPCT_ERR_TIMEOUT when the time ran
 * out, RPCT_ERR_EXPORT when an export failed (or was abandoned) while they
 * waited, else the exporter's force_flush / shutdown result.
 */
typedef struct rpct_batch_options {
  uint32_t max_queue_size;        /* OTEL_BSP_MAX_QUEUE_SIZE, 2048 */
  uint32_t schedule_delay_ms;     /* OTEL_BSP_SCHEDULE_DELAY, 5000 */
  uint32_t max_export_batch_size; /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512, <= queue size */
  uint32_t export_timeout_ms;     /* OTEL_BSP_EXPORT_TIMEOUT, 30000 */
} rpct_batch_options;

/* The specification's defaults overridden by OTEL_BSP_* (an invalid value is
 * reported once; a batch size above the queue size is lowered to it). */
RPCT_API void rpct_batch_options_from_env(rpct_batch_options *out);

/* `opts` copied (NULL: from the environment; zero fields: their defaults).
 * Takes `exporter` on success. Starts the export thread. */
RPCT_API int rpct_batch_processor_new(rpct_processor **out, rpct_exporter *exporter,
                                      const rpct_batch_options *opts,
                                      const rpct_allocator *alloc);

/* Deliver what is queued within `timeout_ms`. RPCT_OK when it was;
 * otherwise an RPCT_ERR_* saying why (the batch processor's are above). */
RPCT_API int rpct_processor_force_flush(rpct_processor *p, uint32_t timeout_ms);
/* Shut down: flush, then refuse further spans (counted as dropped_shutdown).
 * Returns as force_flush does; a second call returns RPCT_ERR_STATE. */
RPCT_API int rpct_processor_shutdown(rpct_processor *p, uint32_t timeout_ms);
/* All counters zero when the processor keeps none. */
RPCT_API void rpct_processor_get_stats(rpct_processor *p, rpct_processor_stats *out);
/* Destroy the processor and what it owns, without shutting down. NULL ok. */
RPCT_API void rpct_processor_del(rpct_processor *p);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_EXPORT_H */
