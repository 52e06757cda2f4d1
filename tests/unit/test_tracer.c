/* The tracer: code over environment, OTEL_SDK_DISABLED, span limits from
 * the environment, shutdown, the global tracer, concurrent spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "test_util.h"

static const char *const vars[] = {
    "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SDK_DISABLED",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES"};

static int setup(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  tu_diag_begin();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_diag_end();
  return 0;
}

static bool one_span_records(rpct_tracer *t) {
  rpct_span s;
  rpct_span_start(&s, t, "probe", RPCT_SPAN_KIND_INTERNAL, NULL);
  bool r = rpct_span_is_recording(&s);
  rpct_span_end(&s, 0);
  return r;
}

static void test_sampler_set_in_code_wins_over_environment(void **state) {
  (void)state;
  setenv("OTEL_TRACES_SAMPLER", "always_off", 1);
  tu_tracer t = tu_tracer_new(NULL, NULL); /* always_on in code */
  assert_true(one_span_records(t.tracer));
  rpct_tracer_del(t.tracer);
}

static void test_sampler_from_environment_when_code_sets_none(void **state) {
  (void)state;
  setenv("OTEL_TRACES_SAMPLER", "always_off", 1);
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  rpct_tracer *t;
  assert_int_equal(rpct_tracer_new(&t, NULL), RPCT_OK);
  assert_false(one_span_records(t));
  rpct_tracer_stats st;
  rpct_tracer_get_stats(t, &st);
  assert_int_equal(st.spans_not_recorded, 1);
  assert_int_equal(tu_diag_count, 0);
  rpct_tracer_del(t);
}

static void test_sdk_disabled_records_nothing(void **state) {
  (void)state;
  setenv("OTEL_SDK_DISABLED", "TRUE", 1);
  tu_tracer t = tu_tracer_new(NULL, NULL);
  assert_false(one_span_records(t.tracer));
  assert_int_equal(rpct_memory_exporter_count(t.memory), 0);
  rpct_tracer_del(t.tracer);
}

static void test_span_limits_from_environment(void **state) {
  (void)state;
  rpct_span_limits l;
  rpct_span_limits_from_env(&l);
  assert_int_equal(l.attribute_count, RPCT_SPAN_MAX_ATTRIBUTES); /* 128 clamped */
  assert_int_equal(l.event_count, RPCT_SPAN_MAX_EVENTS);
  assert_int_equal(l.link_count, RPCT_SPAN_MAX_LINKS);
  assert_int_equal(l.attribute_value_length, 0);

  setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "7", 1);
  setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100", 1);
  setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "3", 1);
  setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "1000", 1);
  setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "2", 1);
  setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "0", 1);
  rpct_span_limits_from_env(&l);
  assert_int_equal(l.attribute_count, 7);
  assert_int_equal(l.attribute_value_length, 100);
  assert_int_equal(l.event_count, 3);
  assert_int_equal(l.link_count, RPCT_SPAN_MAX_LINKS);
  assert_int_equal(l.event_attribute_count, 2);
  assert_int_equal(l.link_attribute_count, 0);

  /* The span-specific variable wins over the general one. */
  setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2", 1);
  rpct_span_limits_from_env(&l);
  assert_int_equal(l.attribute_count, 2);
  assert_int_equal(tu_diag_count, 0);
}

static void test_invalid_limit_is_reported_and_default_used(void **state) {
  (void)state;
  setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-5", 1);
  setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0", 1);
  rpct_span_limits l;
  rpct_span_limits_from_env(&l);
  assert_int_equal(l.attribute_count, RPCT_SPAN_MAX_ATTRIBUTES);
  assert_int_equal(l.attribute_value_length, 0);
  assert_int_equal(tu_diag_count, 2);
  assert_non_null(strstr(tu_diag, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=\"-5\""));
  assert_non_null(strstr(tu_diag, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=\"0\""));
}

static void test_environment_limits_apply_to_spans(void **state) {
  (void)state;
  setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1", 1);
  rpct_memory_exporter_new(NULL, NULL); /* NULL out is refused, nothing leaks */
  rpct_exporter *mem;
  rpct_processor *proc;
  rpct_tracer_options *o;
  rpct_tracer *t;
  assert_int_equal(rpct_memory_exporter_new(&mem, NULL), RPCT_OK);
  assert_int_equal(rpct_simple_processor_new(&proc, mem, NULL), RPCT_OK);
  assert_int_equal(rpct_tracer_options_new(&o), RPCT_OK);
  rpct_tracer_options_set_processor(o, proc);
  assert_int_equal(rpct_tracer_options_set_scope(o, "my.lib", "2.0"), RPCT_OK);
  assert_int_equal(rpct_tracer_new(&t, o), RPCT_OK);
  rpct_tracer_options_del(o);
  rpct_span s;
  rpct_span_start(&s, t, "x", RPCT_SPAN_KIND_INTERNAL, NULL);
  assert_int_equal(rpct_span_set_int(&s, "a", 1), RPCT_OK);
  assert_int_equal(rpct_span_set_int(&s, "b", 2), RPCT_ERR_LIMIT);
  rpct_span_end(&s, 0);
  rpct_span_data d;
  assert_int_equal(rpct_memory_exporter_get(mem, 0, &d), RPCT_OK);
  assert_int_equal(d.n_attrs, 1);
  assert_int_equal(d.dropped_attributes, 1);
  assert_string_equal(d.scope_name, "my.lib");
  assert_string_equal(d.scope_version, "2.0");
  rpct_tracer_del(t);
}

static void test_shutdown_once_then_spans_are_dropped_and_counted(void **state) {
  (void)state;
  tu_tracer t = tu_tracer_new(NULL, NULL);
  assert_true(one_span_records(t.tracer));
  assert_int_equal(rpct_tracer_shutdown(t.tracer, 1000), RPCT_OK);
  assert_int_equal(rpct_tracer_shutdown(t.tracer, 1000), RPCT_ERR_STATE);
  one_span_records(t.tracer);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(t.tracer, &st);
  assert_int_equal(st.spans_ended, 2);
  assert_int_equal(st.processor.accepted, 1);
  assert_int_equal(st.processor.exported, 1);
  assert_int_equal(st.processor.dropped_shutdown, 1);
  assert_int_equal(rpct_memory_exporter_count(t.memory), 1);
  rpct_tracer_del(t.tracer);
}

static void test_deleting_the_global_tracer_clears_it(void **state) {
  (void)state;
  tu_tracer t = tu_tracer_new(NULL, NULL);
  rpct_tracer_set_global(t.tracer);
  assert_ptr_equal(rpct_tracer_global(), t.tracer);
  rpct_tracer_del(t.tracer);
  assert_null(rpct_tracer_global());
}

#define THREADS 4
#define SPANS_PER_THREAD 10000

static void *make_spans(void *arg) {
  rpct_tracer *t = arg;
  for (int i = 0; i < SPANS_PER_THREAD; i++) {
    rpct_span s;
    rpct_span_start(&s, t, "concurrent", RPCT_SPAN_KIND_INTERNAL, NULL);
    rpct_span_set_int(&s, "i", i);
    rpct_span_end(&s, 0);
  }
  return NULL;
}

static int cmp_span_id(const void *a, const void *b) { return memcmp(a, b, 8); }

static void test_spans_from_four_threads_are_each_exported_once(void **state) {
  (void)state;
  tu_tracer t = tu_tracer_new(NULL, NULL);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, make_spans, t.tracer);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  size_t n = rpct_memory_exporter_count(t.memory);
  assert_int_equal(n, THREADS * SPANS_PER_THREAD);
  rpct_span_id *ids = malloc(n * sizeof *ids);
  assert_non_null(ids);
  for (size_t i = 0; i < n; i++) {
    rpct_span_data d;
    assert_int_equal(rpct_memory_exporter_get(t.memory, i, &d), RPCT_OK);
    ids[i] = d.span_id;
  }
  qsort(ids, n, sizeof *ids, cmp_span_id);
  for (size_t i = 1; i < n; i++) assert_memory_not_equal(&ids[i], &ids[i - 1], 8);
  free(ids);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(t.tracer, &st);
  assert_int_equal(st.spans_started, n);
  assert_int_equal(st.spans_ended, n);
  assert_int_equal(st.processor.exported, n);
  rpct_tracer_del(t.tracer);
}

int main(void) {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T_(test_sampler_set_in_code_wins_over_environment),
      T_(test_sampler_from_environment_when_code_sets_none),
      T_(test_sdk_disabled_records_nothing),
      T_(test_span_limits_from_environment),
      T_(test_invalid_limit_is_reported_and_default_used),
      T_(test_environment_limits_apply_to_spans),
      T_(test_shutdown_once_then_spans_are_dropped_and_counted),
      T_(test_deleting_the_global_tracer_clears_it),
      T_(test_spans_from_four_threads_are_each_exported_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
