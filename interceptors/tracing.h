/*
 * Internal declarations shared by the tracing filters (client_filter.c,
 * server_filter.c) and tracing_config.c: the configuration read once from
 * the environment, and what turns a call into a span the same way on both
 * sides (names, rpc.* attributes, status mapping, address parsing, message
 * events, the metadata allow-list). Names rpct__tracing_*. Not installed.
 *
 * Thread safety: rpct__tracing_configure() writes the configuration before
 * the first traced call (rpct_init; tests between test cases); every other
 * function only reads it and may run on any thread.
 */
#ifndef RPCTRACE_TRACING_H
#define RPCTRACE_TRACING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "interceptors.h"
#include "rpctrace/rpctrace.h"

/* ---- configuration (tracing_config.c; the variables are documented there) ---- */

#define RPCT__ENV_SEMCONV "OTEL_SEMCONV_STABILITY_OPT_IN"
#define RPCT__ENV_PROPAGATORS "OTEL_PROPAGATORS"
#define RPCT__ENV_EXCLUDE "RPCTRACE_GRPC_EXCLUDE"
#define RPCT__ENV_INCLUDE "RPCTRACE_GRPC_INCLUDE"
#define RPCT__ENV_PUBLIC_ENDPOINT "RPCTRACE_GRPC_PUBLIC_ENDPOINT"
#define RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE "RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE"
#define RPCT__ENV_MESSAGE_EVENTS "RPCTRACE_GRPC_MESSAGE_EVENTS"
#define RPCT__ENV_REQUEST_METADATA "RPCTRACE_GRPC_REQUEST_METADATA"
#define RPCT__ENV_RESPONSE_METADATA "RPCTRACE_GRPC_RESPONSE_METADATA"
#define RPCT__ENV_SPAN_NAMES "RPCTRACE_GRPC_SPAN_NAMES"
#define RPCT__ENV_KNOWN_METHODS "RPCTRACE_GRPC_KNOWN_METHODS"

/* Attribute sets (bits of rpct__tracing_config.semconv). */
#define RPCT__SEMCONV_OLD 1u /* rpc.system, rpc.service, rpc.method=Method, ... */
#define RPCT__SEMCONV_NEW 2u /* rpc.system.name, rpc.method=pkg.Service/Method, ... */

/* Propagators, in the order OTEL_PROPAGATORS lists them. */
typedef enum rpct__propagator {
  RPCT__PROP_TRACECONTEXT = 1,
  RPCT__PROP_BAGGAGE,
  RPCT__PROP_B3,
  RPCT__PROP_B3MULTI,
  RPCT__PROP_GRPC_TRACE_BIN,
  RPCT__PROP_COUNT_ /* one past the last */
} rpct__propagator;

/* A list of names kept in fixed storage: at most RPCT__LIST_MAX entries and
 * RPCT__LIST_BYTES bytes of text (more is reported and dropped). */
#define RPCT__LIST_MAX 32
#define RPCT__LIST_BYTES 1024
#define RPCT__MD_KEY_MAX 128 /* longest metadata key the allow-lists accept */

typedef struct rpct__name_list {
  uint8_t n;
  struct {
    uint16_t off, len;
  } at[RPCT__LIST_MAX];
  uint16_t used;
  char buf[RPCT__LIST_BYTES];
} rpct__name_list;

typedef struct rpct__tracing_config {
  unsigned semconv;                       /* RPCT__SEMCONV_* bits, never 0 */
  uint8_t propagators[RPCT__PROP_COUNT_]; /* configured order, no duplicates */
  uint8_t n_propagators;
  bool public_endpoint;
  /* Public endpoint only: pass the caller's baggage on to the calls the
   * handler makes (RPCTRACE_GRPC_PUBLIC_ENDPOINT_BAGGAGE=keep). */
  bool public_endpoint_keeps_baggage;
  bool message_events;
  bool a72_names;
  bool include_set;                 /* RPCTRACE_GRPC_INCLUDE was given: only `include` is traced */
  rpct__name_list include, exclude; /* "pkg.Service" or "pkg.Service/Method" */
  rpct__name_list known;            /* same form: recognised besides registered methods */
  rpct__name_list request_md, response_md; /* lowercase metadata keys */
} rpct__tracing_config;

/* The configuration the filters read. Statically initialised to the
 * defaults (so filters run without rpct__tracing_configure() behave as with
 * an empty environment); written only by rpct__tracing_configure() (see the
 * thread-safety note above). */
extern rpct__tracing_config rpct__tracing;

bool rpct__tracing_propagator_on(const rpct__tracing_config *c, rpct__propagator p);

/* ---- the method of a call ---- */

typedef struct rpct__method {
  const char *full; /* "pkg.Service/Method" (the path without its leading '/') */
  size_t full_len;
  const char *service; /* "pkg.Service"; empty when the path has no '/' */
  size_t service_len;
  const char *name; /* "Method" */
  size_t name_len;
  /* A server call for a method the server did not register although it
   * registers methods: recorded as rpc.method "_OTHER" with the path in
   * rpc.method_original, and a span name that does not carry it (a client
   * choosing paths must not choose span names). Set by the caller. */
  bool other;
} rpct__method;

/* Split a gRPC path ("/pkg.Service/Method"; `path` borrowed, the result
 * points into it). NULL or empty gives an all-empty method. */
void rpct__tracing_method(const char *path, size_t len, rpct__method *out);

/* Whether the include/exclude lists let this method be traced. */
bool rpct__tracing_should_trace(const rpct__tracing_config *c, const rpct__method *m);

/* Whether a server call for `m`, which arrived with `registration`
 * (RPCT_METHOD_*), is for a method the server does not recognise: not
 * registered by a server that registers methods, nor in
 * RPCTRACE_GRPC_KNOWN_METHODS. */
bool rpct__tracing_method_is_other(const rpct__tracing_config *c, const rpct__method *m,
                                   unsigned registration);

/* The span name ("pkg.Service/Method"; "grpc" for an unknown or `other`
 * method; with A72 names "Sent.…" on the client and "Recv.…" on the server)
 * into buf (NUL-terminated, truncated to fit). Returns its length. */
#define RPCT__SPAN_NAME_MAX 1024
size_t rpct__tracing_span_name(const rpct__tracing_config *c, const rpct__method *m, unsigned side,
                               char buf[RPCT__SPAN_NAME_MAX]);

/* rpc.system / rpc.system.name / rpc.service / rpc.method /
 * rpc.method.deprecated / rpc.method_original per the semconv mode. */
void rpct__tracing_set_rpc_attributes(const rpct__tracing_config *c, rpct_span *span,
                                      const rpct__method *m);

/* ---- addresses (never resolved) ---- */

typedef struct rpct__hostport {
  const char *host; /* points into the parsed text (or a caller buffer) */
  size_t host_len;
  int port; /* -1: none */
} rpct__hostport;

/* "host", "host:port", "[v6]", "[v6]:port" (brackets removed). False for
 * an empty host or a bad port. */
bool rpct__tracing_parse_hostport(const char *s, size_t len, rpct__hostport *out);

/* The server a client channel target names: dns:///h:p, dns://auth/h:p,
 * dns:h:p, ipv4:a:p[,…], ipv6:[a]:p[,…], unix:/p, unix:p, unix:///p,
 * unix-abstract:n, xds:///n[:p], h:p, h, [v6]:p. Other schemes: the text
 * after "scheme:" (and after "//authority/"), as the address alone.
 * False only for an empty target. */
bool rpct__tracing_parse_target(const char *target, size_t len, rpct__hostport *out);

/* A peer as grpc_call_get_peer() writes it ("ipv4:a:p", "ipv6:[a]:p" or
 * with percent-encoded brackets, "unix:/p", "unix-abstract:n"), decoded into
 * buf (cap bytes; out->host points into it). */
bool rpct__tracing_parse_peer(const char *peer, char *buf, size_t cap, rpct__hostport *out);

/* server.address / server.port (port only when known). */
void rpct__tracing_set_server(rpct_span *span, const rpct__hostport *hp);

/* ---- status ---- */

/* "OK" … "UNAUTHENTICATED"; codes outside 0..16 read as "UNKNOWN". */
const char *rpct__tracing_status_name(int code);

/* network.peer.address/port from a peer string as grpc_call_get_peer()
 * writes it. */
void rpct__tracing_set_peer(rpct_span *span, const char *peer);
/* The status attributes of the semconv mode and the span status (client:
 * every non-OK code is an ERROR; server: only UNKNOWN, DEADLINE_EXCEEDED,
 * UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS) with the status message
 * as description. Codes outside 0..16 read as UNKNOWN. */
void rpct__tracing_set_status(const rpct__tracing_config *c, rpct_span *span, unsigned side,
                              int code, const char *message, size_t message_len);

/* ---- message events and metadata ---- */

/* One message event (number `id` in its direction, `time_unix_ns` 0: now)
 * in the naming of the configuration, whatever the semconv mode. */
void rpct__tracing_message_event_at(const rpct__tracing_config *c, rpct_span *span, bool sent,
                                    uint32_t id, uint64_t bytes, uint64_t time_unix_ns);

/* Which metadata an allow-list reads, for its attribute keys. */
typedef enum rpct__md_kind {
  RPCT__MD_REQUEST,         /* rpc.grpc.request.metadata.* / rpc.request.header.* */
  RPCT__MD_RESPONSE_HEADER, /* rpc.grpc.response.metadata.* / rpc.response.header.* */
  RPCT__MD_RESPONSE_TRAILER /* (stable set only) rpc.response.trailer.* */
} rpct__md_kind;

/* The values of one allow-listed key as string[] attributes keyed per the
 * semconv mode. */
void rpct__tracing_set_metadata(const rpct__tracing_config *c, rpct_span *span, const char *key,
                                size_t key_len, rpct__md_kind kind, const char *const *values,
                                const size_t *lens, size_t n);

/* ---- propagation ---- */

/* Metadata keys the propagators use. */
#define RPCT__MD_TRACEPARENT "traceparent"
#define RPCT__MD_TRACESTATE "tracestate"
#define RPCT__MD_BAGGAGE "baggage"

/* W3C baggage is at most this long (all values together). */
#define RPCT__BAGGAGE_MAX 8192

/* The context tracecontext carries in md[0..n): exactly one traceparent
 * (none or several: false), then every tracestate value combined in order.
 * `out` is the invalid context on false. */
bool rpct__tracing_extract_tracecontext(const rpct_md *md, size_t n, rpct_span_context *out);

static inline bool rpct__md_key_is(const rpct_md *m, const char *key, size_t key_len) {
  return m->key_len == key_len && (key_len == 0 || memcmp(m->key, key, key_len) == 0);
}

#endif /* RPCTRACE_TRACING_H */
