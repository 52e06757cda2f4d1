/*
 * rpctrace — the tracer: sampler, span limits, resource and processor shared
 * by every span it starts (the OpenTelemetry "TracerProvider").
 *
 * Configuration: what the options set in code wins; everything not set comes
 * from the OTEL_* environment variables (see README.md).
 *
 * Thread safety: rpct_tracer_new()/rpct_tracer_del() on one thread, with no
 * span of the tracer still running. Between them, spans may be started and
 * ended, and rpct_tracer_force_flush(), rpct_tracer_shutdown() and
 * rpct_tracer_get_stats() called, from any threads at once: a span that
 * ends during or after the shutdown is dropped and counted, never a
 * problem. rpct_tracer_set_global() is an atomic store;
 * rpct_tracer_global() an atomic load.
 *
 * fork(): a child process inherits the tracer, but not its processor's
 * threads, locks and connections, so in the child the processor the tracer
 * was made with (and every other processor that existed at fork()) exports
 * nothing: the child's spans are dropped and counted
 * (processor.dropped_shutdown), and shutdown, force_flush and
 * rpct_tracer_del return at once. A child that should trace makes a
 * tracer of its own. See export.h.
 */
#ifndef RPCTRACE_TRACER_H
#define RPCTRACE_TRACER_H

#include <stdint.h>

#include "rpctrace/common.h"
#include "rpctrace/export.h"
#include "rpctrace/resource.h"
#include "rpctrace/sampler.h"
#include "rpctrace/span.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Span limits (OpenTelemetry SDK). A value above the record's fixed capacity
 * is clamped to it. attribute_value_length 0 means no limit but the record's
 * string space.
 */
typedef struct rpct_span_limits {
  uint32_t attribute_count;        /* OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 128 */
  uint32_t attribute_value_length; /* OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, none */
  uint32_t event_count;            /* OTEL_SPAN_EVENT_COUNT_LIMIT, 128 */
  uint32_t link_count;             /* OTEL_SPAN_LINK_COUNT_LIMIT, 128 */
  uint32_t event_attribute_count;  /* OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, 128 */
  uint32_t link_attribute_count;   /* OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, 128 */
} rpct_span_limits;

/* The specification's defaults (then clamped to the capacities). */
RPCT_API void rpct_span_limits_default(rpct_span_limits *out);
/* The defaults overridden by the environment (OTEL_ATTRIBUTE_COUNT_LIMIT and
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT apply when the span-specific variable is
 * unset). An invalid value is reported once and its default used. */
RPCT_API void rpct_span_limits_from_env(rpct_span_limits *out);

typedef struct rpct_tracer rpct_tracer;
typedef struct rpct_tracer_options rpct_tracer_options;

/* Options object; every setter copies or records its argument and may be
 * called in any order. `*out` untouched on failure. */
RPCT_API int rpct_tracer_options_new(rpct_tracer_options **out);
RPCT_API void rpct_tracer_options_del(rpct_tracer_options *o);
/* Allocator for the tracer and what it creates (copied). */
RPCT_API void rpct_tracer_options_set_allocator(rpct_tracer_options *o, const rpct_allocator *a);
/* The sampler, processor and resource are borrowed by the options and taken
 * by rpct_tracer_new() when it succeeds. */
RPCT_API void rpct_tracer_options_set_sampler(rpct_tracer_options *o, rpct_sampler *s);
RPCT_API void rpct_tracer_options_set_processor(rpct_tracer_options *o, rpct_processor *p);
RPCT_API void rpct_tracer_options_set_resource(rpct_tracer_options *o, rpct_resource *r);
RPCT_API void rpct_tracer_options_set_span_limits(rpct_tracer_options *o,
                                                  const rpct_span_limits *l);
/* Instrumentation scope written on every span (copied); default "rpctrace". */
RPCT_API int rpct_tracer_options_set_scope(rpct_tracer_options *o, const char *name,
                                           const char *version);

/*
 * A new tracer. `o` may be NULL: everything from the environment. When no
 * processor is set, OTEL_TRACES_EXPORTER chooses: "console" (a simple
 * processor with the console exporter on stdout), "none" (no export), and
 * the exporters of the exporter module. OTEL_SDK_DISABLED=true makes a
 * tracer whose spans never record.
 * On success the tracer owns the sampler, processor and resource set in `o`.
 */
RPCT_API int rpct_tracer_new(rpct_tracer **out, const rpct_tracer_options *o);

/* Shut the processor down (waiting at most `timeout_ms`): export what is
 * queued, then shut the exporter down. Spans ending later are dropped and
 * counted by the processor; the tracer stays valid until rpct_tracer_del().
 * Returns RPCT_OK when everything queued was delivered; RPCT_ERR_TIMEOUT
 * when the time ran out first; RPCT_ERR_EXPORT when one of the final
 * exports failed or ran past the export timeout (the spans are counted
 * failed); the exporter's shutdown error; RPCT_ERR_STATE when the tracer
 * was already shut down. */
RPCT_API int rpct_tracer_shutdown(rpct_tracer *t, uint32_t timeout_ms);
/* Export what is queued now, waiting at most `timeout_ms`. Returns as
 * rpct_tracer_shutdown() does (no RPCT_ERR_STATE); RPCT_OK after a
 * shutdown that delivered everything. */
RPCT_API int rpct_tracer_force_flush(rpct_tracer *t, uint32_t timeout_ms);

/* Shut down (if not done, with a 30 s limit) and free the tracer and what it
 * owns. NULL accepted. No span of it may still be running. If it is the
 * global tracer, the global tracer becomes NULL. */
RPCT_API void rpct_tracer_del(rpct_tracer *t);

typedef struct rpct_tracer_stats {
  uint64_t spans_started;      /* recording spans started */
  uint64_t spans_not_recorded; /* spans the sampler dropped */
  uint64_t spans_ended;        /* recording spans ended */
  uint64_t spans_ended_twice;  /* rpct_span_end() on an ended span */
  rpct_processor_stats processor;
} rpct_tracer_stats;

RPCT_API void rpct_tracer_get_stats(const rpct_tracer *t, rpct_tracer_stats *out);

/* The resource of the tracer (owned by it). */
RPCT_API const rpct_resource *rpct_tracer_resource(const rpct_tracer *t);

/* The process-wide tracer used when a span is started with tracer NULL.
 * Borrowed: the caller keeps ownership. */
RPCT_API void rpct_tracer_set_global(rpct_tracer *t);
RPCT_API rpct_tracer *rpct_tracer_global(void);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_TRACER_H */
