/*
 * The exporter handle: one vtable (export, force_flush, shutdown, destroy)
 * in front of every exporter, built-in or the user's. Also the names of span
 * kinds and status codes that exporters write.
 */
#include "exporter_internal.h"
#include "internal.h"

struct rpct_exporter {
  const rpct_exporter_ops *ops; /* borrowed */
  void *impl;                   /* owned: ops->destroy frees it */
  rpct_allocator alloc;         /* copy of the constructor's allocator */
  bool has_alloc;               /* false: malloc */
};

static const rpct_allocator *exporter_alloc(const rpct_exporter *e) {
  return e->has_alloc ? &e->alloc : NULL;
}

int rpct_exporter_new(rpct_exporter **out, const rpct_exporter_ops *ops, void *impl,
                      const rpct_allocator *alloc) {
  if (!out || !ops || !ops->export_spans) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_exporter *e = rpct__calloc(alloc, 1, sizeof *e);
  if (!e) return RPCT_ERR_NO_MEMORY;
  e->ops = ops;
  e->impl = impl;
  if (alloc) {
    e->alloc = *alloc;
    e->has_alloc = true;
  }
  *out = e;
  return RPCT_OK;
}

int rpct_exporter_export(rpct_exporter *e, const rpct_span_data *const *spans, size_t n) {
  if (!e || (!spans && n > 0)) return RPCT_ERR_INVALID_ARGUMENT;
  if (n == 0) return 0;
  int r = e->ops->export_spans(e->impl, spans, n);
  /* Callers compute exported = n - rejected: keep that from going below 0
   * whatever a user exporter returns (r > n implies n fits an int). */
  if (r > 0 && (size_t)r > n) r = (int)n;
  return r;
}

int rpct_exporter_force_flush(rpct_exporter *e, uint32_t timeout_ms) {
  if (!e) return RPCT_ERR_INVALID_ARGUMENT;
  return e->ops->force_flush ? e->ops->force_flush(e->impl, timeout_ms) : RPCT_OK;
}

int rpct_exporter_shutdown(rpct_exporter *e, uint32_t timeout_ms) {
  if (!e) return RPCT_ERR_INVALID_ARGUMENT;
  return e->ops->shutdown ? e->ops->shutdown(e->impl, timeout_ms) : RPCT_OK;
}

void rpct_exporter_del(rpct_exporter *e) {
  if (!e) return;
  if (e->ops->destroy) e->ops->destroy(e->impl);
  rpct__free(exporter_alloc(e), e);
}

const rpct_exporter_ops *rpct__exporter_ops(const rpct_exporter *e) { return e->ops; }

void *rpct__exporter_impl(const rpct_exporter *e) { return e->impl; }

/* Names as in the OTLP enums without their prefixes; an unknown value is
 * written as the enum's zero value, which is what an OTLP receiver would
 * make of it. */
const char *rpct__span_kind_name(int kind) {
  static const char *const names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                      "CLIENT",      "PRODUCER", "CONSUMER"};
  if (kind < 0 || (size_t)kind >= RPCT__ARRAY_LEN(names)) return names[0];
  return names[kind];
}

const char *rpct__status_code_name(int code) {
  static const char *const names[] = {"UNSET", "OK", "ERROR"};
  if (code < 0 || (size_t)code >= RPCT__ARRAY_LEN(names)) return names[0];
  return names[code];
}
