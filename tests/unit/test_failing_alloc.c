/*
 * Every constructor, walked with an allocator that fails on its k-th call
 * for k = 0, 1, 2, ... until it succeeds: each failure returns
 * RPCT_ERR_NO_MEMORY, leaves *out untouched and frees all it took; the
 * success is then deleted with nothing left allocated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_util.h"

#define SENTINEL ((void *)0x5e17)

typedef int (*ctor_fn)(void **out, const rpct_allocator *a);
typedef void (*dtor_fn)(void *obj);

/* Walks one constructor; returns how many allocations it needs. */
static long walk(const char *name, ctor_fn ctor, dtor_fn dtor) {
  for (long k = 0; k < 1000; k++) {
    tu_alloc_state st = {.fail_at = k};
    rpct_allocator a = tu_allocator(&st);
    void *out = SENTINEL;
    int rc = ctor(&out, &a);
    if (rc == RPCT_OK) {
      assert_ptr_not_equal(out, SENTINEL);
      dtor(out);
      if (st.live != 0) fail_msg("%s: %ld allocations left after delete", name, st.live);
      return k;
    }
    if (rc != RPCT_ERR_NO_MEMORY) fail_msg("%s: failure %ld gave %s", name, k, rpct_strerror(rc));
    if (out != SENTINEL) fail_msg("%s: *out written on failure %ld", name, k);
    if (st.live != 0) fail_msg("%s: failure %ld leaked %ld allocations", name, k, st.live);
  }
  fail_msg("%s never succeeded", name);
  return -1;
}

static int c_always_on(void **o, const rpct_allocator *a) {
  return rpct_sampler_always_on_new((rpct_sampler **)o, a);
}
static int c_ratio(void **o, const rpct_allocator *a) {
  return rpct_sampler_trace_id_ratio_new((rpct_sampler **)o, 0.5, a);
}
static int c_parent_based(void **o, const rpct_allocator *a) {
  rpct_sampler *root;
  if (rpct_sampler_always_on_new(&root, NULL) != RPCT_OK) return RPCT_ERR_NO_MEMORY;
  int rc = rpct_sampler_parent_based_new((rpct_sampler **)o, root, NULL, NULL, NULL, NULL, a);
  if (rc != RPCT_OK) rpct_sampler_del(root); /* still ours on failure */
  return rc;
}
static rpct_sampling_decision yes(void *d, const rpct_sampling_params *p) {
  (void)d, (void)p;
  return RPCT_SAMPLING_RECORD_AND_SAMPLE;
}
static int c_custom(void **o, const rpct_allocator *a) {
  return rpct_sampler_custom_new((rpct_sampler **)o, yes, NULL, "Yes", a);
}
static int c_sampler_env(void **o, const rpct_allocator *a) {
  return rpct_sampler_from_env((rpct_sampler **)o, a);
}
static void d_sampler(void *s) { rpct_sampler_del(s); }

static int c_resource_env(void **o, const rpct_allocator *a) {
  return rpct_resource_from_env((rpct_resource **)o, a);
}
static void d_resource(void *r) { rpct_resource_del(r); }

static int c_memory(void **o, const rpct_allocator *a) {
  return rpct_memory_exporter_new((rpct_exporter **)o, a);
}
static int c_console(void **o, const rpct_allocator *a) {
  return rpct_console_exporter_new((rpct_exporter **)o, stdout, a);
}
static void d_exporter(void *e) { rpct_exporter_del(e); }

static int c_simple(void **o, const rpct_allocator *a) {
  rpct_exporter *e;
  if (rpct_memory_exporter_new(&e, NULL) != RPCT_OK) return RPCT_ERR_NO_MEMORY;
  int rc = rpct_simple_processor_new((rpct_processor **)o, e, a);
  if (rc != RPCT_OK) rpct_exporter_del(e);
  return rc;
}
static void d_processor(void *p) { rpct_processor_del(p); }

static int c_tracer_env(void **o, const rpct_allocator *a) {
  rpct_tracer_options *opts;
  if (rpct_tracer_options_new(&opts) != RPCT_OK) return RPCT_ERR_NO_MEMORY;
  rpct_tracer_options_set_allocator(opts, a);
  int rc = rpct_tracer_new((rpct_tracer **)o, opts);
  rpct_tracer_options_del(opts);
  return rc;
}
static void d_tracer(void *t) { rpct_tracer_del(t); }

static void test_every_constructor_survives_allocation_failure(void **state) {
  (void)state;
  setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", 1);
  setenv("OTEL_TRACES_SAMPLER_ARG", "0.5", 1);
  setenv("OTEL_RESOURCE_ATTRIBUTES", "a=1,b=2,service.name=x", 1);
  setenv("OTEL_TRACES_EXPORTER", "console", 1);
  struct {
    const char *name;
    ctor_fn ctor;
    dtor_fn dtor;
    long min_allocs;
  } table[] = {
      {"always_on sampler", c_always_on, d_sampler, 1},
      {"ratio sampler", c_ratio, d_sampler, 1},
      {"parent-based sampler", c_parent_based, d_sampler, 1},
      {"custom sampler", c_custom, d_sampler, 1},
      {"sampler from env", c_sampler_env, d_sampler, 1},
      {"resource from env", c_resource_env, d_resource, 1},
      {"memory exporter", c_memory, d_exporter, 1},
      {"console exporter", c_console, d_exporter, 1},
      {"simple processor", c_simple, d_processor, 1},
      {"tracer from env", c_tracer_env, d_tracer, 1},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    long n = walk(table[i].name, table[i].ctor, table[i].dtor);
    printf("%-22s %ld allocations, each failure handled\n", table[i].name, n);
    /* The walk really passed through failures. */
    if (n < table[i].min_allocs)
      fail_msg("%s: only %ld allocations, want >= %ld", table[i].name, n, table[i].min_allocs);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_constructor_survives_allocation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
