/*
 * LD_PRELOAD front end: librpctrace_preload.so defines the interposed gRPC
 * functions themselves, so a program that links libgrpc dynamically calls
 * these first; each forwards to the next definition (libgrpc's) found with
 * dlsym(RTLD_NEXT). Tracing is configured from the OTEL_* environment at
 * the first traced call and flushed at exit (dispatch.c). A missing symbol
 * can only be met by a program that just called that very function, so it
 * is reported and the program stopped: there is nothing to forward to.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interceptors.h"

const char rpct__front_end[] = "preload";

static rpct__grpc_api preload_api;
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

#define RESOLVE_R(ret, name, params, args) RESOLVE(name)
#define RESOLVE_V(name, params, args) RESOLVE(name)
#define RESOLVE(name)                                                                             \
  do {                                                                                            \
    void *sym = dlsym(RTLD_NEXT, #name);                                                          \
    if (!sym) {                                                                                   \
      fprintf(stderr, "rpctrace: preload: %s not found in the program (%s)\n", #name, dlerror()); \
      abort();                                                                                    \
    }                                                                                             \
    memcpy(&preload_api.name, &sym, sizeof sym);                                                  \
  } while (0);

static void resolve(void) {
  RPCT__GRPC_FUNCTIONS(RESOLVE_R, RESOLVE_V)
  rpct__dispatch_set_api(&preload_api);
}

/* Resolved at the first interposed call, not in a constructor: LD_PRELOAD
 * is inherited by every child process, most of which never call gRPC. */
#define DEFINE_R(ret, name, params, args)                 \
  __attribute__((visibility("default"))) ret name params; \
  ret name params {                                       \
    pthread_once(&resolve_once, resolve);                 \
    return rpct__hook_##name args;                        \
  }
#define DEFINE_V(name, params, args)                       \
  __attribute__((visibility("default"))) void name params; \
  void name params {                                       \
    pthread_once(&resolve_once, resolve);                  \
    rpct__hook_##name args;                                \
  }
RPCT__GRPC_FUNCTIONS(DEFINE_R, DEFINE_V)
