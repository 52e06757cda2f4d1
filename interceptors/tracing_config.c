/*
 * What the tracing filters share: their configuration, read once from the
 * environment into fixed static storage, and the rules that shape a span
 * the same way on the client and the server (names, rpc.* attributes,
 * status mapping, addresses, message events, the metadata allow-list,
 * W3C trace context extraction).
 *
 * | variable                        | default               | values                      |
 * | ------------------------------- | --------------------- | --------------------------- |
 * | OTEL_SEMCONV_STABILITY_OPT_IN   | old attribute set     | comma list: "rpc" = the     |
 * |                                 |                       | stable RPC set only,        |
 * |                                 |                       | "rpc/dup" = old and stable  |
 * |                                 |                       | (wins over "rpc"); entries  |
 * |                                 |                       | of other domains ignored,   |
 * |                                 |                       | silently                    |
 * | OTEL_PROPAGATORS                | tracecontext,baggage  | comma list of tracecontext, |
 * |                                 |                       | baggage, b3 (single         |
 * |                                 |                       | header), b3multi,           |
 * |                                 |                       | grpc-trace-bin, none. All   |
 * |                                 |                       | listed are injected; the    |
 * |                                 |                       | first valid context in list |
 * |                                 |                       | order is extracted, except  |
 * |                                 |                       | grpc-trace-bin: gRPC core   |
 * |                                 |                       | never hands it to a server  |
 * |                                 |                       | (server_filter.c). Unknown  |
 * |                                 |                       | entries: reported, ignored. |
 * |                                 |                       | No known entry: default.    |
 * |                                 |                       | "none" with others: none    |
 * |                                 |                       | wins (reported)             |
 * | RPCTRACE_GRPC_EXCLUDE           | grpc.health.v1.Health | comma list of "pkg.Service" |
 * |                                 |                       | or "pkg.Service/Method"     |
 * |                                 |                       | (leading '/' accepted)      |
 * |                                 |                       | never traced; "none": empty |
 * | RPCTRACE_GRPC_INCLUDE           | unset: every method   | same form; only these are   |
 * |                                 |                       | traced (exclude still       |
 * |                                 |                       | applies); "none": nothing   |
 * | RPCTRACE_GRPC_KNOWN_METHODS     | none                  | same form: methods a server |
 * |                                 |                       | handles without registering |
 * |                                 |                       | them (never "_OTHER", below)|
 * | RPCTRACE_GRPC_PUBLIC_ENDPOINT   | false                 | true: a server span starts  |
 * |                                 |                       | a new trace and links the   |
 * |                                 |                       | inbound context; inbound    |
 * |                                 |                       | baggage is dropped (below)  |
 * | RPCTRACE_GRPC_PUBLIC_ENDPOINT_  | drop                  | public endpoint only:       |
 * |   BAGGAGE                       |                       | "keep" passes the caller's  |
 * |                                 |                       | baggage on to the calls the |
 * |                                 |                       | handler makes; "drop" never |
 * |                                 |                       | (an untrusted caller's      |
 * |                                 |                       | entries would reach every   |
 * |                                 |                       | service downstream)         |
 * | RPCTRACE_GRPC_MESSAGE_EVENTS    | false                 | true: a span event per      |
 * |                                 |                       | message sent or received    |
 * | RPCTRACE_GRPC_REQUEST_METADATA  | none                  | comma list of metadata keys |
 * |                                 |                       | (lowercased) recorded as    |
 * |                                 |                       | request metadata (below)    |
 * |                                 |                       | "-bin" keys refused         |
 * | RPCTRACE_GRPC_RESPONSE_METADATA | none                  | same, for the response's    |
 * |                                 |                       | initial and trailing        |
 * |                                 |                       | metadata (client spans only)|
 * | RPCTRACE_GRPC_SPAN_NAMES        | otel                  | "otel": "pkg.Service/Method"|
 * |                                 |                       | "a72": gRPC A72 names:      |
 * |                                 |                       | "Sent.…" (client), "Recv.…" |
 * |                                 |                       | (server), message events    |
 * |                                 |                       | "Outbound message" /        |
 * |                                 |                       | "Inbound message"           |
 *
 * Lists hold at most RPCT__LIST_MAX entries and RPCT__LIST_BYTES bytes;
 * entries past that are reported and dropped. Keywords (propagator names,
 * "rpc", "none", "otel", "a72") compare case-insensitively, method names
 * exactly. Every bad value is reported once (rpct__diag_once, keyed by the
 * variable) with the variable's name and its default; the valid rest of the
 * value is used, and a list left with no valid entry keeps its default.
 *
 * Attribute sets (see DESIGN.md "Spans, attributes and status"; the stable
 * set is that of the OpenTelemetry RPC and gRPC conventions v1.45):
 *   old     rpc.system="grpc", rpc.service, rpc.method="Method",
 *           rpc.grpc.status_code (int)
 *   rpc     rpc.system.name="grpc", rpc.method="pkg.Service/Method",
 *           rpc.status_code (the code's name), error.type (the code's name,
 *           ERROR only)
 *   rpc/dup both. rpc.method is the one key the two sets give different
 *           values: it holds the stable value ("pkg.Service/Method"), and
 *           the old short name goes to rpc.method.deprecated, as
 *           OpenTelemetry's Java instrumentation does in dup mode.
 *   all     server.address, server.port, network.peer.address,
 *           network.peer.port. A client target that names no one server
 *           (an ipv4:/ipv6: address list, another resolver's scheme) is
 *           server.address whole, with no server.port.
 * Status codes outside 0..16 are read as UNKNOWN (2), as gRPC does.
 *
 * A server that registers methods (grpc_server_register_method) and gets a
 * call for another path records it as rpc.method "_OTHER" with
 * rpc.method_original (stable set), and names the span "grpc" in every set:
 * a client cannot grow the number of span names. A server with no
 * registered method cannot tell, and records paths as they come. A server
 * that registers some methods and serves others through
 * grpc_server_request_call names those in RPCTRACE_GRPC_KNOWN_METHODS, as
 * the conventions ask of an instrumentation that could otherwise turn valid
 * methods into _OTHER.
 *
 * Metadata (the allow-lists) is string[] in every set, one element per
 * value: old set rpc.grpc.request.metadata.<key> and
 * rpc.grpc.response.metadata.<key> (the response's initial metadata);
 * stable set rpc.request.header.<key>, rpc.response.header.<key> and
 * rpc.response.trailer.<key> (the response's trailing metadata, client
 * spans).
 *
 * Message events: "rpc.message" with rpc.message.type SENT/RECEIVED,
 * rpc.message.id (from 1 in each direction, as the RPC conventions count)
 * and rpc.message.uncompressed_size. The stable set deprecates the event:
 * with it alone, a call records the events only once it has carried a
 * second message in some direction (unary calls record none). With A72
 * names: "Outbound message" / "Inbound message" with sequence-number (from
 * 0 in each direction, gRPC's own numbering) and message-size. A span keeps
 * RPCT_SPAN_MAX_EVENTS events; later ones are counted in its
 * dropped_events.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include "internal.h"
#include "tracing.h"

#define DEFAULT_EXCLUDE "grpc.health.v1.Health"
#define DEFAULT_PROPAGATORS "tracecontext,baggage"

rpct__tracing_config rpct__tracing = {
    .semconv = RPCT__SEMCONV_OLD,
    .propagators = {RPCT__PROP_TRACECONTEXT, RPCT__PROP_BAGGAGE},
    .n_propagators = 2,
    .exclude = {.n = 1,
                .at = {{0, sizeof DEFAULT_EXCLUDE - 1}},
                .used = sizeof DEFAULT_EXCLUDE - 1,
                .buf = DEFAULT_EXCLUDE},
};

/* ---- comma lists ---- */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* The next trimmed, non-empty entry of s[*pos..len) as [*e, *e + *n). */
static bool next_entry(const char *s, size_t len, size_t *pos, const char **e, size_t *n) {
  while (*pos < len) {
    size_t start = *pos;
    const char *comma = memchr(s + start, ',', len - start);
    size_t stop = comma ? (size_t)(comma - s) : len;
    *pos = comma ? stop + 1 : len;
    while (start < stop && is_blank(s[start])) start++;
    while (stop > start && is_blank(s[stop - 1])) stop--;
    if (stop > start) {
      *e = s + start;
      *n = stop - start;
      return true;
    }
  }
  return false;
}

static bool word_is(const char *e, size_t n, const char *word) {
  return strlen(word) == n && strncasecmp(e, word, n) == 0;
}

static bool list_add(rpct__name_list *l, const char *s, size_t n) {
  if (l->n == RPCT__LIST_MAX || (size_t)(RPCT__LIST_BYTES - l->used) < n) return false;
  l->at[l->n].off = l->used;
  l->at[l->n].len = (uint16_t)n;
  memcpy(l->buf + l->used, s, n);
  l->used = (uint16_t)(l->used + n);
  l->n++;
  return true;
}

/* Report a bad entry of `var` once: `what` says why; `def` is the default. */
static void report_entry(const char *var, const char *value, size_t value_len, const char *entry,
                         size_t entry_len, const char *what, const char *def) {
  char qv[RPCT__QUOTE_BUF], qe[RPCT__QUOTE_BUF];
  rpct__diag_once(var, "%s=\"%s\": entry \"%s\" %s; ignored (default: %s)", var,
                  rpct__quote(qv, value, value_len), rpct__quote(qe, entry, entry_len), what, def);
}

/* ---- the variables ---- */

static unsigned read_semconv(void) {
  size_t len, pos = 0, n;
  const char *s = rpct__env_get(RPCT__ENV_SEMCONV, &len), *e;
  bool stable = false, dup = false;
  while (s && next_entry(s, len, &pos, &e, &n)) {
    if (word_is(e, n, "rpc")) stable = true;
    if (word_is(e, n, "rpc/dup")) dup = true;
  }
  if (dup) return RPCT__SEMCONV_OLD | RPCT__SEMCONV_NEW;
  return stable ? RPCT__SEMCONV_NEW : RPCT__SEMCONV_OLD;
}

static const struct {
  const char *name;
  rpct__propagator p;
} propagator_names[] = {
    {"tracecontext", RPCT__PROP_TRACECONTEXT},
    {"baggage", RPCT__PROP_BAGGAGE},
    {"b3", RPCT__PROP_B3},
    {"b3multi", RPCT__PROP_B3MULTI},
    {"grpc-trace-bin", RPCT__PROP_GRPC_TRACE_BIN},
};

static void read_propagators(rpct__tracing_config *c) {
  size_t len, pos = 0, n;
  const char *s = rpct__env_get(RPCT__ENV_PROPAGATORS, &len), *e;
  c->n_propagators = 0;
  bool none = false, unknown = false;
  while (s && next_entry(s, len, &pos, &e, &n)) {
    if (word_is(e, n, "none")) {
      none = true;
      continue;
    }
    size_t k = 0;
    while (k < RPCT__ARRAY_LEN(propagator_names) && !word_is(e, n, propagator_names[k].name)) k++;
    if (k == RPCT__ARRAY_LEN(propagator_names)) {
      if (!unknown)
        report_entry(RPCT__ENV_PROPAGATORS, s, len, e, n, "is not a supported propagator",
                     "\"" DEFAULT_PROPAGATORS "\"");
      unknown = true;
      continue;
    }
    if (!rpct__tracing_propagator_on(c, propagator_names[k].p))
      c->propagators[c->n_propagators++] = (uint8_t)propagator_names[k].p;
  }
  if (none) {
    if (c->n_propagators) {
      char q[RPCT__QUOTE_BUF];
      rpct__diag_once(RPCT__ENV_PROPAGATORS,
                      "%s=\"%s\": \"none\" with other propagators; propagating nothing "
                      "(default: \"%s\")",
                      RPCT__ENV_PROPAGATORS, rpct__quote(q, s, len), DEFAULT_PROPAGATORS);
    }
    c->n_propagators = 0;
  } else if (c->n_propagators == 0) {
    /* Unset, or nothing known in it. */
    c->propagators[0] = RPCT__PROP_TRACECONTEXT;
    c->propagators[1] = RPCT__PROP_BAGGAGE;
    c->n_propagators = 2;
  }
}

/* "pkg.Service" or "pkg.Service/Method": no blank, at most one '/', no
 * empty part. A leading '/' (a gRPC path) is dropped by the caller. */
static bool method_entry_ok(const char *e, size_t n) {
  size_t slashes = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)e[i];
    if (ch <= ' ' || ch == 0x7f) return false;
    if (ch == '/') slashes++;
  }
  return n > 0 && slashes <= 1 && e[0] != '/' && e[n - 1] != '/';
}

/* Fill `l` from `var`; returns false when the variable is unset or left
 * no valid entry, and the caller keeps the default. "none" is the empty
 * list. */
static bool read_method_list(const char *var, rpct__name_list *l, const char *def) {
  size_t len, pos = 0, n;
  const char *s = rpct__env_get(var, &len), *e;
  if (!s) return false;
  l->n = 0;
  l->used = 0;
  if (word_is(s, len, "none")) return true;
  while (next_entry(s, len, &pos, &e, &n)) {
    if (e[0] == '/') e++, n--;
    if (!method_entry_ok(e, n))
      report_entry(var, s, len, e, n, "is not pkg.Service or pkg.Service/Method", def);
    else if (!list_add(l, e, n))
      report_entry(var, s, len, e, n, "does not fit (32 entries, 1024 bytes at most)", def);
  }
  return l->n > 0;
}

static bool md_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static void read_md_list(const char *var, rpct__name_list *l) {
  size_t len, pos = 0, n;
  const char *s = rpct__env_get(var, &len), *e;
  l->n = 0;
  l->used = 0;
  while (s && next_entry(s, len, &pos, &e, &n)) {
    char key[RPCT__MD_KEY_MAX];
    bool ok = n <= sizeof key;
    for (size_t i = 0; ok && i < n; i++) {
      char ch = e[i];
      key[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
      ok = md_key_char(key[i]);
    }
    if (!ok)
      report_entry(var, s, len, e, n, "is not a metadata key", "none");
    else if (n >= 4 && memcmp(key + n - 4, "-bin", 4) == 0)
      report_entry(var, s, len, e, n, "is a binary key, never recorded", "none");
    else if (!list_add(l, key, n))
      report_entry(var, s, len, e, n, "does not fit (32 entries, 1024 bytes at most)", "none");
  }
}

static bool read_public_baggage_keep(void) {
  size_t len;
  const char *s = rpct__env_get(RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE, &len);
  if (!s || word_is(s, len, "drop")) return false;
  if (word_is(s, len, "keep")) return true;
  char q[RPCT__QUOTE_BUF];
  rpct__diag_once(RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE,
                  "%s=\"%s\" is not \"drop\" or \"keep\"; using the default drop",
                  RPCT__ENV_PUBLIC_ENDPOINT_BAGGAGE, rpct__quote(q, s, len));
  return false;
}

static bool read_a72(void) {
  size_t len;
  const char *s = rpct__env_get(RPCT__ENV_SPAN_NAMES, &len);
  if (!s || word_is(s, len, "otel")) return false;
  if (word_is(s, len, "a72")) return true;
  char q[RPCT__QUOTE_BUF];
  rpct__diag_once(RPCT__ENV_SPAN_NAMES,
                  "%s=\"%s\" is not \"otel\" or \"a72\"; using the default otel",
                  RPCT__ENV_SPAN_NAMES, rpct__quote(q, s, len));
  return false;
}

void rpct__tracing_configure(void) {
  rpct__tracing_config *c = &rpct__tracing;
  c->semconv = read_semconv();
  read_propagators(c);
  if (!read_method_list(RPCT__ENV_EXCLUDE, &c->exclude, "\"" DEFAULT_EXCLUDE "\"")) {
    c->exclude.n = 0;
    c->exclude.used = 0;
    list_add(&c->exclude, DEFAULT_EXCLUDE, sizeof DEFAULT_EXCLUDE - 1);
  }
  c->include_set = read_method_list(RPCT__ENV_INCLUDE, &c->include, "unset, every method");
  if (!read_method_list(RPCT__ENV_KNOWN_METHODS, &c->known, "none")) c->known.n = 0;
  c->public_endpoint = rpct__env_bool(RPCT__ENV_PUBLIC_ENDPOINT, false);
  c->public_endpoint_keeps_baggage = read_public_baggage_keep();
  c->message_events = rpct__env_bool(RPCT__ENV_MESSAGE_EVENTS, false);
  read_md_list(RPCT__ENV_REQUEST_METADATA, &c->request_md);
  read_md_list(RPCT__ENV_RESPONSE_METADATA, &c->response_md);
  c->a72_names = read_a72();
}

bool rpct__tracing_propagator_on(const rpct__tracing_config *c, rpct__propagator p) {
  for (size_t i = 0; i < c->n_propagators; i++)
    if (c->propagators[i] == p) return true;
  return false;
}

/* ---- methods ---- */

void rpct__tracing_method(const char *path, size_t len, rpct__method *out) {
  *out = (rpct__method){.full = "", .service = "", .name = ""};
  if (!path || !len) return;
  if (path[0] == '/') path++, len--;
  out->full = path;
  out->full_len = len;
  const char *slash = NULL;
  for (size_t i = len; i > 0 && !slash; i--)
    if (path[i - 1] == '/') slash = path + i - 1;
  if (!slash) {
    out->name = path;
    out->name_len = len;
    return;
  }
  out->service = path;
  out->service_len = (size_t)(slash - path);
  out->name = slash + 1;
  out->name_len = len - out->service_len - 1;
}

static bool list_matches(const rpct__name_list *l, const rpct__method *m) {
  for (size_t i = 0; i < l->n; i++) {
    const char *e = l->buf + l->at[i].off;
    size_t n = l->at[i].len;
    bool whole = memchr(e, '/', n) != NULL;
    const char *s = whole ? m->full : m->service;
    size_t sn = whole ? m->full_len : m->service_len;
    if (sn == n && memcmp(s, e, n) == 0) return true;
  }
  return false;
}

bool rpct__tracing_should_trace(const rpct__tracing_config *c, const rpct__method *m) {
  if (c->include_set && !list_matches(&c->include, m)) return false;
  return !list_matches(&c->exclude, m);
}

bool rpct__tracing_method_is_other(const rpct__tracing_config *c, const rpct__method *m,
                                   unsigned registration) {
  return registration == RPCT_METHOD_UNREGISTERED && !list_matches(&c->known, m);
}

size_t rpct__tracing_span_name(const rpct__tracing_config *c, const rpct__method *m, unsigned side,
                               char buf[RPCT__SPAN_NAME_MAX]) {
  const char *prefix = !c->a72_names ? "" : side == RPCT_SIDE_CLIENT ? "Sent." : "Recv.";
  /* Conventions: {rpc.method}, or {rpc.system.name} when it is unknown or
   * _OTHER. */
  bool named = m->full_len && !m->other;
  const char *name = named ? m->full : "grpc";
  size_t name_len = named ? m->full_len : 4;
  size_t pn = strlen(prefix);
  if (name_len > RPCT__SPAN_NAME_MAX - 1 - pn) name_len = RPCT__SPAN_NAME_MAX - 1 - pn;
  memcpy(buf, prefix, pn);
  memcpy(buf + pn, name, name_len);
  buf[pn + name_len] = '\0';
  return pn + name_len;
}

void rpct__tracing_set_rpc_attributes(const rpct__tracing_config *c, rpct_span *span,
                                      const rpct__method *m) {
  if (!rpct_span_is_recording(span)) return;
  bool dup = (c->semconv & RPCT__SEMCONV_OLD) && (c->semconv & RPCT__SEMCONV_NEW);
  if (c->semconv & RPCT__SEMCONV_OLD) {
    rpct_span_set_str(span, "rpc.system", "grpc");
    if (m->service_len) rpct_span_set_strn(span, "rpc.service", m->service, m->service_len);
    /* rpc/dup: the key rpc.method holds the stable value below; the old
     * short name moves aside (see the top of the file). */
    if (m->name_len)
      rpct_span_set_strn(span, dup ? "rpc.method.deprecated" : "rpc.method", m->name, m->name_len);
  }
  if (c->semconv & RPCT__SEMCONV_NEW) {
    rpct_span_set_str(span, "rpc.system.name", "grpc");
    if (m->other) {
      rpct_span_set_str(span, "rpc.method", "_OTHER");
      if (m->full_len) rpct_span_set_strn(span, "rpc.method_original", m->full, m->full_len);
    } else if (m->full_len) {
      rpct_span_set_strn(span, "rpc.method", m->full, m->full_len);
    }
  }
}

/* ---- addresses ---- */

/* 0..65535 in 1 to 5 digits, else -1. */
static int parse_port(const char *s, size_t n) {
  if (n == 0 || n > 5) return -1;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v <= 65535 ? v : -1;
}

bool rpct__tracing_parse_hostport(const char *s, size_t len, rpct__hostport *out) {
  *out = (rpct__hostport){.host = s, .port = -1};
  if (!s || len == 0) return false;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (!close || close == s + 1) return false;
    size_t rest = len - (size_t)(close + 1 - s);
    if (rest && (close[1] != ':' || (out->port = parse_port(close + 2, rest - 1)) < 0))
      return false;
    out->host = s + 1;
    out->host_len = (size_t)(close - s - 1);
    return true;
  }
  const char *colon = memchr(s, ':', len);
  if (!colon || memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
    /* No port, or a bare IPv6 address (several colons). */
    out->host_len = len;
    return true;
  }
  out->host_len = (size_t)(colon - s);
  out->port = parse_port(colon + 1, len - out->host_len - 1);
  return out->host_len > 0 && out->port >= 0;
}

static bool scheme_ok(const char *s, size_t n) {
  if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (size_t i = 1; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '+' || ch == '-' || ch == '.'))
      return false;
  }
  return true;
}

static bool all_digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return n > 0;
}

/* After "scheme:", drop "//authority/" (URI with an authority). */
static void skip_authority(const char **s, size_t *n) {
  if (*n < 2 || (*s)[0] != '/' || (*s)[1] != '/') return;
  const char *slash = memchr(*s + 2, '/', *n - 2);
  size_t skip = slash ? (size_t)(slash + 1 - *s) : 2;
  *s += skip;
  *n -= skip;
}

/* The whole text as the address, no port. */
static bool verbatim(const char *s, size_t n, rpct__hostport *out) {
  *out = (rpct__hostport){.host = s, .host_len = n, .port = -1};
  return n > 0;
}

/* host[:port] or, when that grammar does not fit, the whole text as the
 * address alone. */
static bool hostport_or_verbatim(const char *s, size_t n, rpct__hostport *out) {
  return rpct__tracing_parse_hostport(s, n, out) || verbatim(s, n, out);
}

bool rpct__tracing_parse_target(const char *t, size_t len, rpct__hostport *out) {
  *out = (rpct__hostport){.host = t, .port = -1};
  if (!t || len == 0) return false;
  const char *colon = memchr(t, ':', len);
  size_t sn = colon ? (size_t)(colon - t) : 0;
  if (!colon || !scheme_ok(t, sn)) return hostport_or_verbatim(t, len, out);
  const char *r = colon + 1;
  size_t rn = len - sn - 1;
  if (word_is(t, sn, "dns") || word_is(t, sn, "xds")) {
    skip_authority(&r, &rn);
    return hostport_or_verbatim(r, rn, out);
  }
  if (word_is(t, sn, "ipv4") || word_is(t, sn, "ipv6")) {
    /* An address list names no one server: the whole target, no port. */
    if (memchr(r, ',', rn)) return verbatim(t, len, out);
    return hostport_or_verbatim(r, rn, out);
  }
  if (word_is(t, sn, "unix") || word_is(t, sn, "unix-abstract")) {
    /* unix:///p has an empty authority: the path starts at the third '/'. */
    if (rn >= 3 && r[0] == '/' && r[1] == '/' && r[2] == '/') r += 2, rn -= 2;
    *out = (rpct__hostport){.host = r, .host_len = rn, .port = -1};
    return rn > 0;
  }
  /* "host:port": gRPC reads a target without a known scheme as dns:///. */
  if (all_digits(r, rn)) return rpct__tracing_parse_hostport(t, len, out);
  /* Another resolver with an empty authority names its server as dns:///
   * does (google-c2p:///spanner.googleapis.com). Any other form
   * (zk://zookeeper:2181/my-server, vsock:3:5000) gives no server name: the
   * whole target, no port, as the conventions say. */
  if (rn > 3 && r[0] == '/' && r[1] == '/' && r[2] == '/') return hostport_or_verbatim(r + 3, rn - 3, out);
  return verbatim(t, len, out);
}

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool rpct__tracing_parse_peer(const char *peer, char *buf, size_t cap, rpct__hostport *out) {
  *out = (rpct__hostport){.host = buf, .port = -1};
  if (!peer || cap == 0) return false;
  /* gRPC writes peers as URIs: IPv6 brackets may be percent-encoded. */
  size_t n = 0;
  for (const char *p = peer; *p && n + 1 < cap; p++) {
    int hi, lo;
    if (p[0] == '%' && (hi = hex_val(p[1])) >= 0 && (lo = hex_val(p[2])) >= 0) {
      buf[n++] = (char)(hi * 16 + lo);
      p += 2;
    } else {
      buf[n++] = *p;
    }
  }
  buf[n] = '\0';
  return rpct__tracing_parse_target(buf, n, out);
}

void rpct__tracing_set_server(rpct_span *span, const rpct__hostport *hp) {
  if (!hp->host_len) return;
  rpct_span_set_strn(span, "server.address", hp->host, hp->host_len);
  if (hp->port >= 0) rpct_span_set_int(span, "server.port", hp->port);
}

/* ---- status ---- */

static const char *const status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
_Static_assert(RPCT__ARRAY_LEN(status_names) == GRPC_STATUS_UNAUTHENTICATED + 1,
               "one name per gRPC status code");

static int normal_code(int code) {
  return code >= 0 && code <= GRPC_STATUS_UNAUTHENTICATED ? code : GRPC_STATUS_UNKNOWN;
}

const char *rpct__tracing_status_name(int code) { return status_names[normal_code(code)]; }

static bool server_error(int code) {
  switch (code) {
    case GRPC_STATUS_UNKNOWN:
    case GRPC_STATUS_DEADLINE_EXCEEDED:
    case GRPC_STATUS_UNIMPLEMENTED:
    case GRPC_STATUS_INTERNAL:
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_DATA_LOSS: return true;
    default: return false;
  }
}

void rpct__tracing_set_peer(rpct_span *span, const char *peer) {
  char buf[256];
  rpct__hostport hp;
  if (rpct__tracing_parse_peer(peer, buf, sizeof buf, &hp) && hp.host_len) {
    rpct_span_set_strn(span, "network.peer.address", hp.host, hp.host_len);
    if (hp.port >= 0) rpct_span_set_int(span, "network.peer.port", hp.port);
  }
}

void rpct__tracing_set_status(const rpct__tracing_config *c, rpct_span *span, unsigned side,
                              int code, const char *message, size_t message_len) {
  if (!rpct_span_is_recording(span)) return;
  code = normal_code(code);
  const char *name = status_names[code];
  bool error = side == RPCT_SIDE_CLIENT ? code != GRPC_STATUS_OK : server_error(code);
  if (c->semconv & RPCT__SEMCONV_OLD) rpct_span_set_int(span, "rpc.grpc.status_code", code);
  if (c->semconv & RPCT__SEMCONV_NEW) {
    rpct_span_set_str(span, "rpc.status_code", name);
    if (error) rpct_span_set_str(span, "error.type", name);
  }
  if (!error) return; /* OK and non-errors leave the status UNSET */
  char msg[1024];
  size_t n = message ? message_len : 0;
  if (n >= sizeof msg) n = sizeof msg - 1;
  if (n) memcpy(msg, message, n);
  msg[n] = '\0';
  rpct_span_set_status(span, RPCT_STATUS_ERROR, n ? msg : NULL);
}

/* ---- message events and metadata ---- */

void rpct__tracing_message_event_at(const rpct__tracing_config *c, rpct_span *span, bool sent,
                                    uint32_t id, uint64_t bytes, uint64_t time_unix_ns) {
  int64_t size = bytes > INT64_MAX ? INT64_MAX : (int64_t)bytes;
  if (c->a72_names) {
    /* gRPC numbers a stream's messages from 0 in each direction. */
    rpct_attribute a[] = {RPCT_ATTR_INT("sequence-number", (int64_t)id - 1),
                          RPCT_ATTR_INT("message-size", size)};
    rpct_span_add_event(span, sent ? "Outbound message" : "Inbound message", time_unix_ns, a,
                        RPCT__ARRAY_LEN(a));
    return;
  }
  rpct_attribute a[] = {RPCT_ATTR_STR("rpc.message.type", sent ? "SENT" : "RECEIVED"),
                        RPCT_ATTR_INT("rpc.message.id", id),
                        RPCT_ATTR_INT("rpc.message.uncompressed_size", size)};
  rpct_span_add_event(span, "rpc.message", time_unix_ns, a, RPCT__ARRAY_LEN(a));
}

#define MD_VALUES_MAX 32

static const char *md_prefix(bool stable, rpct__md_kind kind) {
  switch (kind) {
    case RPCT__MD_REQUEST: return stable ? "rpc.request.header." : "rpc.grpc.request.metadata.";
    case RPCT__MD_RESPONSE_HEADER:
      return stable ? "rpc.response.header." : "rpc.grpc.response.metadata.";
    case RPCT__MD_RESPONSE_TRAILER: return stable ? "rpc.response.trailer." : NULL;
  }
  return NULL;
}

void rpct__tracing_set_metadata(const rpct__tracing_config *c, rpct_span *span, const char *key,
                                size_t key_len, rpct__md_kind kind, const char *const *values,
                                const size_t *lens, size_t n) {
  /* The old set's key, then the stable set's (rpc/dup: both). */
  for (unsigned set = RPCT__SEMCONV_OLD; set <= RPCT__SEMCONV_NEW; set <<= 1) {
    const char *prefix = md_prefix(set == RPCT__SEMCONV_NEW, kind);
    if (!(c->semconv & set) || !prefix) continue;
    char attr_key[sizeof "rpc.grpc.response.metadata." + RPCT__MD_KEY_MAX];
    snprintf(attr_key, sizeof attr_key, "%s%.*s", prefix, (int)key_len, key);
    rpct_span_set_str_array(span, attr_key, values, lens, n);
  }
}

/* ---- W3C trace context ---- */

#define TRACESTATE_VALUES_MAX 32

bool rpct__tracing_extract_tracecontext(const rpct_md *md, size_t n, rpct_span_context *out) {
  const rpct_md *tp = NULL;
  size_t n_tp = 0;
  for (size_t i = 0; i < n; i++)
    if (rpct__md_key_is(&md[i], RPCT__MD_TRACEPARENT, sizeof RPCT__MD_TRACEPARENT - 1))
      tp = &md[i], n_tp++;
  /* W3C: a request with several traceparent headers starts a new trace. */
  if (n_tp != 1 || rpct_traceparent_parse(tp->value, tp->value_len, out) != RPCT_OK) {
    memset(out, 0, offsetof(rpct_span_context, tracestate.buf));
    return false;
  }
  const char *values[TRACESTATE_VALUES_MAX];
  size_t lens[TRACESTATE_VALUES_MAX], k = 0;
  bool too_many = false;
  for (size_t i = 0; i < n; i++) {
    if (!rpct__md_key_is(&md[i], RPCT__MD_TRACESTATE, sizeof RPCT__MD_TRACESTATE - 1)) continue;
    if (k == TRACESTATE_VALUES_MAX) {
      too_many = true;
      break;
    }
    values[k] = md[i].value ? md[i].value : "";
    lens[k++] = md[i].value_len;
  }
  /* More values than a tracestate has members: discard it, as an invalid one. */
  if (!too_many) rpct_tracestate_parse_multi(values, lens, k, &out->tracestate);
  return true;
}
