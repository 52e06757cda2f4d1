/* The batch span processor (src/export/batch_processor.c): options and
 * OTEL_BSP_*, when batches are exported, force_flush and shutdown with
 * their timeouts, dropping and counting, concurrency, allocation. */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "test_util.h"

#define LONG_DELAY_MS 60000u /* never reached by a test: exports come from batch size or flush */
#define WAIT_MS 5000         /* how long a test waits for something that must happen */

static const char *const bsp_vars[] = {"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY",
                                       "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT"};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- span records made by hand: a unique span id each ---- */

static void span_set_id(rpct_span_data *d, uint64_t id) {
  for (int i = 0; i < 8; i++) d->span_id.bytes[i] = (uint8_t)(id >> (56 - 8 * i));
}

static uint64_t span_id_of(const rpct_span_data *d) {
  uint64_t id = 0;
  for (int i = 0; i < 8; i++) id = id << 8 | d->span_id.bytes[i];
  return id;
}

static void span_init(rpct_span_data *d, uint64_t id, bool sampled) {
  memset(d, 0, sizeof *d);
  d->trace_id.bytes[15] = 1;
  span_set_id(d, id);
  d->flags = sampled ? RPCT_TRACE_FLAG_SAMPLED : 0;
  d->kind = RPCT_SPAN_KIND_CLIENT;
  d->start_unix_ns = 1;
  d->end_unix_ns = 2;
}

/* Offer sampled spans with ids first, first + 1, ... */
static void offer(rpct_processor *p, uint64_t first, size_t n) {
  rpct_span_data d;
  span_init(&d, first, true);
  for (size_t i = 0; i < n; i++) {
    span_set_id(&d, first + i);
    rpct__processor_on_end(p, &d);
  }
}

/* ---- a user exporter that records span ids, blocks, fails on demand ---- */

typedef struct rec_exporter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool block;    /* export calls wait while this is set */
  int entered;   /* export calls begun */
  int calls;     /* export calls returned */
  uint64_t *ids; /* span ids received, in order */
  size_t n_ids, cap_ids;
  size_t sizes[16]; /* sizes of the first batches */
  int results[8];   /* returned by successive calls; 0 after n_results */
  size_t n_results;
  double first_export_ms; /* now_ms() when the first export began */
  int flushes;
  int shutdowns;
  uint32_t shutdown_timeout_ms;
  int destroyed;
} rec_exporter;

static void rec_init(rec_exporter *r, size_t cap_ids) {
  memset(r, 0, sizeof *r);
  assert_int_equal(pthread_mutex_init(&r->mu, NULL), 0);
  assert_int_equal(pthread_cond_init(&r->cv, NULL), 0);
  r->cap_ids = cap_ids;
  r->ids = calloc(cap_ids, sizeof *r->ids);
  assert_non_null(r->ids);
}

static void rec_fini(rec_exporter *r) {
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  free(r->ids);
}

static int rec_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  rec_exporter *r = impl;
  pthread_mutex_lock(&r->mu);
  if (r->entered == 0) r->first_export_ms = now_ms();
  r->entered++;
  pthread_cond_broadcast(&r->cv);
  while (r->block) pthread_cond_wait(&r->cv, &r->mu);
  for (size_t i = 0; i < n && r->n_ids < r->cap_ids; i++) r->ids[r->n_ids++] = span_id_of(spans[i]);
  if ((size_t)r->calls < RPCT__ARRAY_LEN(r->sizes)) r->sizes[r->calls] = n;
  int result = (size_t)r->calls < r->n_results ? r->results[r->calls] : 0;
  r->calls++;
  pthread_mutex_unlock(&r->mu);
  return result;
}

static int rec_flush(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  rec_exporter *r = impl;
  pthread_mutex_lock(&r->mu);
  r->flushes++;
  pthread_mutex_unlock(&r->mu);
  return RPCT_OK;
}

static int rec_shutdown(void *impl, uint32_t timeout_ms) {
  rec_exporter *r = impl;
  pthread_mutex_lock(&r->mu);
  r->shutdowns++;
  r->shutdown_timeout_ms = timeout_ms;
  pthread_mutex_unlock(&r->mu);
  return RPCT_OK;
}

static void rec_destroy(void *impl) {
  rec_exporter *r = impl;
  pthread_mutex_lock(&r->mu);
  r->destroyed++;
  pthread_mutex_unlock(&r->mu);
}

static const rpct_exporter_ops rec_ops = {
    .export_spans = rec_export,
    .force_flush = rec_flush,
    .shutdown = rec_shutdown,
    .destroy = rec_destroy,
};

static void rec_set_block(rec_exporter *r, bool block) {
  pthread_mutex_lock(&r->mu);
  r->block = block;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* Getters reading one field of `r` under its lock. */
#define REC_GETTER(type, field)              \
  static type rec_##field(rec_exporter *r) { \
    pthread_mutex_lock(&r->mu);              \
    type v = r->field;                       \
    pthread_mutex_unlock(&r->mu);            \
    return v;                                \
  }
REC_GETTER(int, calls)
REC_GETTER(int, entered)
REC_GETTER(int, flushes)
REC_GETTER(size_t, n_ids)
REC_GETTER(uint32_t, shutdown_timeout_ms)
#undef REC_GETTER

/* Poll until `cond` (an expression read under r->mu) holds, up to WAIT_MS. */
static bool rec_wait(rec_exporter *r, bool (*cond)(const rec_exporter *, size_t), size_t n) {
  double end = now_ms() + WAIT_MS;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    bool ok = cond(r, n);
    pthread_mutex_unlock(&r->mu);
    if (ok) return true;
    if (now_ms() > end) return false;
    sleep_ms(1);
  }
}

static bool has_entered(const rec_exporter *r, size_t n) { return (size_t)r->entered >= n; }
static bool has_ids(const rec_exporter *r, size_t n) { return r->n_ids >= n; }
static bool has_shut_down(const rec_exporter *r, size_t n) { return (size_t)r->shutdowns >= n; }
static bool has_calls(const rec_exporter *r, size_t n) { return (size_t)r->calls >= n; }

/* The ids received are exactly first, first + 1, ..., first + n - 1 from
 * position `at` on. */
static void assert_ids(rec_exporter *r, size_t at, uint64_t first, size_t n) {
  pthread_mutex_lock(&r->mu);
  size_t have = r->n_ids;
  pthread_mutex_unlock(&r->mu);
  assert_true(at + n <= have);
  for (size_t i = 0; i < n; i++) assert_int_equal(r->ids[at + i], first + i);
}

/* ---- processors ---- */

static rpct_processor *bsp_new(rec_exporter *r, uint32_t queue, uint32_t batch, uint32_t delay_ms) {
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &rec_ops, r, NULL), RPCT_OK);
  rpct_batch_options o = {
      .max_queue_size = queue, .schedule_delay_ms = delay_ms, .max_export_batch_size = batch};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_batch_processor_new(&p, e, &o, NULL), RPCT_OK);
  return p;
}

/* Every counter as expected, and accepted = exported + rejected + failed +
 * queued. */
typedef struct want {
  uint64_t accepted, dropped_full, dropped_shutdown, exported, rejected, failed, queued,
      failed_exports;
} want;

static void assert_stats(rpct_processor *p, want w) {
  rpct_processor_stats s;
  rpct_processor_get_stats(p, &s);
  assert_int_equal(s.accepted, w.accepted);
  assert_int_equal(s.dropped_full, w.dropped_full);
  assert_int_equal(s.dropped_shutdown, w.dropped_shutdown);
  assert_int_equal(s.exported, w.exported);
  assert_int_equal(s.rejected, w.rejected);
  assert_int_equal(s.failed, w.failed);
  assert_int_equal(s.queued, w.queued);
  assert_int_equal(s.failed_exports, w.failed_exports);
  assert_int_equal(s.accepted, s.exported + s.rejected + s.failed + s.queued);
}

/* The processor counts a batch just after its export returns: poll for it. */
static void wait_exported(rpct_processor *p, uint64_t n) {
  double end = now_ms() + WAIT_MS;
  rpct_processor_stats s;
  for (rpct_processor_get_stats(p, &s); s.exported < n; rpct_processor_get_stats(p, &s)) {
    assert_true(now_ms() < end);
    sleep_ms(1);
  }
}

static int setup_env(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(bsp_vars); i++) unsetenv(bsp_vars[i]);
  tu_diag_begin();
  return 0;
}

static int teardown_env(void **state) {
  (void)state;
  tu_diag_end();
  for (size_t i = 0; i < RPCT__ARRAY_LEN(bsp_vars); i++) unsetenv(bsp_vars[i]);
  return 0;
}

/* ==== options ==== */

static void assert_options(const rpct_batch_options *o, uint32_t queue, uint32_t delay,
                           uint32_t batch, uint32_t timeout) {
  assert_int_equal(o->max_queue_size, queue);
  assert_int_equal(o->schedule_delay_ms, delay);
  assert_int_equal(o->max_export_batch_size, batch);
  assert_int_equal(o->export_timeout_ms, timeout);
}

static void test_options_from_env_are_the_specification_defaults_when_unset(void **state) {
  (void)state;
  rpct_batch_options o;
  memset(&o, 0xff, sizeof o);
  rpct_batch_options_from_env(&o);
  assert_options(&o, 2048, 5000, 512, 30000);
  assert_int_equal(tu_diag_count, 0);
  rpct_batch_options_from_env(NULL); /* ignored */
}

static void test_options_from_env_reads_valid_values_silently(void **state) {
  (void)state;
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", " 100 ", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "250", 1);
  setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100", 1);
  setenv("OTEL_BSP_EXPORT_TIMEOUT", "1234", 1);
  rpct_batch_options o;
  rpct_batch_options_from_env(&o);
  assert_options(&o, 100, 250, 100, 1234);
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1048576", 1); /* the largest accepted */
  setenv("OTEL_BSP_SCHEDULE_DELAY", "1", 1);       /* the smallest */
  setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1", 1);
  setenv("OTEL_BSP_EXPORT_TIMEOUT", "4294967295", 1);
  rpct_batch_options_from_env(&o);
  assert_options(&o, 1048576, 1, 1, 4294967295u);
  assert_int_equal(tu_diag_count, 0);
}

static void test_options_from_env_reports_invalid_value_once_and_uses_default(void **state) {
  (void)state;
  static const struct {
    const char *var, *value, *range;
    uint32_t def;
  } cases[] = {
      {"OTEL_BSP_MAX_QUEUE_SIZE", "0", "[1, 1048576]", 2048},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "1048577", "[1, 1048576]", 2048},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "lots", "[1, 1048576]", 2048},
      {"OTEL_BSP_SCHEDULE_DELAY", "0", "[1, 4294967295]", 5000},
      {"OTEL_BSP_SCHEDULE_DELAY", "-5", "[1, 4294967295]", 5000},
      {"OTEL_BSP_SCHEDULE_DELAY", "5s", "[1, 4294967295]", 5000},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0", "[1, 1048576]", 512},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1e3", "[1, 1048576]", 512},
      {"OTEL_BSP_EXPORT_TIMEOUT", "4294967296", "[1, 4294967295]", 30000},
      {"OTEL_BSP_EXPORT_TIMEOUT", "1.5", "[1, 4294967295]", 30000},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(cases); i++) {
    tu_diag_begin();
    setenv(cases[i].var, cases[i].value, 1);
    rpct_batch_options o;
    rpct_batch_options_from_env(&o);
    rpct_batch_options_from_env(&o); /* the second read is silent */
    unsetenv(cases[i].var);
    assert_options(&o, 2048, 5000, 512, 30000);
    char want_msg[256];
    snprintf(want_msg, sizeof want_msg, "%s=\"%s\" is not an integer in %s; using the default %u",
             cases[i].var, cases[i].value, cases[i].range, (unsigned)cases[i].def);
    assert_int_equal(tu_diag_count, 1);
    assert_string_equal(tu_diag_last, want_msg);
  }
}

static void test_options_from_env_lower_batch_above_queue_and_report_once(void **state) {
  (void)state;
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100", 1);
  setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "600", 1);
  rpct_batch_options o;
  rpct_batch_options_from_env(&o);
  assert_options(&o, 100, 5000, 100, 30000);
  rpct_batch_options_from_env(&o);
  assert_options(&o, 100, 5000, 100, 30000);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "the export batch size 600 (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) is above the "
                      "queue size 100 (OTEL_BSP_MAX_QUEUE_SIZE); using 100");
}

/* With a blocked exporter, what the first export holds shows the batch
 * size and what is then accepted shows the queue size. */
static void assert_batch_and_queue_size(rpct_processor *p, rec_exporter *r, uint32_t batch,
                                        uint32_t queue) {
  rec_set_block(r, true);
  offer(p, 1, batch);
  assert_true(rec_wait(r, has_entered, 1));
  offer(p, 1000, queue + 5);
  assert_stats(p, (want){.accepted = batch + queue, .dropped_full = 5, .queued = batch + queue});
  rec_set_block(r, false);
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_int_equal(r->sizes[0], batch);
  assert_ids(r, 0, 1, batch);
  assert_ids(r, batch, 1000, queue);
  assert_stats(p, (want){.accepted = batch + queue, .dropped_full = 5, .exported = batch + queue});
}

static void test_new_without_options_reads_env(void **state) {
  (void)state;
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", "6", 1);
  setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "60000", 1);
  rec_exporter r;
  rec_init(&r, 64);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &rec_ops, &r, NULL), RPCT_OK);
  rpct_processor *p = NULL;
  assert_int_equal(rpct_batch_processor_new(&p, e, NULL, NULL), RPCT_OK);
  assert_batch_and_queue_size(p, &r, 4, 6);
  rpct_processor_del(p);
  assert_int_equal(r.destroyed, 1);
  assert_int_equal(tu_diag_count, 0);
  rec_fini(&r);
}

static void test_new_gives_zero_fields_defaults_and_lowers_batch_to_queue(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &rec_ops, &r, NULL), RPCT_OK);
  /* Batch 512 (default) > queue 3: lowered to 3. The 5 s default delay is
   * far longer than the wait for the first export, so it comes from the
   * batch size. */
  rpct_batch_options o = {.max_queue_size = 3};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_batch_processor_new(&p, e, &o, NULL), RPCT_OK);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last,
                      "the export batch size 512 (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) is above the "
                      "queue size 3 (OTEL_BSP_MAX_QUEUE_SIZE); using 3");
  assert_batch_and_queue_size(p, &r, 3, 3);
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_new_rejects_null_arguments_and_keeps_out(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 1);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &rec_ops, &r, NULL), RPCT_OK);
  rpct_processor *sentinel = (rpct_processor *)&r, *p = sentinel;
  assert_int_equal(rpct_batch_processor_new(NULL, e, NULL, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_batch_processor_new(&p, NULL, NULL, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(p, sentinel);
  assert_int_equal(r.destroyed, 0);
  rpct_exporter_del(e);
  assert_int_equal(r.destroyed, 1);
  rec_fini(&r);
}

/* ==== when batches go out ==== */

static void test_exports_when_batch_size_is_reached_before_the_delay(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_ids, 4));
  wait_exported(p, 4);
  assert_int_equal(rec_calls(&r), 1);
  assert_int_equal(r.sizes[0], 4);
  assert_ids(&r, 0, 1, 4);
  /* Three more stay queued: neither a full batch nor the delay. */
  offer(p, 5, 3);
  sleep_ms(150);
  assert_int_equal(rec_n_ids(&r), 4);
  assert_stats(p, (want){.accepted = 7, .exported = 4, .queued = 3});
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_ids(&r, 4, 5, 3);
  assert_stats(p, (want){.accepted = 7, .exported = 7});
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_exports_a_partial_batch_after_the_schedule_delay(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  double created = now_ms();
  rpct_processor *p = bsp_new(&r, 64, 32, 150);
  offer(p, 1, 3);
  assert_true(rec_wait(&r, has_ids, 3));
  double after = r.first_export_ms - created;
  assert_true(after >= 150.0);
  assert_true(after < 150.0 + 2000.0);
  assert_int_equal(r.sizes[0], 3);
  assert_ids(&r, 0, 1, 3);
  wait_exported(p, 3);
  assert_stats(p, (want){.accepted = 3, .exported = 3});
  rpct_processor_del(p);
  rec_fini(&r);
}

/* ==== force_flush ==== */

static void test_force_flush_exports_everything_queued_and_returns_ok(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 1024);
  rpct_processor *p = bsp_new(&r, 1024, 512, LONG_DELAY_MS);
  offer(p, 1, 700);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_int_equal(r.n_ids, 700);
  assert_ids(&r, 0, 1, 700);
  assert_int_equal(r.flushes, 1); /* the exporter is flushed after the export */
  assert_stats(p, (want){.accepted = 700, .exported = 700});
  /* Nothing queued: still OK, and the exporter is flushed again. */
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_int_equal(rec_flushes(&r), 2);
  assert_int_equal(rec_calls(&r), 2); /* 512 + 188 */
  rpct_processor_del(p);
  assert_int_equal(r.shutdowns, 0);
  rec_fini(&r);
}

static void test_force_flush_times_out_while_the_exporter_is_blocked(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  rec_set_block(&r, true);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_entered, 1));
  offer(p, 5, 2);
  double start = now_ms();
  assert_int_equal(rpct_processor_force_flush(p, 200), RPCT_ERR_TIMEOUT);
  double took = now_ms() - start;
  assert_true(took >= 199.0);
  assert_true(took < 200.0 + 200.0);
  assert_stats(p, (want){.accepted = 6, .queued = 6});
  rec_set_block(&r, false);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_ids(&r, 0, 1, 6);
  assert_stats(p, (want){.accepted = 6, .exported = 6});
  rpct_processor_del(p);
  rec_fini(&r);
}

/* ==== dropping ==== */

static void test_full_queue_drops_and_counts_exactly(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 8, 8, LONG_DELAY_MS);
  rec_set_block(&r, true);
  offer(p, 1, 8); /* a full batch: taken out of the queue into the export */
  assert_true(rec_wait(&r, has_entered, 1));
  offer(p, 9, 20); /* 8 fit in the emptied queue, 12 do not */
  assert_stats(p, (want){.accepted = 16, .dropped_full = 12, .queued = 16});
  rec_set_block(&r, false);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_int_equal(r.n_ids, 16);
  assert_ids(&r, 0, 1, 16);
  assert_stats(p, (want){.accepted = 16, .dropped_full = 12, .exported = 16});
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_unsampled_spans_are_ignored(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 64, LONG_DELAY_MS);
  rpct_span_data d;
  for (uint64_t id = 1; id <= 5; id++) {
    span_init(&d, id, false);
    rpct__processor_on_end(p, &d);
  }
  offer(p, 6, 2);
  assert_stats(p, (want){.accepted = 2, .queued = 2});
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_int_equal(r.n_ids, 2);
  assert_ids(&r, 0, 6, 2);
  assert_stats(p, (want){.accepted = 2, .exported = 2});
  rpct_processor_del(p);
  rec_fini(&r);
}

/* ==== shutdown ==== */

static void test_shutdown_exports_queue_then_shuts_exporter_down_with_time_left(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 64, LONG_DELAY_MS);
  offer(p, 1, 5);
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_int_equal(r.n_ids, 5);
  assert_ids(&r, 0, 1, 5);
  assert_int_equal(r.shutdowns, 1);
  assert_true(r.shutdown_timeout_ms > WAIT_MS - 1000 && r.shutdown_timeout_ms <= WAIT_MS);
  assert_stats(p, (want){.accepted = 5, .exported = 5});
  rpct_processor_del(p);
  assert_int_equal(r.shutdowns, 1);
  assert_int_equal(r.destroyed, 1);
  rec_fini(&r);
}

static void test_spans_after_shutdown_are_counted_dropped_shutdown(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 64, LONG_DELAY_MS);
  offer(p, 1, 3);
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  offer(p, 4, 4);
  rpct_span_data d;
  span_init(&d, 99, false);
  rpct__processor_on_end(p, &d); /* unsampled: not counted at all */
  assert_stats(p, (want){.accepted = 3, .dropped_shutdown = 4, .exported = 3});
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_ERR_STATE);
  assert_int_equal(rpct_processor_force_flush(p, 100), RPCT_OK);
  assert_int_equal(r.shutdowns, 1);
  assert_int_equal(r.n_ids, 3);
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_shutdown_returns_within_its_timeout_when_the_exporter_hangs(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  rec_set_block(&r, true);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_entered, 1));
  offer(p, 5, 2);
  double start = now_ms();
  assert_int_equal(rpct_processor_shutdown(p, 300), RPCT_ERR_TIMEOUT);
  double took = now_ms() - start;
  assert_true(took >= 299.0);
  assert_true(took < 300.0 + 200.0);
  offer(p, 7, 1); /* refused at once, although the thread is still busy */
  assert_stats(p, (want){.accepted = 6, .dropped_shutdown = 1, .queued = 6});
  /* Out of time, the processor shut the exporter down under the hung
   * export, with no time (export.h: that makes an export return). */
  assert_true(rec_wait(&r, has_shut_down, 1));
  assert_int_equal(rec_shutdown_timeout_ms(&r), 0);
  assert_int_equal(rec_calls(&r), 0); /* this exporter ignores it: still hung */
  /* Released late, the export completes; the two spans left are past the
   * deadline and stay queued. */
  rec_set_block(&r, false);
  assert_true(rec_wait(&r, has_calls, 1));
  assert_int_equal(rec_calls(&r), 1);
  assert_ids(&r, 0, 1, 4);
  assert_stats(p, (want){.accepted = 6, .dropped_shutdown = 1, .exported = 4, .queued = 2});
  assert_int_equal(rpct_processor_force_flush(p, 100), RPCT_ERR_TIMEOUT);
  rpct_processor_del(p);
  assert_int_equal(r.destroyed, 1);
  rec_fini(&r);
}

/* Releases the exporter after a while, from another thread. */
static void *release_later(void *arg) {
  sleep_ms(100);
  rec_set_block(arg, false);
  return NULL;
}

static void test_del_waits_for_the_export_in_progress(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  rec_set_block(&r, true);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_entered, 1));
  offer(p, 5, 3); /* queued: discarded by del */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, release_later, &r), 0);
  rpct_processor_del(p);
  assert_int_equal(r.calls, 1); /* returned before the exporter was destroyed */
  assert_int_equal(r.destroyed, 1);
  assert_int_equal(r.shutdowns, 0); /* del does not shut down */
  assert_int_equal(r.n_ids, 4);
  assert_int_equal(pthread_join(t, NULL), 0);
  rec_fini(&r);
}

/* ==== export results ==== */

/* force_flush says whether what it waited for was delivered: a failed
 * export is RPCT_ERR_EXPORT; spans the receiver rejected were delivered. */
static void test_failed_and_rejected_exports_are_counted_and_flush_reports_failure(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  r.results[0] = RPCT_ERR_EXPORT;
  r.results[1] = 3; /* of 4 */
  r.results[2] = RPCT_ERR_IO;
  r.n_results = 3;
  /* A batch is 8 spans and 4 are offered each time: only the flush
   * exports them, so each failure happens while the flush waits. */
  rpct_processor *p = bsp_new(&r, 64, 8, LONG_DELAY_MS);
  offer(p, 1, 4);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_ERR_EXPORT);
  assert_stats(p, (want){.accepted = 4, .failed = 4, .failed_exports = 1});
  char want_msg[256];
  snprintf(want_msg, sizeof want_msg, "span export failed: %s (later failures are only counted)",
           rpct_strerror(RPCT_ERR_EXPORT));
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag_last, want_msg);
  offer(p, 5, 4);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_stats(
      p, (want){.accepted = 8, .exported = 1, .rejected = 3, .failed = 4, .failed_exports = 1});
  offer(p, 9, 4);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_ERR_EXPORT);
  assert_stats(
      p, (want){.accepted = 12, .exported = 1, .rejected = 3, .failed = 8, .failed_exports = 2});
  assert_int_equal(tu_diag_count, 1); /* later failures are only counted */
  rpct_processor_del(p);
  rec_fini(&r);
}

/* The processor counts a batch just after its export returns, or at its
 * deadline: poll for it. */
static void wait_failed(rpct_processor *p, uint64_t n) {
  double end = now_ms() + WAIT_MS;
  rpct_processor_stats s;
  for (rpct_processor_get_stats(p, &s); s.failed < n; rpct_processor_get_stats(p, &s)) {
    assert_true(now_ms() < end);
    sleep_ms(1);
  }
}

static rpct_processor *bsp_new_timeout(rec_exporter *r, uint32_t batch, uint32_t timeout_ms) {
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &rec_ops, r, NULL), RPCT_OK);
  rpct_batch_options o = {.max_queue_size = 64,
                          .schedule_delay_ms = LONG_DELAY_MS,
                          .max_export_batch_size = batch,
                          .export_timeout_ms = timeout_ms};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_batch_processor_new(&p, e, &o, NULL), RPCT_OK);
  return p;
}

/* The watchdog reports from its own thread while the test reads: a
 * handler with a lock (test_util.h's has none). */
static pthread_mutex_t wd_diag_lock = PTHREAD_MUTEX_INITIALIZER;
static int wd_diag_count;
static char wd_diag_last[1024];

static void wd_diag_capture(void *data, const char *msg) {
  (void)data;
  pthread_mutex_lock(&wd_diag_lock);
  wd_diag_count++;
  snprintf(wd_diag_last, sizeof wd_diag_last, "%s", msg);
  pthread_mutex_unlock(&wd_diag_lock);
}

/* Wait until `n` messages came (up to WAIT_MS); the count then. */
static int wd_diag_wait(int n) {
  double end = now_ms() + WAIT_MS;
  for (;;) {
    pthread_mutex_lock(&wd_diag_lock);
    int have = wd_diag_count;
    pthread_mutex_unlock(&wd_diag_lock);
    if (have >= n || now_ms() > end) return have;
    sleep_ms(1);
  }
}

static void wd_diag_begin(void) {
  pthread_mutex_lock(&wd_diag_lock);
  wd_diag_count = 0;
  wd_diag_last[0] = '\0';
  pthread_mutex_unlock(&wd_diag_lock);
  rpct_set_diag_handler(wd_diag_capture, NULL);
}

static const char abandoned_msg[] =
    "an export ran past the export timeout of 100 ms (OTEL_BSP_EXPORT_TIMEOUT): its 4 spans "
    "are counted failed, and the next batch waits for the exporter to return (later overruns "
    "are only counted)";

static void test_export_running_past_export_timeout_is_abandoned_and_counted_failed(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  wd_diag_begin();
  rpct_processor *p = bsp_new_timeout(&r, 4, 100);
  rec_set_block(&r, true);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_entered, 1));
  /* At its deadline, while the exporter still hangs, the batch is failed. */
  wait_failed(p, 4);
  pthread_mutex_lock(&r.mu);
  double took = now_ms() - r.first_export_ms;
  pthread_mutex_unlock(&r.mu);
  assert_true(took >= 99.0);
  assert_true(took < 100.0 + 400.0);
  assert_int_equal(rec_calls(&r), 0);
  assert_stats(p, (want){.accepted = 4, .failed = 4, .failed_exports = 1});
  assert_int_equal(wd_diag_wait(1), 1); /* reported just after it is counted */
  assert_string_equal(wd_diag_last, abandoned_msg);
  /* The queue still takes spans; they wait for the exporter to return. */
  offer(p, 5, 4);
  assert_stats(p, (want){.accepted = 8, .failed = 4, .queued = 4, .failed_exports = 1});
  /* When the hung call returns, its result ("all accepted") is ignored
   * and the processor goes on with the next batch. */
  rec_set_block(&r, false);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_stats(p, (want){.accepted = 8, .exported = 4, .failed = 4, .failed_exports = 1});
  assert_ids(&r, 0, 1, 8);
  /* A second overrun is counted, not reported again. */
  rec_set_block(&r, true);
  offer(p, 9, 4);
  wait_failed(p, 8);
  assert_stats(p, (want){.accepted = 12, .exported = 4, .failed = 8, .failed_exports = 2});
  rec_set_block(&r, false);
  /* The abandoned export was before the shutdown: its final work succeeded. */
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_stats(p, (want){.accepted = 12, .exported = 4, .failed = 8, .failed_exports = 2});
  rpct_processor_del(p); /* joins the watchdog: its reports are all in */
  assert_int_equal(wd_diag_count, 1);
  rec_fini(&r);
}

static void test_export_within_export_timeout_is_not_abandoned(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new_timeout(&r, 4, 2000);
  rec_set_block(&r, true);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_entered, 1));
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, release_later, &r), 0); /* 100 ms */
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_stats(p, (want){.accepted = 4, .exported = 4});
  assert_int_equal(tu_diag_count, 0);
  rpct_processor_del(p);
  rec_fini(&r);
}

/* Releases the exporter after 300 ms, from another thread. */
static void *release_after_300_ms(void *arg) {
  sleep_ms(300);
  rec_set_block(arg, false);
  return NULL;
}

static void test_force_flush_returns_export_error_when_its_export_is_abandoned(void **state) {
  (void)state;
  wd_diag_begin();
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new_timeout(&r, 4, 100);
  rec_set_block(&r, true);
  offer(p, 1, 2); /* a partial batch: the flush exports it */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, release_after_300_ms, &r), 0);
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_ERR_EXPORT);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_stats(p, (want){.accepted = 2, .failed = 2, .failed_exports = 1});
  assert_int_equal(rec_flushes(&r), 1); /* then the exporter was flushed */
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_shutdown_returns_export_error_when_a_final_batch_fails(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  r.results[0] = RPCT_ERR_IO;
  r.n_results = 1;
  rpct_processor *p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  offer(p, 1, 6); /* a batch of 4 now, 2 at shutdown: the first fails */
  assert_true(rec_wait(&r, has_calls, 1));
  wait_failed(p, 4);
  /* That failure came before the shutdown: not the shutdown's. */
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_stats(p, (want){.accepted = 6, .exported = 2, .failed = 4, .failed_exports = 1});
  rpct_processor_del(p);

  rec_fini(&r);
  rec_init(&r, 64);
  r.results[0] = RPCT_ERR_EXPORT;
  r.n_results = 1;
  p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  offer(p, 1, 3); /* exported by the shutdown, and failing */
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_ERR_EXPORT);
  assert_stats(p, (want){.accepted = 3, .failed = 3, .failed_exports = 1});
  assert_int_equal(r.shutdowns, 1); /* the exporter was shut down all the same */
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_shutdown_returns_export_error_when_a_final_export_is_abandoned(void **state) {
  (void)state;
  wd_diag_begin();
  rec_exporter r;
  rec_init(&r, 64);
  rpct_processor *p = bsp_new_timeout(&r, 4, 100);
  rec_set_block(&r, true);
  offer(p, 1, 3);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, release_after_300_ms, &r), 0);
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_ERR_EXPORT);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_stats(p, (want){.accepted = 3, .failed = 3, .failed_exports = 1});
  assert_int_equal(r.shutdowns, 1);
  rpct_processor_del(p);
  rec_fini(&r);
}

/* ==== concurrency ==== */

#define PRODUCERS 4
#define PER_PRODUCER 10000

typedef struct producer {
  rpct_processor *p;
  uint64_t first_id;
  size_t n;
  double took_ms;
} producer;

static void *produce(void *arg) {
  producer *pr = arg;
  double start = now_ms();
  offer(pr->p, pr->first_id, pr->n);
  pr->took_ms = now_ms() - start;
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static void test_concurrent_producers_export_each_span_exactly_once(void **state) {
  (void)state;
  const size_t total = PRODUCERS * PER_PRODUCER;
  rec_exporter r;
  rec_init(&r, total + 1);
  /* The queue holds every span, so nothing can be dropped however the
   * threads are scheduled. */
  rpct_processor *p = bsp_new(&r, (uint32_t)total, 512, 20);
  producer pr[PRODUCERS];
  pthread_t t[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) {
    pr[i] = (producer){.p = p, .first_id = 1 + (uint64_t)i * PER_PRODUCER, .n = PER_PRODUCER};
    assert_int_equal(pthread_create(&t[i], NULL, produce, &pr[i]), 0);
  }
  for (int i = 0; i < PRODUCERS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  assert_int_equal(rpct_processor_shutdown(p, 20000), RPCT_OK);
  assert_stats(p, (want){.accepted = total, .exported = total});
  assert_int_equal(r.n_ids, total);
  qsort(r.ids, r.n_ids, sizeof r.ids[0], cmp_u64);
  for (size_t i = 0; i < total; i++) assert_int_equal(r.ids[i], i + 1);
  rpct_processor_del(p);
  rec_fini(&r);
}

static void test_on_end_never_waits_for_an_export_in_progress(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 2048);
  rpct_processor *p = bsp_new(&r, 2048, 4, LONG_DELAY_MS);
  rec_set_block(&r, true);
  offer(p, 1, 4);
  assert_true(rec_wait(&r, has_entered, 1));
  producer pr = {.p = p, .first_id = 5, .n = 1000};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, produce, &pr), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(pr.took_ms < 100.0);
  /* All of it while the export was stuck. */
  assert_int_equal(rec_calls(&r), 0);
  assert_int_equal(rec_entered(&r), 1);
  assert_stats(p, (want){.accepted = 1004, .queued = 1004});
  rec_set_block(&r, false);
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_ids(&r, 0, 1, 1004);
  assert_stats(p, (want){.accepted = 1004, .exported = 1004});
  rpct_processor_del(p);
  rec_fini(&r);
}

/* ==== allocation ==== */

static void test_new_frees_everything_when_any_allocation_fails(void **state) {
  (void)state;
  rpct_batch_options o = {.max_queue_size = 16, .max_export_batch_size = 4};
  for (long k = 0;; k++) {
    assert_true(k < 100);
    tu_alloc_state fa = {.fail_at = k, .fail_only = 1};
    rpct_allocator a = tu_allocator(&fa);
    rec_exporter r;
    rec_init(&r, 1);
    rpct_exporter *e = NULL;
    assert_int_equal(rpct_exporter_new(&e, &rec_ops, &r, NULL), RPCT_OK);
    rpct_processor *sentinel = (rpct_processor *)&fa, *p = sentinel;
    int rc = rpct_batch_processor_new(&p, e, &o, &a);
    if (rc == RPCT_OK) {
      /* The processor, its queue, the batch buffer, its pointers, the handle. */
      assert_int_equal(k, 5);
      assert_true(p != sentinel && p != NULL);
      rpct_processor_del(p);
      assert_int_equal(fa.live, 0);
      assert_int_equal(r.destroyed, 1);
      rec_fini(&r);
      return;
    }
    assert_int_equal(rc, RPCT_ERR_NO_MEMORY);
    assert_ptr_equal(p, sentinel);
    assert_int_equal(fa.live, 0);
    assert_int_equal(r.destroyed, 0); /* still the caller's */
    rpct_exporter_del(e);
    assert_int_equal(r.destroyed, 1);
    rec_fini(&r);
  }
}

static void test_no_allocation_after_construction(void **state) {
  (void)state;
  tu_alloc_state fa = {.fail_at = -1};
  rpct_allocator a = tu_allocator(&fa);
  rec_exporter r;
  rec_init(&r, 64);
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_exporter_new(&e, &rec_ops, &r, NULL), RPCT_OK);
  rpct_batch_options o = {.max_queue_size = 8, .max_export_batch_size = 4, .schedule_delay_ms = 5};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_batch_processor_new(&p, e, &o, &a), RPCT_OK);
  long calls = fa.calls;
  offer(p, 1, 30); /* some dropped: the queue holds 8 */
  assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
  rpct_processor_stats s;
  rpct_processor_get_stats(p, &s);
  assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
  assert_int_equal(fa.calls, calls);
  assert_int_equal(s.accepted + s.dropped_full, 30);
  rpct_processor_del(p);
  assert_int_equal(fa.live, 0);
  rec_fini(&r);
}

/* ==== with a tracer ==== */

static void test_tracer_spans_reach_the_exporter_through_the_batch_processor(void **state) {
  (void)state;
  rpct_exporter *mem = NULL;
  assert_int_equal(rpct_memory_exporter_new(&mem, NULL), RPCT_OK);
  rpct_batch_options bo = {.max_queue_size = 16, .schedule_delay_ms = LONG_DELAY_MS};
  rpct_processor *p = NULL;
  assert_int_equal(rpct_batch_processor_new(&p, mem, &bo, NULL), RPCT_OK);
  rpct_sampler *sampler = NULL;
  assert_int_equal(rpct_sampler_always_on_new(&sampler, NULL), RPCT_OK);
  rpct_tracer_options *o = NULL;
  assert_int_equal(rpct_tracer_options_new(&o), RPCT_OK);
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, p);
  rpct_tracer *tracer = NULL;
  assert_int_equal(rpct_tracer_new(&tracer, o), RPCT_OK);
  rpct_tracer_options_del(o);

  static rpct_span spans[3];
  static const char *const names[] = {"pkg.Svc/A", "pkg.Svc/B", "pkg.Svc/C"};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(rpct_span_start(&spans[i], tracer, names[i], RPCT_SPAN_KIND_CLIENT, NULL),
                     RPCT_OK);
    assert_int_equal(rpct_span_set_str(&spans[i], "rpc.system", "grpc"), RPCT_OK);
    assert_int_equal(rpct_span_end(&spans[i], 0), RPCT_OK);
  }
  assert_int_equal(rpct_tracer_force_flush(tracer, WAIT_MS), RPCT_OK);
  assert_int_equal(rpct_memory_exporter_count(mem), 3);
  static rpct_span_data got;
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(rpct_memory_exporter_get(mem, i, &got), RPCT_OK);
    assert_string_equal(rpct_span_data_str(&got, got.name), names[i]);
    assert_memory_equal(got.span_id.bytes, rpct_span_get_context(&spans[i])->span_id.bytes, 8);
    assert_int_equal(got.n_attrs, 1);
  }
  rpct_tracer_stats ts;
  rpct_tracer_get_stats(tracer, &ts);
  assert_int_equal(ts.processor.accepted, 3);
  assert_int_equal(ts.processor.exported, 3);
  rpct_tracer_del(tracer);
}

static void test_tracer_shutdown_returns_export_error_when_the_final_batch_fails(void **state) {
  (void)state;
  rec_exporter r;
  rec_init(&r, 64);
  r.results[0] = RPCT_ERR_EXPORT;
  r.n_results = 1;
  rpct_processor *p = bsp_new(&r, 64, 4, LONG_DELAY_MS);
  rpct_sampler *sampler = NULL;
  assert_int_equal(rpct_sampler_always_on_new(&sampler, NULL), RPCT_OK);
  rpct_tracer_options *o = NULL;
  assert_int_equal(rpct_tracer_options_new(&o), RPCT_OK);
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, p);
  rpct_tracer *tracer = NULL;
  assert_int_equal(rpct_tracer_new(&tracer, o), RPCT_OK);
  rpct_tracer_options_del(o);
  static rpct_span span;
  assert_int_equal(rpct_span_start(&span, tracer, "pkg.Svc/A", RPCT_SPAN_KIND_CLIENT, NULL),
                   RPCT_OK);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);
  assert_int_equal(rpct_tracer_shutdown(tracer, WAIT_MS), RPCT_ERR_EXPORT);
  assert_int_equal(rpct_tracer_shutdown(tracer, WAIT_MS), RPCT_ERR_STATE);
  rpct_tracer_stats ts;
  rpct_tracer_get_stats(tracer, &ts);
  assert_int_equal(ts.processor.failed, 1);
  assert_int_equal(ts.processor.failed_exports, 1);
  rpct_tracer_del(tracer);
  rec_fini(&r);
}

/* ==== fork ==== */

/* In a forked child, with processor `p` inherited and `queued` spans of the
 * parent still in its queue (exported, 2 of them): what the child does,
 * checked step by step. Returns 0, or the number of the step that failed
 * (the child's exit status). */
static int child_uses_inherited_processor(rpct_processor *p, rec_exporter *r, uint64_t queued) {
  double start = now_ms();
  int calls = r->calls, entered = r->entered, flushes = r->flushes;
  offer(p, 100, 3);
  rpct_processor_stats s;
  rpct_processor_get_stats(p, &s);
  /* The counters carry on from the parent's; the child's spans dropped. */
  if (s.accepted != 2 + queued || s.exported != 2 || s.queued != queued) return 1;
  if (s.dropped_shutdown != 3) return 2;
  if (rpct_processor_force_flush(p, WAIT_MS) != RPCT_OK) return 3;
  if (rpct_processor_shutdown(p, WAIT_MS) != RPCT_OK) return 4;
  if (rpct_processor_shutdown(p, WAIT_MS) != RPCT_ERR_STATE) return 5;
  rpct_processor_del(p);
  /* The exporter was never called in the child, nor destroyed. */
  if (r->calls != calls || r->entered != entered || r->flushes != flushes) return 6;
  if (r->shutdowns != 0 || r->destroyed != 0) return 7;
  if (now_ms() - start > 1000.0) return 8; /* nothing waited */
  return 0;
}

static void test_processor_inherited_by_a_forked_child_drops_spans_and_never_waits(void **state) {
  (void)state;
  for (int simple = 0; simple < 2; simple++) {
    rec_exporter r;
    rec_init(&r, 64);
    rpct_processor *p;
    if (simple) {
      rpct_exporter *e = NULL;
      assert_int_equal(rpct_exporter_new(&e, &rec_ops, &r, NULL), RPCT_OK);
      assert_int_equal(rpct_simple_processor_new(&p, e, NULL), RPCT_OK);
    } else {
      p = bsp_new(&r, 64, 4, LONG_DELAY_MS); /* its threads wait in the parent */
    }
    offer(p, 1, 2);
    assert_int_equal(rpct_processor_force_flush(p, WAIT_MS), RPCT_OK);
    uint64_t queued = simple ? 0 : 1;
    if (queued) offer(p, 3, 1); /* queued at fork: the parent's to export */
    pid_t pid = fork();
    if (pid == 0) _exit(child_uses_inherited_processor(p, &r, queued));
    assert_true(pid > 0);
    int status = 0;
    double end = now_ms() + 10000.0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end) sleep_ms(2);
    if (w == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fail_msg("the child did not exit within 10 s");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's processor goes on: its queued span is exported here. */
    assert_int_equal(rpct_processor_shutdown(p, WAIT_MS), RPCT_OK);
    assert_stats(p, (want){.accepted = 2 + queued, .exported = 2 + queued});
    assert_int_equal(r.shutdowns, 1);
    rpct_processor_del(p);
    assert_int_equal(r.destroyed, 1);
    rec_fini(&r);
  }
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_env, teardown_env)
  const struct CMUnitTest tests[] = {
      T(test_options_from_env_are_the_specification_defaults_when_unset),
      T(test_options_from_env_reads_valid_values_silently),
      T(test_options_from_env_reports_invalid_value_once_and_uses_default),
      T(test_options_from_env_lower_batch_above_queue_and_report_once),
      T(test_new_without_options_reads_env),
      T(test_new_gives_zero_fields_defaults_and_lowers_batch_to_queue),
      T(test_new_rejects_null_arguments_and_keeps_out),
      T(test_exports_when_batch_size_is_reached_before_the_delay),
      T(test_exports_a_partial_batch_after_the_schedule_delay),
      T(test_force_flush_exports_everything_queued_and_returns_ok),
      T(test_force_flush_times_out_while_the_exporter_is_blocked),
      T(test_full_queue_drops_and_counts_exactly),
      T(test_unsampled_spans_are_ignored),
      T(test_shutdown_exports_queue_then_shuts_exporter_down_with_time_left),
      T(test_spans_after_shutdown_are_counted_dropped_shutdown),
      T(test_shutdown_returns_within_its_timeout_when_the_exporter_hangs),
      T(test_del_waits_for_the_export_in_progress),
      T(test_failed_and_rejected_exports_are_counted_and_flush_reports_failure),
      T(test_export_running_past_export_timeout_is_abandoned_and_counted_failed),
      T(test_export_within_export_timeout_is_not_abandoned),
      T(test_force_flush_returns_export_error_when_its_export_is_abandoned),
      T(test_shutdown_returns_export_error_when_a_final_batch_fails),
      T(test_shutdown_returns_export_error_when_a_final_export_is_abandoned),
      T(test_concurrent_producers_export_each_span_exactly_once),
      T(test_on_end_never_waits_for_an_export_in_progress),
      T(test_new_frees_everything_when_any_allocation_fails),
      T(test_no_allocation_after_construction),
      T(test_tracer_spans_reach_the_exporter_through_the_batch_processor),
      T(test_tracer_shutdown_returns_export_error_when_the_final_batch_fails),
      T(test_processor_inherited_by_a_forked_child_drops_spans_and_never_waits),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
