#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>

ex_status ex_ok(void) {
  ex_status st = {.code = GRPC_STATUS_OK};
  return st;
}

ex_status ex_error(grpc_status_code code, const char *fmt, ...) {
  ex_status st = {.code = code};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st.message, sizeof st.message, fmt, ap);
  va_end(ap);
  return st;
}

const char *ex_status_code_name(grpc_status_code code) {
  static const char *const names[] = {
      [GRPC_STATUS_OK] = "OK",
      [GRPC_STATUS_CANCELLED] = "CANCELLED",
      [GRPC_STATUS_UNKNOWN] = "UNKNOWN",
      [GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
      [GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
      [GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
      [GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
      [GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
      [GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
      [GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
      [GRPC_STATUS_ABORTED] = "ABORTED",
      [GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
      [GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
      [GRPC_STATUS_INTERNAL] = "INTERNAL",
      [GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
      [GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
      [GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
  };

  if ((unsigned)code < sizeof names / sizeof names[0]) return names[code];
  return "UNKNOWN_CODE";
}

const char *ex_strerror(int err) {
  switch (err) {
    case 0: return "success";
    case EX_ERR_CALL: return "the call failed (cancelled, deadline exceeded or peer gone)";
    case EX_ERR_MESSAGE: return "a message could not be encoded or decoded";
    case EX_ERR_USAGE: return "helper used out of order";
    case EX_ERR_MEMORY: return "out of memory";
    case EX_ERR_LISTEN: return "cannot listen on that address (in use, or not HOST:PORT?)";
    default: return "unknown error";
  }
}
