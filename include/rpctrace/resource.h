/*
 * rpctrace — resource: the attributes that describe the traced process
 * (service.name, telemetry.sdk.*, OTEL_RESOURCE_ATTRIBUTES).
 *
 * Thread safety: build a resource on one thread; once handed to a tracer it
 * is read-only and any thread may call the getters. rpct_resource_set() and
 * rpct_resource_del() must not race with any other use.
 */
#ifndef RPCTRACE_RESOURCE_H
#define RPCTRACE_RESOURCE_H

#include "rpctrace/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rpct_resource rpct_resource;

/* An empty resource. `*out` untouched on failure; `alloc` may be NULL. */
RPCT_API int rpct_resource_new(rpct_resource **out, const rpct_allocator *alloc);

/*
 * The resource the OpenTelemetry SDK specification asks for:
 * telemetry.sdk.name=rpctrace, telemetry.sdk.language=c,
 * telemetry.sdk.version, the attributes of OTEL_RESOURCE_ATTRIBUTES
 * (percent-decoded "k=v,k=v"; if any member is malformed the whole variable
 * is discarded and reported once through the diag handler), and
 * service.name from OTEL_SERVICE_NAME, else from OTEL_RESOURCE_ATTRIBUTES,
 * else "unknown_service:<executable name>" ("unknown_service" when the
 * name cannot be read).
 */
RPCT_API int rpct_resource_from_env(rpct_resource **out, const rpct_allocator *alloc);

/* Set `key` to `value` (both NUL-terminated, copied), replacing an existing
 * value. RPCT_ERR_INVALID_ARGUMENT for an empty key. */
RPCT_API int rpct_resource_set(rpct_resource *r, const char *key, const char *value);

/* The value of `key` or NULL. Owned by `r`, valid until it is changed. */
RPCT_API const char *rpct_resource_get(const rpct_resource *r, const char *key);

/* Number of attributes, and the i-th in insertion order (pointers owned by
 * `r`). RPCT_ERR_NOT_FOUND when i is out of range. */
RPCT_API size_t rpct_resource_count(const rpct_resource *r);
RPCT_API int rpct_resource_at(const rpct_resource *r, size_t i, const char **key,
                              const char **value);

/* Free `r`; NULL accepted. */
RPCT_API void rpct_resource_del(rpct_resource *r);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_RESOURCE_H */
