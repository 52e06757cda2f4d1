/*
 * In-memory exporter: keeps a copy of every span it receives, in order, so
 * tests can look at what was exported. A copy's resource and scope pointers
 * are the tracer's: they are valid only while the tracer lives.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "exporter_internal.h"
#include "internal.h"

typedef struct memory_exporter {
  rpct_allocator alloc;
  bool has_alloc;
  /* Guards spans, count and cap: the accessors may run on any thread while
   * a processor exports. */
  pthread_mutex_t lock;
  rpct_span_data *spans; /* cap records, the first count in use */
  size_t count;
  size_t cap;
  atomic_bool shut_down;
} memory_exporter;

static const rpct_allocator *mem_alloc(const memory_exporter *m) {
  return m->has_alloc ? &m->alloc : NULL;
}

/* Room for `more` records after the ones held; under lock. The allocator
 * has no realloc, so growing allocates anew and moves the records. */
static int reserve(memory_exporter *m, size_t more) {
  if (more > SIZE_MAX - m->count) return RPCT_ERR_NO_MEMORY;
  size_t need = m->count + more;
  if (need <= m->cap) return RPCT_OK;
  size_t cap = m->cap ? m->cap : 16;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  rpct_span_data *spans = rpct__calloc(mem_alloc(m), cap, sizeof *spans);
  if (!spans) return RPCT_ERR_NO_MEMORY;
  if (m->count) memcpy(spans, m->spans, m->count * sizeof *spans);
  rpct__free(mem_alloc(m), m->spans);
  m->spans = spans;
  m->cap = cap;
  return RPCT_OK;
}

static int mem_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  memory_exporter *m = impl;
  if (atomic_load(&m->shut_down)) return RPCT_ERR_STATE;
  pthread_mutex_lock(&m->lock);
  int r = reserve(m, n);
  if (r == RPCT_OK)
    for (size_t i = 0; i < n; i++) rpct_span_data_copy(&m->spans[m->count++], spans[i]);
  pthread_mutex_unlock(&m->lock);
  return r;
}

static int mem_shutdown(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  memory_exporter *m = impl;
  atomic_store(&m->shut_down, true);
  return RPCT_OK;
}

static void mem_free(memory_exporter *m) {
  rpct__free(mem_alloc(m), m->spans);
  pthread_mutex_destroy(&m->lock);
  rpct__free(mem_alloc(m), m);
}

static void mem_destroy(void *impl) { mem_free(impl); }

/* Return conventions are those of rpct_exporter_ops (export.h). Spans held
 * stay readable after shutdown; only new exports fail. */
static const rpct_exporter_ops memory_ops = {
    .export_spans = mem_export,
    .force_flush = NULL,
    .shutdown = mem_shutdown,
    .destroy = mem_destroy,
};

int rpct_memory_exporter_new(rpct_exporter **out, const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  memory_exporter *m = rpct__calloc(alloc, 1, sizeof *m);
  if (!m) return RPCT_ERR_NO_MEMORY;
  if (pthread_mutex_init(&m->lock, NULL) != 0) {
    rpct__free(alloc, m);
    return RPCT_ERR_NO_MEMORY;
  }
  if (alloc) {
    m->alloc = *alloc;
    m->has_alloc = true;
  }
  atomic_init(&m->shut_down, false);
  int r = rpct_exporter_new(out, &memory_ops, m, alloc);
  if (r != RPCT_OK) mem_free(m);
  return r;
}

/* The memory exporter behind `e`, or NULL when `e` is something else. */
static memory_exporter *as_memory(const rpct_exporter *e) {
  if (!e || rpct__exporter_ops(e) != &memory_ops) return NULL;
  return rpct__exporter_impl(e);
}

size_t rpct_memory_exporter_count(const rpct_exporter *e) {
  memory_exporter *m = as_memory(e);
  if (!m) return 0;
  pthread_mutex_lock(&m->lock);
  size_t n = m->count;
  pthread_mutex_unlock(&m->lock);
  return n;
}

int rpct_memory_exporter_get(const rpct_exporter *e, size_t i, rpct_span_data *out) {
  memory_exporter *m = as_memory(e);
  if (!m || !out) return RPCT_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&m->lock);
  int r = RPCT_ERR_NOT_FOUND;
  if (i < m->count) {
    rpct_span_data_copy(out, &m->spans[i]);
    r = RPCT_OK;
  }
  pthread_mutex_unlock(&m->lock);
  return r;
}

void rpct_memory_exporter_clear(rpct_exporter *e) {
  memory_exporter *m = as_memory(e);
  if (!m) return;
  pthread_mutex_lock(&m->lock);
  /* Give the memory back: a test that clears between phases should not keep
   * the high-water mark of the previous one. */
  rpct__free(mem_alloc(m), m->spans);
  m->spans = NULL;
  m->count = 0;
  m->cap = 0;
  pthread_mutex_unlock(&m->lock);
}
