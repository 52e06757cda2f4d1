/* Samplers: ratio accuracy and determinism, the five parent-based cases,
 * configuration from OTEL_TRACES_SAMPLER[_ARG]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "test_util.h"

static int setup(void **state) {
  (void)state;
  tu_diag_begin();
  unsetenv("OTEL_TRACES_SAMPLER");
  unsetenv("OTEL_TRACES_SAMPLER_ARG");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_diag_end();
  return 0;
}

static rpct_sampling_decision decide(const rpct_sampler *s, const rpct_span_context *parent,
                                     const rpct_trace_id *tid) {
  rpct_sampling_params p = {
      .parent = parent, .trace_id = tid, .name = "x", .kind = RPCT_SPAN_KIND_CLIENT};
  return rpct_sampler_should_sample(s, &p);
}

static void test_ratio_quarter_samples_25_percent_of_100000_ids(void **state) {
  (void)state;
  rpct_sampler *s;
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&s, 0.25, NULL), RPCT_OK);
  int sampled = 0;
  for (int i = 0; i < 100000; i++) {
    rpct_trace_id id;
    rpct_trace_id_generate(&id);
    sampled += decide(s, NULL, &id) == RPCT_SAMPLING_RECORD_AND_SAMPLE;
  }
  printf("traceidratio 0.25: %d of 100000 sampled (%.3f%%)\n", sampled, sampled / 1000.0);
  assert_in_range(sampled, 24000, 26000);
  rpct_sampler_del(s);
}

static void test_ratio_decides_the_same_for_the_same_trace_id(void **state) {
  (void)state;
  rpct_sampler *a, *b;
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&a, 0.25, NULL), RPCT_OK);
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&b, 0.25, NULL), RPCT_OK);
  int yes = 0;
  for (int i = 0; i < 10000; i++) {
    rpct_trace_id id;
    rpct_trace_id_generate(&id);
    rpct_sampling_decision d = decide(a, NULL, &id);
    assert_int_equal(decide(a, NULL, &id), d);
    assert_int_equal(decide(b, NULL, &id), d);
    yes += d == RPCT_SAMPLING_RECORD_AND_SAMPLE;
  }
  assert_true(yes > 0 && yes < 10000);
  rpct_sampler_del(a);
  rpct_sampler_del(b);
}

static rpct_trace_id id_with_random_part(uint64_t low56) {
  rpct_trace_id id = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  for (int i = 15; i >= 9; i--, low56 >>= 8) id.bytes[i] = (uint8_t)low56;
  return id;
}

static void test_ratio_threshold_is_on_low_56_bits(void **state) {
  (void)state;
  rpct_sampler *s;
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&s, 0.25, NULL), RPCT_OK);
  const uint64_t threshold = 3ull << 54; /* (1 - 0.25) * 2^56 */
  rpct_trace_id at = id_with_random_part(threshold), below = id_with_random_part(threshold - 1);
  assert_int_equal(decide(s, NULL, &at), RPCT_SAMPLING_RECORD_AND_SAMPLE);
  assert_int_equal(decide(s, NULL, &below), RPCT_SAMPLING_DROP);
  /* The high bytes play no part. */
  below.bytes[0] = 0;
  below.bytes[8] = 0x12;
  assert_int_equal(decide(s, NULL, &below), RPCT_SAMPLING_DROP);
  assert_string_equal(rpct_sampler_description(s), "TraceIdRatioBased{0.250000}");
  rpct_sampler_del(s);
}

static void test_ratio_zero_and_one_are_exact(void **state) {
  (void)state;
  rpct_sampler *none, *all;
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&none, 0.0, NULL), RPCT_OK);
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&all, 1.0, NULL), RPCT_OK);
  rpct_trace_id max = id_with_random_part((1ull << 56) - 1), min = id_with_random_part(0);
  assert_int_equal(decide(none, NULL, &max), RPCT_SAMPLING_DROP);
  assert_int_equal(decide(all, NULL, &min), RPCT_SAMPLING_RECORD_AND_SAMPLE);
  rpct_sampler_del(none);
  rpct_sampler_del(all);
}

static void test_ratio_rejects_out_of_range(void **state) {
  (void)state;
  rpct_sampler *s = (rpct_sampler *)0x1;
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&s, -0.01, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&s, 1.01, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_sampler_trace_id_ratio_new(&s, 0.0 / 0.0, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(s, (rpct_sampler *)0x1);
}

/* A custom sampler that answers a fixed decision and records its calls. */
typedef struct probe {
  rpct_sampling_decision answer;
  int calls;
} probe;
static rpct_sampling_decision probe_fn(void *data, const rpct_sampling_params *p) {
  (void)p;
  probe *pr = data;
  pr->calls++;
  return pr->answer;
}

static rpct_span_context parent_ctx(bool remote, bool sampled) {
  rpct_span_context c = {0};
  rpct_trace_id_generate(&c.trace_id);
  rpct_span_id_generate(&c.span_id);
  c.remote = remote;
  c.flags = sampled ? RPCT_TRACE_FLAG_SAMPLED : 0;
  return c;
}

static void test_parent_based_routes_each_of_five_cases(void **state) {
  (void)state;
  probe pr[5];
  rpct_sampler *sub[5];
  for (int i = 0; i < 5; i++) {
    pr[i] = (probe){.answer = i % 2 ? RPCT_SAMPLING_RECORD_ONLY : RPCT_SAMPLING_RECORD_AND_SAMPLE};
    char name[16];
    snprintf(name, sizeof name, "probe%d", i);
    assert_int_equal(rpct_sampler_custom_new(&sub[i], probe_fn, &pr[i], name, NULL), RPCT_OK);
  }
  rpct_sampler *pb;
  assert_int_equal(rpct_sampler_parent_based_new(&pb, sub[0], sub[1], sub[2], sub[3], sub[4], NULL),
                   RPCT_OK);
  assert_string_equal(rpct_sampler_description(pb),
                      "ParentBased{root:probe0,remoteParentSampled:probe1,remoteParentNotSampled:"
                      "probe2,localParentSampled:probe3,localParentNotSampled:probe4}");
  rpct_trace_id tid;
  rpct_trace_id_generate(&tid);
  const rpct_span_context invalid = {0};
  rpct_span_context rs = parent_ctx(true, true), rn = parent_ctx(true, false),
                    ls = parent_ctx(false, true), ln = parent_ctx(false, false);
  const rpct_span_context *parents[] = {NULL, &invalid, &rs, &rn, &ls, &ln};
  const int expect[] = {0, 0, 1, 2, 3, 4};
  for (size_t c = 0; c < sizeof parents / sizeof parents[0]; c++) {
    int before[5];
    for (int i = 0; i < 5; i++) before[i] = pr[i].calls;
    assert_int_equal(decide(pb, parents[c], &tid), pr[expect[c]].answer);
    for (int i = 0; i < 5; i++) assert_int_equal(pr[i].calls - before[i], i == expect[c] ? 1 : 0);
  }
  rpct_sampler_del(pb); /* frees the five probes too (ASan checks) */
}

static void test_parent_based_defaults_follow_the_parent(void **state) {
  (void)state;
  rpct_sampler *off, *pb;
  assert_int_equal(rpct_sampler_always_off_new(&off, NULL), RPCT_OK);
  assert_int_equal(rpct_sampler_parent_based_new(&pb, off, NULL, NULL, NULL, NULL, NULL), RPCT_OK);
  rpct_trace_id tid;
  rpct_trace_id_generate(&tid);
  rpct_span_context rs = parent_ctx(true, true), rn = parent_ctx(true, false),
                    ls = parent_ctx(false, true), ln = parent_ctx(false, false);
  assert_int_equal(decide(pb, NULL, &tid), RPCT_SAMPLING_DROP);
  assert_int_equal(decide(pb, &rs, &tid), RPCT_SAMPLING_RECORD_AND_SAMPLE);
  assert_int_equal(decide(pb, &rn, &tid), RPCT_SAMPLING_DROP);
  assert_int_equal(decide(pb, &ls, &tid), RPCT_SAMPLING_RECORD_AND_SAMPLE);
  assert_int_equal(decide(pb, &ln, &tid), RPCT_SAMPLING_DROP);
  rpct_sampler_del(pb);
}

typedef struct env_case {
  const char *sampler, *arg;
  const char *description;
  int messages;
} env_case;

static void test_sampler_from_env_table(void **state) {
  (void)state;
  static const env_case cases[] = {
      {NULL, NULL,
       "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
       "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
       "localParentNotSampled:AlwaysOffSampler}",
       0},
      {"always_on", NULL, "AlwaysOnSampler", 0},
      {" always_off ", NULL, "AlwaysOffSampler", 0},
      {"traceidratio", "0.5", "TraceIdRatioBased{0.500000}", 0},
      {"traceidratio", NULL, "TraceIdRatioBased{1.000000}", 0},
      {"traceidratio", "1.5", "TraceIdRatioBased{1.000000}", 1},
      {"traceidratio", "half", "TraceIdRatioBased{1.000000}", 1},
      {"parentbased_traceidratio", "0.1",
       "ParentBased{root:TraceIdRatioBased{0.100000},remoteParentSampled:AlwaysOnSampler,"
       "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
       "localParentNotSampled:AlwaysOffSampler}",
       0},
      {"parentbased_always_off", NULL,
       "ParentBased{root:AlwaysOffSampler,remoteParentSampled:AlwaysOnSampler,"
       "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
       "localParentNotSampled:AlwaysOffSampler}",
       0},
      {"sometimes", NULL,
       "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
       "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
       "localParentNotSampled:AlwaysOffSampler}",
       1},
      {"xray", NULL,
       "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
       "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
       "localParentNotSampled:AlwaysOffSampler}",
       1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    setup(NULL);
    if (cases[i].sampler) setenv("OTEL_TRACES_SAMPLER", cases[i].sampler, 1);
    if (cases[i].arg) setenv("OTEL_TRACES_SAMPLER_ARG", cases[i].arg, 1);
    rpct_sampler *s;
    assert_int_equal(rpct_sampler_from_env(&s, NULL), RPCT_OK);
    assert_string_equal(rpct_sampler_description(s), cases[i].description);
    if (tu_diag_count != cases[i].messages)
      fail_msg("case %zu: %d messages, want %d: %s", i, tu_diag_count, cases[i].messages, tu_diag);
    rpct_sampler_del(s);
  }
}

static void test_sampler_env_messages_name_variable_and_default(void **state) {
  (void)state;
  setenv("OTEL_TRACES_SAMPLER", "sometimes", 1);
  rpct_sampler *s;
  assert_int_equal(rpct_sampler_from_env(&s, NULL), RPCT_OK);
  rpct_sampler_del(s);
  assert_int_equal(rpct_sampler_from_env(&s, NULL), RPCT_OK); /* reported once */
  rpct_sampler_del(s);
  assert_int_equal(tu_diag_count, 1);
  assert_string_equal(tu_diag,
                      "OTEL_TRACES_SAMPLER=\"sometimes\" is not a known sampler; using "
                      "parentbased_always_on\n");
  setenv("OTEL_TRACES_SAMPLER", "traceidratio", 1);
  setenv("OTEL_TRACES_SAMPLER_ARG", "2", 1);
  assert_int_equal(rpct_sampler_from_env(&s, NULL), RPCT_OK);
  rpct_sampler_del(s);
  assert_string_equal(tu_diag,
                      "OTEL_TRACES_SAMPLER=\"sometimes\" is not a known sampler; using "
                      "parentbased_always_on\n"
                      "OTEL_TRACES_SAMPLER_ARG=\"2\" is not a ratio in [0, 1]; using 1.0\n");
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_ratio_quarter_samples_25_percent_of_100000_ids),
      T(test_ratio_decides_the_same_for_the_same_trace_id),
      T(test_ratio_threshold_is_on_low_56_bits),
      T(test_ratio_zero_and_one_are_exact),
      T(test_ratio_rejects_out_of_range),
      T(test_parent_based_routes_each_of_five_cases),
      T(test_parent_based_defaults_follow_the_parent),
      T(test_sampler_from_env_table),
      T(test_sampler_env_messages_name_variable_and_default),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
