/* Helpers shared by the unit tests: diagnostics capture, a counting and
 * failing allocator, a tracer that records into a memory exporter. */
#ifndef RPCT_TEST_UTIL_H
#define RPCT_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpctrace/rpctrace.h"

/* ---- diagnostics ---- */
static char tu_diag[8192];      /* every message since tu_diag_begin, each + '\n' */
static char tu_diag_last[1024]; /* the latest message alone, no '\n' */
static int tu_diag_count;

static inline void tu_diag_capture(void *data, const char *msg) {
  (void)data;
  size_t used = strlen(tu_diag);
  snprintf(tu_diag + used, sizeof tu_diag - used, "%s\n", msg);
  snprintf(tu_diag_last, sizeof tu_diag_last, "%s", msg);
  tu_diag_count++;
}

/* Start capturing (again) from nothing; forget which messages were
 * reported once. */
void rpct__diag_reset_once(void);
static inline void tu_diag_begin(void) {
  tu_diag[0] = '\0';
  tu_diag_last[0] = '\0';
  tu_diag_count = 0;
  rpct__diag_reset_once();
  rpct_set_diag_handler(tu_diag_capture, NULL);
}
static inline void tu_diag_end(void) { rpct_set_diag_handler(NULL, NULL); }

/* ---- an allocator that counts, and fails from the fail_at-th call on
 * (or, with fail_only, at the fail_at-th call alone) ---- */
typedef struct tu_alloc_state {
  long calls;    /* alloc calls so far (failed ones too) */
  long fail_at;  /* index of the first call that fails; -1: never fail */
  long live;     /* allocations not yet freed */
  int fail_only; /* nonzero: only call fail_at fails, later ones succeed */
} tu_alloc_state;

static inline void *tu_alloc_fn(void *data, size_t size) {
  tu_alloc_state *st = data;
  long n = st->calls++;
  if (st->fail_at >= 0 && (st->fail_only ? n == st->fail_at : n >= st->fail_at)) return NULL;
  void *p = malloc(size);
  if (p) st->live++;
  return p;
}

static inline void tu_free_fn(void *data, void *p) {
  tu_alloc_state *st = data;
  if (p) st->live--;
  free(p);
}

static inline rpct_allocator tu_allocator(tu_alloc_state *st) {
  return (rpct_allocator){.alloc = tu_alloc_fn, .free = tu_free_fn, .data = st};
}

/* Make the next call fail, and only that one. */
static inline void tu_alloc_fail_next(tu_alloc_state *st) {
  st->fail_at = st->calls;
  st->fail_only = 1;
}

/* ---- a tracer recording every sampled span into a memory exporter ---- */
typedef struct tu_tracer {
  rpct_tracer *tracer;
  rpct_exporter *memory; /* owned by the tracer's processor */
} tu_tracer;

/* `sampler` NULL: always_on. `limits` NULL: defaults. */
static inline tu_tracer tu_tracer_new(rpct_sampler *sampler, const rpct_span_limits *limits) {
  tu_tracer t = {0};
  rpct_processor *proc = NULL;
  rpct_resource *res = NULL;
  rpct_tracer_options *o = NULL;
  if (!sampler && rpct_sampler_always_on_new(&sampler, NULL) != RPCT_OK) abort();
  if (rpct_memory_exporter_new(&t.memory, NULL) != RPCT_OK) abort();
  if (rpct_simple_processor_new(&proc, t.memory, NULL) != RPCT_OK) abort();
  if (rpct_resource_new(&res, NULL) != RPCT_OK) abort();
  if (rpct_resource_set(res, "service.name", "unit-test") != RPCT_OK) abort();
  if (rpct_tracer_options_new(&o) != RPCT_OK) abort();
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, proc);
  rpct_tracer_options_set_resource(o, res);
  if (limits) rpct_tracer_options_set_span_limits(o, limits);
  if (rpct_tracer_new(&t.tracer, o) != RPCT_OK) abort();
  rpct_tracer_options_del(o);
  return t;
}

static inline void tu_hex(const uint8_t *b, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
  out[2 * n] = '\0';
}

/* ---- table tests ---- */

/* Fails the test naming the case when a return code is not the expected
 * one. Needs <cmocka.h> included before this header. */
static inline void tu_expect_rc(const char *name, int got, int want) {
  if (got != want)
    fail_msg("%s: returned %d (%s), want %d (%s)", name, got, rpct_strerror(got), want,
             rpct_strerror(want));
}

#endif /* RPCT_TEST_UTIL_H */
