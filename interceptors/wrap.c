/*
 * Link-time front end. Linked with -Wl,--wrap=<function> for each function
 * of RPCT__GRPC_FUNCTIONS (the rpctrace::wrap CMake target adds the flags),
 * the application's calls reach __wrap_<function> here, and the real
 * function is __real_<function>.
 */
#include "interceptors.h"

#define REAL_DECL_R(ret, name, params, args) ret __real_##name params;
#define REAL_DECL_V(name, params, args) void __real_##name params;
RPCT__GRPC_FUNCTIONS(REAL_DECL_R, REAL_DECL_V)

#define REAL_ENTRY_R(ret, name, params, args) .name = __real_##name,
#define REAL_ENTRY_V(name, params, args) .name = __real_##name,
static const rpct__grpc_api wrap_api = {RPCT__GRPC_FUNCTIONS(REAL_ENTRY_R, REAL_ENTRY_V)};

const char rpct__front_end[] = "wrap";

/* Before main, and again on each call in case gRPC is called from another
 * constructor that ran first (the store is idempotent). */
__attribute__((constructor)) static void wrap_install(void) { rpct__dispatch_set_api(&wrap_api); }

#define WRAP_R(ret, name, params, args) \
  ret __wrap_##name params;             \
  ret __wrap_##name params {            \
    rpct__dispatch_set_api(&wrap_api);  \
    return rpct__hook_##name args;      \
  }
#define WRAP_V(name, params, args)     \
  void __wrap_##name params;           \
  void __wrap_##name params {          \
    rpct__dispatch_set_api(&wrap_api); \
    rpct__hook_##name args;            \
  }
RPCT__GRPC_FUNCTIONS(WRAP_R, WRAP_V)
