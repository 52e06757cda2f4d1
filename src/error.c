/* The error table and its strerror. */
#include "internal.h"

const char *rpct_strerror(int err) {
  switch ((rpct_error)err) {
    case RPCT_OK: return "success";
    case RPCT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case RPCT_ERR_NO_MEMORY: return "out of memory";
    case RPCT_ERR_PARSE: return "malformed input";
    case RPCT_ERR_NO_SPACE: return "buffer or capacity too small";
    case RPCT_ERR_STATE: return "invalid state for this operation";
    case RPCT_ERR_LIMIT: return "limit reached, item dropped";
    case RPCT_ERR_NOT_FOUND: return "not found";
    case RPCT_ERR_TIMEOUT: return "timed out";
    case RPCT_ERR_EXPORT: return "export failed";
    case RPCT_ERR_IO: return "I/O error";
    case RPCT_ERR_UNSUPPORTED: return "not supported";
  }
  return "unknown error";
}
