/*
 * Deleting a tracer delivers everything: four threads end 10,000 spans into
 * a batch processor feeding the OTLP/gRPC exporter, then rpct_tracer_del()
 * (which shuts down, and so flushes) must leave the fake collector holding
 * every span exactly once, with the processor's counters agreeing.
 *
 * The tracer owns its processor and frees it in rpct_tracer_del(), so the
 * batch processor is wrapped in a pass-through processor whose destroy op
 * reads the final counters just before the batch processor is freed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_collector.h"
#include "internal.h"
#include "rpctrace/rpctrace.h"

#define THREADS 4
#define SPANS_PER_THREAD 2500
#define TOTAL_SPANS (THREADS * SPANS_PER_THREAD)

/* ---- a processor that forwards to another and keeps its last counters ---- */

typedef struct stats_tap {
  rpct_processor *inner;      /* owned */
  rpct_processor_stats final; /* read in destroy, before inner is freed */
  bool destroyed;
} stats_tap;

static void tap_on_end(void *impl, const rpct_span_data *d) {
  rpct__processor_on_end(((stats_tap *)impl)->inner, d);
}

static int tap_force_flush(void *impl, uint32_t timeout_ms) {
  return rpct_processor_force_flush(((stats_tap *)impl)->inner, timeout_ms);
}

static int tap_shutdown(void *impl, uint32_t timeout_ms) {
  return rpct_processor_shutdown(((stats_tap *)impl)->inner, timeout_ms);
}

static void tap_stats(void *impl, rpct_processor_stats *out) {
  rpct_processor_get_stats(((stats_tap *)impl)->inner, out);
}

static void tap_destroy(void *impl) {
  stats_tap *tap = impl;
  rpct_processor_get_stats(tap->inner, &tap->final);
  rpct_processor_del(tap->inner);
  tap->inner = NULL;
  tap->destroyed = true;
}

static const rpct_processor_ops tap_ops = {
    .on_start = NULL,
    .on_end = tap_on_end,
    .force_flush = tap_force_flush,
    .shutdown = tap_shutdown,
    .stats = tap_stats,
    .destroy = tap_destroy,
};

/* ---- producers ---- */

typedef struct producer {
  pthread_t thread;
  rpct_tracer *tracer;
  rpct_span_id *ids; /* SPANS_PER_THREAD slots, this thread's only */
  int failures;      /* rpct_span_* calls that did not return RPCT_OK */
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  for (size_t i = 0; i < SPANS_PER_THREAD; i++) {
    rpct_span span;
    memset(&span, 0, sizeof span);
    if (rpct_span_start(&span, p->tracer, "shutdown.Test/Produce", RPCT_SPAN_KIND_CLIENT, NULL) !=
        RPCT_OK)
      p->failures++;
    rpct_span_set_int(&span, "test.index", (int64_t)i);
    p->ids[i] = rpct_span_get_context(&span)->span_id;
    if (rpct_span_end(&span, 0) != RPCT_OK) p->failures++;
  }
  return NULL;
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(rpct_span_id)); }

static void test_tracer_del_delivers_every_span_exactly_once(void **state) {
  (void)state;
  fake_collector *fc = NULL;
  assert_int_equal(fc_start(&fc, &(fc_config){.mode = FC_ACCEPT}), 0);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", fc_port(fc));

  rpct_otlp_options opts = {
      .endpoint = endpoint,
      .timeout_ms = 10000,
      .compression = RPCT_OTLP_COMPRESSION_NONE,
      .insecure = RPCT_OTLP_PLAINTEXT,
      .initial_backoff_ms = 50,
      .max_backoff_ms = 200,
  };
  rpct_exporter *e = NULL;
  assert_int_equal(rpct_otlp_exporter_new(&e, &opts, NULL), RPCT_OK);
  /* A queue that holds every span: the producers may outrun the exporter,
   * and this test is about delivery, not about dropping. */
  rpct_batch_options bo = {
      .max_queue_size = 16384,
      .schedule_delay_ms = 200,
      .max_export_batch_size = 512,
      .export_timeout_ms = 30000,
  };
  static stats_tap tap;
  memset(&tap, 0, sizeof tap);
  assert_int_equal(rpct_batch_processor_new(&tap.inner, e, &bo, NULL), RPCT_OK);
  rpct_processor *proc = NULL;
  assert_int_equal(rpct_processor_new(&proc, &tap_ops, &tap, NULL), RPCT_OK);

  rpct_sampler *sampler = NULL;
  rpct_resource *res = NULL;
  rpct_tracer_options *o = NULL;
  rpct_tracer *t = NULL;
  assert_int_equal(rpct_sampler_always_on_new(&sampler, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(res, "service.name", "export-shutdown-integration"), RPCT_OK);
  assert_int_equal(rpct_tracer_options_new(&o), RPCT_OK);
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, proc);
  rpct_tracer_options_set_resource(o, res);
  assert_int_equal(rpct_tracer_new(&t, o), RPCT_OK);
  rpct_tracer_options_del(o);

  rpct_span_id *sent = calloc(TOTAL_SPANS, sizeof *sent);
  assert_non_null(sent);
  producer prod[THREADS];
  for (int i = 0; i < THREADS; i++) {
    prod[i] = (producer){.tracer = t, .ids = sent + (size_t)i * SPANS_PER_THREAD};
    assert_int_equal(pthread_create(&prod[i].thread, NULL, produce, &prod[i]), 0);
  }
  int failures = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(prod[i].thread, NULL);
    failures += prod[i].failures;
  }

  uint64_t t0 = fc_now_mono_ns();
  rpct_tracer_del(t);
  print_message("rpct_tracer_del took %llu ms\n",
                (unsigned long long)((fc_now_mono_ns() - t0) / 1000000u));

  /* Everything the collector saw, then stop it before asserting. */
  size_t n_attempts = fc_attempt_count(fc);
  size_t not_ok = 0, received = 0;
  rpct_span_id *got = calloc(TOTAL_SPANS, sizeof *got);
  assert_non_null(got);
  for (size_t i = 0; i < n_attempts; i++) {
    fc_attempt a;
    assert_true(fc_attempt_get(fc, i, &a));
    if (a.answered != GRPC_STATUS_OK || !a.decoded) not_ok++;
    size_t at = received < TOTAL_SPANS ? received : TOTAL_SPANS; /* copy what fits */
    received += fc_attempt_span_ids(fc, i, got + at, TOTAL_SPANS - at);
  }
  fc_stop(fc);
  print_message("%zu spans in %zu exports\n", received, n_attempts);

  /* Compare before asserting so a failure frees the id arrays too. */
  bool sent_distinct = true, same_ids = received == TOTAL_SPANS;
  qsort(sent, TOTAL_SPANS, sizeof *sent, id_cmp);
  for (size_t i = 1; i < TOTAL_SPANS; i++) sent_distinct &= id_cmp(&sent[i - 1], &sent[i]) != 0;
  if (same_ids) {
    qsort(got, TOTAL_SPANS, sizeof *got, id_cmp);
    same_ids = memcmp(sent, got, TOTAL_SPANS * sizeof *sent) == 0;
  }
  free(sent);
  free(got);

  assert_int_equal(failures, 0);
  assert_true(tap.destroyed);
  assert_int_equal(not_ok, 0);
  assert_int_equal(received, TOTAL_SPANS);
  assert_true(sent_distinct);
  assert_true(same_ids); /* every span sent arrived, each exactly once */

  const rpct_processor_stats *s = &tap.final;
  assert_int_equal(s->accepted, TOTAL_SPANS);
  assert_int_equal(s->dropped_full, 0);
  assert_int_equal(s->dropped_shutdown, 0);
  assert_int_equal(s->exported, TOTAL_SPANS);
  assert_int_equal(s->rejected, 0);
  assert_int_equal(s->failed, 0);
  assert_int_equal(s->failed_exports, 0);
  assert_int_equal(s->queued, 0);
  assert_int_equal(s->accepted, s->exported + s->rejected + s->failed + s->queued);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tracer_del_delivers_every_span_exactly_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
