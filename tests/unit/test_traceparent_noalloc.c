/*
 * Parsing and formatting trace context allocates nothing. Every heap
 * allocation of the process is counted: in a plain build by replacing
 * malloc and friends (forwarding to glibc's __libc_* functions); under a
 * sanitizer, whose allocator cannot be replaced, through its malloc hook.
 * The test first proves that the counter sees an allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpctrace/rpctrace.h"

static volatile size_t n_allocs;
static volatile int counting;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* From the sanitizer runtime's allocator interface (declared here because
 * gcc's Debian packages do not install its header). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t size) {
  (void)p, (void)size;
  if (counting) n_allocs++;
}
static void on_free(const volatile void *p) { (void)p; }
static void install_hook(void) { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void *aligned_alloc(size_t a, size_t n);
int posix_memalign(void **out, size_t a, size_t n);
void *malloc(size_t n) {
  if (counting) n_allocs++;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  if (counting) n_allocs++;
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  if (counting) n_allocs++;
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n) {
  if (counting) n_allocs++;
  return __libc_memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n) {
  if (counting) n_allocs++;
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12; /* ENOMEM */
}
void free(void *p) { __libc_free(p); }
static void install_hook(void) {}
#endif

static void *(*volatile malloc_fn)(size_t) = malloc;

static void test_allocation_counter_sees_malloc(void **state) {
  (void)state;
  counting = 1;
  n_allocs = 0;
  void *p = malloc_fn(32);
  counting = 0;
  free(p);
  assert_int_equal(n_allocs, 1);
}

static const char *const inputs[] = {
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future",
    " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\t",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    "garbage",
};

static void test_traceparent_parse_and_format_allocate_nothing(void **state) {
  (void)state;
  rpct_span_context ctx;
  char buf[RPCT_TRACEPARENT_LEN + 1], log[RPCT_LOG_IDS_LEN + 1];
  int ok = 0;
  counting = 1;
  n_allocs = 0;
  for (int round = 0; round < 1000; round++) {
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
      if (rpct_traceparent_parse(inputs[i], strlen(inputs[i]), &ctx) == RPCT_OK) {
        ok += rpct_traceparent_format(&ctx, buf, sizeof buf) == RPCT_TRACEPARENT_LEN;
        ok += rpct_span_context_format_log(&ctx, log, sizeof log) == RPCT_LOG_IDS_LEN;
      }
    }
  }
  counting = 0;
  assert_int_equal(n_allocs, 0);
  assert_int_equal(ok, 1000 * 3 * 2);
}

static void test_tracestate_parse_and_id_generation_allocate_nothing(void **state) {
  (void)state;
  static const char ts[] = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,,vendor@tenant=x y";
  rpct_tracestate out;
  rpct_trace_id tid;
  rpct_span_id sid;
  int ok = 0;
  counting = 1;
  n_allocs = 0;
  for (int round = 0; round < 1000; round++) {
    ok += rpct_tracestate_parse(ts, sizeof ts - 1, &out) == RPCT_OK;
    rpct_trace_id_generate(&tid);
    rpct_span_id_generate(&sid);
  }
  counting = 0;
  assert_int_equal(n_allocs, 0);
  assert_int_equal(ok, 1000);
}

int main(void) {
  install_hook();
  /* Warm up the per-thread id generator outside the counted region: its
   * first use on a thread registers a fork handler, which glibc may
   * allocate for; that happens once per process, not per call. */
  rpct_trace_id tid;
  rpct_trace_id_generate(&tid);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allocation_counter_sees_malloc),
      cmocka_unit_test(test_traceparent_parse_and_format_allocate_nothing),
      cmocka_unit_test(test_tracestate_parse_and_id_generation_allocate_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
