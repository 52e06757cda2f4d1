/*
 * The processor handle: one vtable in front of every span processor. The
 * handle, not each processor, enforces "shutdown once".
 */
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

struct rpct_processor {
  const rpct_processor_ops *ops; /* borrowed */
  void *impl;                    /* owned: ops->destroy frees it */
  rpct_allocator alloc;          /* copy of the constructor's allocator */
  bool has_alloc;                /* false: malloc */
  atomic_bool shut_down;         /* set once by the first rpct_processor_shutdown */
};

int rpct_processor_new(rpct_processor **out, const rpct_processor_ops *ops, void *impl,
                       const rpct_allocator *alloc) {
  if (!out || !ops || !ops->on_end) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_processor *p = rpct__calloc(alloc, 1, sizeof *p);
  if (!p) return RPCT_ERR_NO_MEMORY;
  p->ops = ops;
  p->impl = impl;
  if (alloc) {
    p->alloc = *alloc;
    p->has_alloc = true;
  }
  atomic_init(&p->shut_down, false);
  *out = p;
  return RPCT_OK;
}

void rpct__processor_on_start(rpct_processor *p, rpct_span *span) {
  if (p && p->ops->on_start) p->ops->on_start(p->impl, span);
}

void rpct__processor_on_end(rpct_processor *p, const rpct_span_data *d) {
  if (p && d) p->ops->on_end(p->impl, d);
}

int rpct_processor_force_flush(rpct_processor *p, uint32_t timeout_ms) {
  if (!p) return RPCT_ERR_INVALID_ARGUMENT;
  return p->ops->force_flush ? p->ops->force_flush(p->impl, timeout_ms) : RPCT_OK;
}

int rpct_processor_shutdown(rpct_processor *p, uint32_t timeout_ms) {
  if (!p) return RPCT_ERR_INVALID_ARGUMENT;
  if (atomic_exchange(&p->shut_down, true)) return RPCT_ERR_STATE;
  return p->ops->shutdown ? p->ops->shutdown(p->impl, timeout_ms) : RPCT_OK;
}

void rpct_processor_get_stats(rpct_processor *p, rpct_processor_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (p && p->ops->stats) p->ops->stats(p->impl, out);
}

void rpct_processor_del(rpct_processor *p) {
  if (!p) return;
  if (p->ops->destroy) p->ops->destroy(p->impl);
  rpct__free(p->has_alloc ? &p->alloc : NULL, p);
}
