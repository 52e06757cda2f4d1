/*
 * The processor handle: one vtable in front of every span processor. The
 * handle, not each processor, enforces "shutdown once", and what a forked
 * child may do with a processor it inherited.
 *
 * fork(): a child inherits the processor's memory but not its threads, and
 * its locks, condition variables and exporter connections (a gRPC channel
 * of the parent's gRPC core) may be in any state the parent's threads left
 * them in. No processor implementation could use them safely, so the
 * handle never calls one in a child: a pthread_atfork handler marks every
 * handle that exists at fork() as inherited, and from then on, in the
 * child, on_end drops each span and counts it (reported as
 * dropped_shutdown), force_flush and shutdown return RPCT_OK at once, and
 * del frees nothing (the processor stays on the list below, reachable, so
 * that leak checkers in the child stay quiet). stats still reads the
 * processor's counters: the built-in processors read only atomics there.
 * The child's export is off, and says so in its counters; the parent's
 * queue, exported by the parent, is never exported twice. Processors made
 * in the child are new and work as usual.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "deferred.h"
#include "internal.h"

struct rpct_processor {
  const rpct_processor_ops *ops; /* borrowed */
  void *impl;                    /* owned: ops->destroy frees it */
  rpct_allocator alloc;          /* copy of the constructor's allocator */
  bool has_alloc;                /* false: malloc */
  atomic_bool shut_down;         /* set once by the first rpct_processor_shutdown */
  /* Set by the atfork child handler, in the child only (single-threaded
   * then), so every later reader in the child sees it. Read on every span:
   * it shares the cache line of `ops`, which on_end reads anyway. */
  atomic_bool inherited;
  atomic_uint_fast64_t dropped_inherited; /* spans dropped in a forked child */
  /* Set by a built-in processor that queues deferred records as they are
   * (rpct__processor_set_deferred), before the handle is shared. */
  void (*on_end_deferred)(void *impl, const rpct__deferred *d);
  /* The list of live handles, under `registry_lock`. */
  struct rpct_processor *prev, *next;
};

/* Every live handle, so that the atfork child handler can find them.
 * Written by rpct_processor_new/_del under registry_lock; the prepare
 * handler takes the lock so the child inherits a consistent list. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static rpct_processor *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&registry_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&registry_lock); }

static void fork_child(void) {
  /* The child has one thread, this one: re-initialising is safe, and
   * needed, since the lock was taken by the parent's thread. */
  pthread_mutex_init(&registry_lock, NULL);
  for (rpct_processor *p = registry; p; p = p->next)
    atomic_store_explicit(&p->inherited, true, memory_order_relaxed);
}

static void register_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

int rpct_processor_new(rpct_processor **out, const rpct_processor_ops *ops, void *impl,
                       const rpct_allocator *alloc) {
  if (!out || !ops || !ops->on_end) return RPCT_ERR_INVALID_ARGUMENT;
  pthread_once(&atfork_once, register_atfork);
  rpct_processor *p = rpct__calloc(alloc, 1, sizeof *p);
  if (!p) return RPCT_ERR_NO_MEMORY;
  p->ops = ops;
  p->impl = impl;
  if (alloc) {
    p->alloc = *alloc;
    p->has_alloc = true;
  }
  atomic_init(&p->shut_down, false);
  atomic_init(&p->inherited, false);
  atomic_init(&p->dropped_inherited, 0);
  pthread_mutex_lock(&registry_lock);
  p->next = registry;
  if (registry) registry->prev = p;
  registry = p;
  pthread_mutex_unlock(&registry_lock);
  *out = p;
  return RPCT_OK;
}

static bool inherited(const rpct_processor *p) {
  return atomic_load_explicit(&p->inherited, memory_order_relaxed);
}

void rpct__processor_on_start(rpct_processor *p, rpct_span *span) {
  if (p && p->ops->on_start && !inherited(p)) p->ops->on_start(p->impl, span);
}

void rpct__processor_on_end(rpct_processor *p, const rpct_span_data *d) {
  if (!p || !d) return;
  if (RPCT__UNLIKELY(inherited(p))) {
    /* Counted as the built-in processors count: sampled spans only. */
    if (d->flags & RPCT_TRACE_FLAG_SAMPLED)
      atomic_fetch_add_explicit(&p->dropped_inherited, 1, memory_order_relaxed);
    return;
  }
  p->ops->on_end(p->impl, d);
}

void rpct__processor_set_deferred(rpct_processor *p,
                                  void (*fn)(void *impl, const rpct__deferred *d)) {
  p->on_end_deferred = fn;
}

void rpct__processor_on_end_deferred(rpct_processor *p, const rpct__deferred *d) {
  if (!p || !d) return;
  if (RPCT__UNLIKELY(inherited(p))) {
    if (d->flags & RPCT_TRACE_FLAG_SAMPLED)
      atomic_fetch_add_explicit(&p->dropped_inherited, 1, memory_order_relaxed);
    return;
  }
  if (p->on_end_deferred) {
    p->on_end_deferred(p->impl, d);
    return;
  }
  /* Any other processor sees spans as records: build it here, on the
   * thread that ended it. */
  rpct_span scratch;
  rpct__deferred_materialize(d, &scratch);
  p->ops->on_end(p->impl, &scratch.data_);
}

int rpct_processor_force_flush(rpct_processor *p, uint32_t timeout_ms) {
  if (!p) return RPCT_ERR_INVALID_ARGUMENT;
  if (inherited(p)) return RPCT_OK; /* nothing of this process to deliver */
  return p->ops->force_flush ? p->ops->force_flush(p->impl, timeout_ms) : RPCT_OK;
}

int rpct_processor_shutdown(rpct_processor *p, uint32_t timeout_ms) {
  if (!p) return RPCT_ERR_INVALID_ARGUMENT;
  if (atomic_exchange(&p->shut_down, true)) return RPCT_ERR_STATE;
  if (inherited(p)) return RPCT_OK;
  return p->ops->shutdown ? p->ops->shutdown(p->impl, timeout_ms) : RPCT_OK;
}

void rpct_processor_get_stats(rpct_processor *p, rpct_processor_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!p) return;
  if (p->ops->stats) p->ops->stats(p->impl, out);
  out->dropped_shutdown += atomic_load_explicit(&p->dropped_inherited, memory_order_relaxed);
}

void rpct_processor_del(rpct_processor *p) {
  if (!p) return;
  pthread_mutex_lock(&registry_lock);
  bool keep = inherited(p);
  if (!keep) {
    if (p->prev)
      p->prev->next = p->next;
    else
      registry = p->next;
    if (p->next) p->next->prev = p->prev;
  }
  pthread_mutex_unlock(&registry_lock);
  if (keep) return;
  if (p->ops->destroy) p->ops->destroy(p->impl);
  rpct__free(p->has_alloc ? &p->alloc : NULL, p);
}
