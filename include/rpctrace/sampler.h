/*
 * rpctrace — samplers (OpenTelemetry SDK trace specification).
 *
 * Thread safety: a sampler is immutable after construction;
 * rpct_sampler_should_sample() and rpct_sampler_description() may be called
 * from any number of threads at once. rpct_sampler_del() must not race with
 * any other use of the same sampler.
 */
#ifndef RPCTRACE_SAMPLER_H
#define RPCTRACE_SAMPLER_H

#include "rpctrace/common.h"
#include "rpctrace/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rpct_sampling_decision {
  RPCT_SAMPLING_DROP = 0,             /* not recorded, not sampled */
  RPCT_SAMPLING_RECORD_ONLY = 1,      /* recorded, sampled flag clear */
  RPCT_SAMPLING_RECORD_AND_SAMPLE = 2 /* recorded and sampled */
} rpct_sampling_decision;

/* OTLP span kinds (values as in opentelemetry.proto.trace.v1.Span.SpanKind). */
typedef enum rpct_span_kind {
  RPCT_SPAN_KIND_UNSPECIFIED = 0,
  RPCT_SPAN_KIND_INTERNAL = 1,
  RPCT_SPAN_KIND_SERVER = 2,
  RPCT_SPAN_KIND_CLIENT = 3,
  RPCT_SPAN_KIND_PRODUCER = 4,
  RPCT_SPAN_KIND_CONSUMER = 5
} rpct_span_kind;

typedef struct rpct_sampler rpct_sampler;

/* What a custom sampler is asked. `parent` is NULL or the invalid context
 * for a root span; all pointers are borrowed for the call only. */
typedef struct rpct_sampling_params {
  const rpct_span_context *parent;
  const rpct_trace_id *trace_id;
  const char *name;
  rpct_span_kind kind;
} rpct_sampling_params;

typedef rpct_sampling_decision (*rpct_sample_fn)(void *data, const rpct_sampling_params *params);

/*
 * Constructors. Each writes a new sampler to `*out` and returns RPCT_OK, or
 * returns an error and leaves `*out` untouched. `alloc` may be NULL (malloc).
 */
RPCT_API int rpct_sampler_always_on_new(rpct_sampler **out, const rpct_allocator *alloc);
RPCT_API int rpct_sampler_always_off_new(rpct_sampler **out, const rpct_allocator *alloc);
/* TraceIdRatioBased: samples a trace when the low 56 bits of its trace id
 * (the part W3C Level 2 requires random) are at least (1 - ratio) * 2^56,
 * so the decision depends on the trace id only. `ratio` in [0, 1], else
 * RPCT_ERR_INVALID_ARGUMENT. */
RPCT_API int rpct_sampler_trace_id_ratio_new(rpct_sampler **out, double ratio,
                                             const rpct_allocator *alloc);
/*
 * ParentBased: `root` decides for spans without a valid parent; the four
 * others for remote/local parents that are sampled/not sampled. Each may be
 * NULL for its default (always_on, always_off, always_on, always_off); `root`
 * is required. On success the new sampler owns all samplers passed in; on
 * failure the caller still owns them.
 */
RPCT_API int rpct_sampler_parent_based_new(rpct_sampler **out, rpct_sampler *root,
                                           rpct_sampler *remote_sampled,
                                           rpct_sampler *remote_not_sampled,
                                           rpct_sampler *local_sampled,
                                           rpct_sampler *local_not_sampled,
                                           const rpct_allocator *alloc);
/* A sampler calling `fn(data, params)`; `fn` must be thread-safe. `data` is
 * borrowed and must outlive the sampler. `description` is copied. */
RPCT_API int rpct_sampler_custom_new(rpct_sampler **out, rpct_sample_fn fn, void *data,
                                     const char *description, const rpct_allocator *alloc);
/*
 * From OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: always_on,
 * always_off, traceidratio, parentbased_always_on (the default),
 * parentbased_always_off, parentbased_traceidratio. An unknown or
 * unsupported name, or a ratio that is not a number in [0, 1], is reported
 * once through the diag handler and the default (parentbased_always_on, or a
 * ratio of 1.0) is used.
 */
RPCT_API int rpct_sampler_from_env(rpct_sampler **out, const rpct_allocator *alloc);

/* Free `s` and the samplers it owns. NULL is accepted. */
RPCT_API void rpct_sampler_del(rpct_sampler *s);

/* Decide for a new span. `params` and what it points to are borrowed. */
RPCT_API rpct_sampling_decision rpct_sampler_should_sample(const rpct_sampler *s,
                                                           const rpct_sampling_params *params);

/* "AlwaysOnSampler", "TraceIdRatioBased{0.250000}", "ParentBased{root=...,...}".
 * Owned by the sampler. */
RPCT_API const char *rpct_sampler_description(const rpct_sampler *s);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_SAMPLER_H */
