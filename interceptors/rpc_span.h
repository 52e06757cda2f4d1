/*
 * The span of one RPC, as the tracing filters record it: facts on the RPC
 * path, attributes on the export thread (src/deferred.h says why).
 *
 * On the RPC path a call's span costs its ids, two clock reads, the method
 * and the server's name copied once, the status, and the peer string gRPC
 * core hands out; everything the conventions derive from them (span name,
 * rpc.* attributes per semconv mode, server.address/port, network.peer.*,
 * span status, message events, metadata attributes) is written by
 * rpct__rpc_span_build, from the record, wherever the record is exported.
 *
 * The record lives in the filter's call data, which the dispatcher does not
 * zero (rpct_filter.call_data_zeroed): every field is written before it is
 * read.
 *
 * Thread safety: one call's functions are serialised by the dispatcher;
 * different calls' on any threads. The build reads only the record and the
 * tracing configuration.
 */
#ifndef RPCTRACE_RPC_SPAN_H
#define RPCTRACE_RPC_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deferred.h"
#include "tracing.h"

/* The facts kept beside the deferred header; variable parts (texts,
 * events, metadata values, a link) follow as tagged entries. */
typedef struct rpct__rpc_facts {
  rpct__deferred h;
  int32_t code;     /* grpc_status_code; -1 until the status is known */
  uint8_t side;     /* RPCT_SIDE_* */
  bool other;       /* server: a method it does not recognise (tracing.h) */
  bool server_is_target; /* the server text is a channel target (client), else an authority */
  uint32_t n_msgs[2];  /* messages sent [0] and received [1], all of them */
  uint32_t n_events;    /* message events kept as entries */
  uint32_t dropped_events; /* message events past the span limit or the record */
  uint16_t dropped_md; /* metadata values that did not fit */
  uint16_t method_off, method_len;
  uint16_t server_off, server_len;
  uint16_t peer_off, peer_len;
  uint16_t msg_off, msg_len;
  uint16_t entries_off; /* first tagged entry; entries run to h.size */
} rpct__rpc_facts;

typedef struct rpct__rpc_span {
  rpct_span_context ctx; /* the span's context: children, propagation */
  bool recording;
  union {
    rpct__rpc_facts f;
    unsigned char bytes[RPCT__DEFERRED_MAX];
  } rec;
} rpct__rpc_span;

/*
 * Start the span of a call on `side` for method `m` (borrowed), child of
 * `parent` (NULL or invalid: a root), with `link` (public endpoint: the
 * caller's context, or NULL). Returns whether it records; ctx is set
 * either way.
 */
bool rpct__rpc_span_start(rpct__rpc_span *s, const rpct__tracing_config *c, unsigned side,
                          const rpct__method *m, const rpct_span_context *parent,
                          const rpct_span_context *link);

/* The server's name: a client channel's target (is_target) or a request's
 * :authority. Copied. */
void rpct__rpc_span_server(rpct__rpc_span *s, const char *text, size_t len, bool is_target);

/* The peer of `call` (grpc_call_get_peer: the one allocation, gRPC's). */
void rpct__rpc_span_peer(rpct__rpc_span *s, struct grpc_call *call);

/* A message sent or received, `bytes` long (kept when message events are
 * on). */
void rpct__rpc_span_message(rpct__rpc_span *s, const rpct__tracing_config *c, bool sent,
                            size_t bytes);

/* The allow-listed values of `keys` found in md[0..n). */
void rpct__rpc_span_metadata(rpct__rpc_span *s, const rpct__name_list *keys, rpct__md_kind kind,
                             const rpct_md *md, size_t n);

/* The call's status (message copied when the span will be an error). */
void rpct__rpc_span_status(rpct__rpc_span *s, const rpct_call_status *st);

/* End (end_unix_ns 0: now): the record goes to the processor. */
void rpct__rpc_span_end(rpct__rpc_span *s, uint64_t end_unix_ns);

#endif /* RPCTRACE_RPC_SPAN_H */
