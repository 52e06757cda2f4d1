/*
 * Linked into every test program (as a source of the executable, so a
 * static library cannot leave it out): tests/CMakeLists.txt adds it.
 *
 * Under ThreadSanitizer: Debian's gRPC core and abseil are not instrumented,
 * so TSan sees their memory accesses but not the futex-based locking that
 * orders them, and reports races inside gRPC that are not there. Ignore
 * interceptor calls made from uninstrumented libraries; everything compiled
 * with the sanitizer (the harness, rpctrace) is still checked. TSAN_OPTIONS
 * given at run time still apply on top of this.
 */
#if defined(__SANITIZE_THREAD__)
#define RPCT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RPCT_TSAN 1
#endif
#endif

#ifdef RPCT_TSAN
__attribute__((visibility("default"))) const char *__tsan_default_options(void);
__attribute__((visibility("default"))) const char *__tsan_default_options(void) {
  return "ignore_noninstrumented_modules=1";
}
#else
/* ISO C forbids an empty translation unit. */
typedef int rpct_tsan_options_unused;
#endif
