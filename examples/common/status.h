/*
 * examples/common — a gRPC status as a value: the code and a message.
 *
 * Handlers return one (ex_ok(), ex_error(...)); client helpers return the
 * status the server sent. It is a plain struct, copied by value, owning
 * nothing, so it can be returned from any function without cleanup.
 *
 * Error codes of the helpers themselves (EX_ERR_*) are negative ints, never
 * gRPC codes: a helper that returns one tells you *why your side* could
 * not go on; the RPC's status tells you how the RPC ended.
 *
 * Thread safety: every function here may be called from any thread.
 */
#ifndef EXAMPLES_COMMON_STATUS_H
#define EXAMPLES_COMMON_STATUS_H

#include <grpc/status.h>

#define EX_STATUS_MESSAGE_MAX 256

typedef struct ex_status {
  grpc_status_code code;
  char message[EX_STATUS_MESSAGE_MAX]; /* NUL-terminated, empty for OK */
} ex_status;

/* Errors of the helpers (not gRPC status codes). */
#define EX_ERR_CALL (-1)    /* the call failed: cancelled, deadline, peer gone; see its status */
#define EX_ERR_MESSAGE (-2) /* a message could not be encoded or decoded */
#define EX_ERR_USAGE (-3)   /* a helper used out of order, e.g. two replies to a unary call */
#define EX_ERR_MEMORY (-4)  /* out of memory */
#define EX_ERR_LISTEN (-5)  /* a server cannot listen on the address given */

/* OK with an empty message. */
ex_status ex_ok(void);

/* `code` with a printf-formatted message (cut to EX_STATUS_MESSAGE_MAX - 1). */
ex_status ex_error(grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "OK", "NOT_FOUND", ...; "UNKNOWN_CODE" for a value gRPC does not define.
 * The string is static. */
const char *ex_status_code_name(grpc_status_code code);

/* A one-line description of an EX_ERR_* value (static string). */
const char *ex_strerror(int err);

#endif /* EXAMPLES_COMMON_STATUS_H */
