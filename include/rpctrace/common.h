/*
 * rpctrace — common definitions: export macro, error codes, allocator,
 * diagnostics, clock.
 *
 * Thread safety: rpct_strerror(), rpct_now_unix_ns() and rpct_diag_*() may be
 * called from any thread at any time. rpct_set_diag_handler() may be called
 * from any thread; a handler may be running on another thread while it is
 * replaced, so the old handler's data must stay valid until the program no
 * longer traces.
 */
#ifndef RPCTRACE_COMMON_H
#define RPCTRACE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RPCT_BUILDING_LIBRARY)
#define RPCT_API __attribute__((visibility("default")))
#else
#define RPCT_API
#endif

#define RPCT_VERSION_MAJOR 0
#define RPCT_VERSION_MINOR 1
#define RPCT_VERSION_PATCH 0
#define RPCT_VERSION_STRING "0.1.0"

/*
 * Error codes. Every function that can fail returns RPCT_OK (0) or one of
 * these negative values.
 */
typedef enum rpct_error {
  RPCT_OK = 0,
  RPCT_ERR_INVALID_ARGUMENT = -1, /* a NULL or out-of-range argument */
  RPCT_ERR_NO_MEMORY = -2,        /* the allocator returned NULL */
  RPCT_ERR_PARSE = -3,            /* input text does not follow its grammar */
  RPCT_ERR_NO_SPACE = -4,         /* a caller buffer or fixed capacity is too small */
  RPCT_ERR_STATE = -5,            /* wrong state: span already ended, shut down, ... */
  RPCT_ERR_LIMIT = -6,            /* a configured limit was reached; the item was dropped */
  RPCT_ERR_NOT_FOUND = -7,        /* the key or item does not exist */
  RPCT_ERR_TIMEOUT = -8,          /* the operation did not finish within its timeout */
  RPCT_ERR_EXPORT = -9,           /* an exporter failed to deliver spans */
  RPCT_ERR_IO = -10,              /* an I/O operation failed */
  RPCT_ERR_UNSUPPORTED = -11      /* recognised but not supported here */
} rpct_error;

/* The message for an error code; never NULL ("unknown error" for others).
 * The string is static. Thread-safe. */
RPCT_API const char *rpct_strerror(int err);

/*
 * Allocator hook, as in protobuf-c: every object rpctrace allocates on the
 * heap goes through the allocator given to its constructor. A NULL
 * `const rpct_allocator *` means the C library's malloc and free.
 * `alloc` returns NULL on failure; `free` accepts NULL. Both must be callable
 * from any thread that uses the objects created with them.
 */
typedef struct rpct_allocator {
  void *(*alloc)(void *data, size_t size);
  void (*free)(void *data, void *ptr);
  void *data;
} rpct_allocator;

/*
 * Diagnostics. rpctrace never prints on its own initiative except through
 * this handler: invalid configuration, dropped data, export failures.
 * The default handler writes "rpctrace: <message>\n" to stderr.
 * `msg` is only valid during the call. Pass NULL to restore the default.
 * The handler may be called from any thread, including the export thread.
 */
typedef void (*rpct_diag_fn)(void *data, const char *msg);
RPCT_API void rpct_set_diag_handler(rpct_diag_fn fn, void *data);

/* Current time in nanoseconds since the Unix epoch (CLOCK_REALTIME). */
RPCT_API uint64_t rpct_now_unix_ns(void);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_COMMON_H */
