/*
 * Simple processor: each sampled span is exported on the thread that ends
 * it, one export at a time. For tests and debugging: an RPC waits for the
 * export, which the batch processor exists to avoid.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"

typedef struct simple_processor {
  rpct_exporter *exporter; /* owned */
  rpct_allocator alloc;
  bool has_alloc;
  /* Serialises the exporter (its export is never called concurrently) and
   * orders shutdown against on_end: once shutdown holds it and sets
   * shut_down, no export starts again. */
  pthread_mutex_t lock;
  bool shut_down; /* under lock */
  /* Written under lock, read without it by stats(): atomics so a reader on
   * another thread sees whole values. */
  atomic_uint_fast64_t accepted;
  atomic_uint_fast64_t exported;
  atomic_uint_fast64_t rejected;
  atomic_uint_fast64_t failed;
  atomic_uint_fast64_t failed_exports;
  atomic_uint_fast64_t dropped_shutdown;
} simple_processor;

static void count(atomic_uint_fast64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t read_count(atomic_uint_fast64_t *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

static void simple_on_end(void *impl, const rpct_span_data *d) {
  simple_processor *sp = impl;
  if (!(d->flags & RPCT_TRACE_FLAG_SAMPLED)) return;
  pthread_mutex_lock(&sp->lock);
  if (sp->shut_down) {
    pthread_mutex_unlock(&sp->lock);
    count(&sp->dropped_shutdown, 1);
    return;
  }
  count(&sp->accepted, 1);
  const rpct_span_data *batch[1] = {d};
  int r = rpct_exporter_export(sp->exporter, batch, 1);
  pthread_mutex_unlock(&sp->lock);
  if (r < 0) {
    count(&sp->failed, 1);
    count(&sp->failed_exports, 1);
    rpct__diag_once("simple_processor.export",
                    "span export failed: %s (later failures are only counted)", rpct_strerror(r));
  } else {
    uint64_t rejected = r > 1 ? 1 : (uint64_t)r;
    count(&sp->rejected, rejected);
    count(&sp->exported, 1 - rejected);
  }
}

static int simple_force_flush(void *impl, uint32_t timeout_ms) {
  simple_processor *sp = impl;
  pthread_mutex_lock(&sp->lock);
  int r = sp->shut_down ? RPCT_OK : rpct_exporter_force_flush(sp->exporter, timeout_ms);
  pthread_mutex_unlock(&sp->lock);
  return r;
}

static int simple_shutdown(void *impl, uint32_t timeout_ms) {
  simple_processor *sp = impl;
  pthread_mutex_lock(&sp->lock);
  /* The handle lets only the first shutdown through; nothing is buffered
   * here, so flushing is the exporter's shutdown's job. */
  sp->shut_down = true;
  int r = rpct_exporter_shutdown(sp->exporter, timeout_ms);
  pthread_mutex_unlock(&sp->lock);
  return r;
}

static void simple_stats(void *impl, rpct_processor_stats *out) {
  simple_processor *sp = impl;
  out->accepted = read_count(&sp->accepted);
  out->exported = read_count(&sp->exported);
  out->rejected = read_count(&sp->rejected);
  out->failed = read_count(&sp->failed);
  out->failed_exports = read_count(&sp->failed_exports);
  out->dropped_shutdown = read_count(&sp->dropped_shutdown);
  out->dropped_full = 0;
  out->queued = 0;
}

static void simple_free(simple_processor *sp) {
  pthread_mutex_destroy(&sp->lock);
  rpct__free(sp->has_alloc ? &sp->alloc : NULL, sp);
}

static void simple_destroy(void *impl) {
  simple_processor *sp = impl;
  rpct_exporter_del(sp->exporter);
  simple_free(sp);
}

/* Return conventions are those of rpct_processor_ops (export.h). */
static const rpct_processor_ops simple_ops = {
    .on_start = NULL,
    .on_end = simple_on_end,
    .force_flush = simple_force_flush,
    .shutdown = simple_shutdown,
    .stats = simple_stats,
    .destroy = simple_destroy,
};

int rpct_simple_processor_new(rpct_processor **out, rpct_exporter *exporter,
                              const rpct_allocator *alloc) {
  if (!out || !exporter) return RPCT_ERR_INVALID_ARGUMENT;
  simple_processor *sp = rpct__calloc(alloc, 1, sizeof *sp);
  if (!sp) return RPCT_ERR_NO_MEMORY;
  if (pthread_mutex_init(&sp->lock, NULL) != 0) {
    rpct__free(alloc, sp);
    return RPCT_ERR_NO_MEMORY;
  }
  if (alloc) {
    sp->alloc = *alloc;
    sp->has_alloc = true;
  }
  atomic_init(&sp->accepted, 0);
  atomic_init(&sp->exported, 0);
  atomic_init(&sp->rejected, 0);
  atomic_init(&sp->failed, 0);
  atomic_init(&sp->failed_exports, 0);
  atomic_init(&sp->dropped_shutdown, 0);
  rpct_processor *p;
  int r = rpct_processor_new(&p, &simple_ops, sp, alloc);
  if (r != RPCT_OK) {
    simple_free(sp); /* the exporter stays the caller's */
    return r;
  }
  sp->exporter = exporter;
  *out = p;
  return RPCT_OK;
}
