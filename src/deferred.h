/*
 * Deferred spans: a span whose RPC-path cost is recording facts, not
 * attributes. The code that starts one (the gRPC tracing filters) keeps a
 * fixed header (ids, kind, times, the parent's tracestate) followed by
 * facts of its own in one contiguous record, and a `build` function that
 * turns those facts into the span's name, attributes and status. The record
 * travels to the export thread as it is (a memcpy of `size` bytes into the
 * batch processor's ring); there `build` runs on a scratch span and the
 * result is exported like any other span. A processor that cannot queue
 * records (the simple processor, a user's) gets the built span at once, on
 * the thread that ended it.
 *
 * Why: an RPC span built through the generic span API costs a 4 KiB record
 * zeroed per call, a key search and a copy per attribute, a formatted name
 * and a parsed peer on the RPC thread; the same span as facts costs a few
 * hundred bytes written once. What `build` writes must not depend on
 * anything but the record and read-only configuration: it runs later, on
 * another thread.
 *
 * Thread safety: a record is written by one thread at a time (its owner)
 * until rpct__deferred_end; `build` runs on any thread, concurrently with
 * other records' builds, and must only read shared state.
 */
#ifndef RPCTRACE_DEFERRED_H
#define RPCTRACE_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpctrace/rpctrace.h"

/* The largest record a queue slot holds, header included. */
#define RPCT__DEFERRED_MAX 2048

typedef struct rpct__deferred rpct__deferred;

/* Writes the span's name, attributes and status into `span`, which is
 * recording and already carries the header's ids, kind, times and
 * tracestate. */
typedef void (*rpct__deferred_build_fn)(const rpct__deferred *d, rpct_span *span);

struct rpct__deferred {
  rpct__deferred_build_fn build;
  struct rpct_tracer *tracer;
  rpct_trace_id trace_id;
  rpct_span_id span_id;
  rpct_span_id parent_span_id; /* all zero: a root */
  uint8_t flags;               /* RPCT_TRACE_FLAG_* */
  uint8_t kind;                /* rpct_span_kind */
  bool parent_remote;
  uint16_t size;           /* bytes of the record in use, header included (<= RPCT__DEFERRED_MAX) */
  uint16_t tracestate_off; /* the tracestate text: offset from the record's start, 0: none */
  uint16_t tracestate_len;
  uint64_t start_unix_ns;
  uint64_t end_unix_ns;
};

/*
 * Start the span `d` heads (the caller's record, `cap` bytes, of which the
 * first `fixed` are the header and the caller's fixed facts): new span id,
 * the parent's trace (or a new one), the tracer's sampler (which sees
 * `name`, NUL-terminated, borrowed for the call). `ctx` receives
 * the span's context (for children and propagation) whatever the decision.
 * Returns true when the span records: the caller then fills its fixed
 * facts, appends variable ones after d->size, and calls
 * rpct__deferred_end; false: nothing more to do (counted as not recorded,
 * or no tracer).
 */
bool rpct__deferred_start(rpct__deferred *d, size_t cap, size_t fixed, struct rpct_tracer *tracer,
                          const char *name, rpct_span_kind kind, const rpct_span_context *parent,
                          rpct_span_context *ctx, rpct__deferred_build_fn build);

/* Append `len` bytes of text to the record (after what d->size covers),
 * NUL-terminated, cut to the room left. Returns its offset from the
 * record's start (0 when nothing fits) and stores the length kept. */
uint16_t rpct__deferred_put(rpct__deferred *d, size_t cap, const char *s, size_t len,
                            uint16_t *kept);

/* The text at `off` of a record (NUL-terminated; "" for offset 0). */
static inline const char *rpct__deferred_text(const rpct__deferred *d, uint16_t off) {
  return off ? (const char *)d + off : "";
}

/* End: set the end time (0: now) and hand the record to the tracer's
 * processor. The record may be reused or freed on return. */
void rpct__deferred_end(rpct__deferred *d, uint64_t end_unix_ns);

/* Turn a record into a finished span record in `scratch` (caller memory;
 * its data_ is the result, valid until scratch is reused). */
void rpct__deferred_materialize(const rpct__deferred *d, rpct_span *scratch);

/* ---- what deferred.c needs elsewhere ---- */

/* span.c: `span` becomes a recording span carrying the header of `d`
 * (ids, kind, start, tracestate, the tracer's resource and scope), with no
 * name, attributes or status yet; then, once built, ended without reaching
 * the tracer (the caller takes span->data_). */
void rpct__span_restore(rpct_span *span, const rpct__deferred *d);
void rpct__span_finish_restored(rpct_span *span, uint64_t end_unix_ns);

/* tracer.c: counters, and the record handed to the tracer's processor. */
void rpct__tracer_count_started(struct rpct_tracer *t);
void rpct__tracer_on_end_deferred(struct rpct_tracer *t, const rpct__deferred *d);

/* processor.c: the record to a processor: queued as it is by the batch
 * processor, built on the caller's thread for any other. */
void rpct__processor_on_end_deferred(rpct_processor *p, const rpct__deferred *d);
/* How a processor takes records as they are (set once, at construction). */
void rpct__processor_set_deferred(rpct_processor *p,
                                  void (*fn)(void *impl, const rpct__deferred *d));

#endif /* RPCTRACE_DEFERRED_H */
