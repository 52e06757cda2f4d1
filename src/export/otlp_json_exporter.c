/*
 * OTLP/JSON lines exporter (format in export.h): each export call becomes one
 * ExportTraceServiceRequest written as one line, in the JSON mapping the
 * OTLP specification defines (protobuf JSON with ids as hex).
 *
 * The line is built in a buffer the exporter owns and keeps between calls,
 * then written with one fwrite and flushed, so lines of concurrent exports
 * never interleave and a failed build (out of memory) writes nothing.
 *
 * Choices where the mapping leaves room, each made once here:
 * - Default values are omitted (proto3), except the span's traceId, spanId,
 *   flags, name, kind and times, which are always written. `status` is left
 *   out when its code is UNSET and it has no message; `resource` when it has
 *   no attributes; `scope` when both its name and version are empty.
 * - A span's flags are its W3C trace flags, plus HAS_IS_REMOTE (0x100)
 *   always, since the record knows whether the parent was remote, plus
 *   IS_REMOTE (0x200) when it was. A root span has no remote parent: 0x100.
 * - A link's flags are its W3C trace flags alone: the record does not keep
 *   whether the linked context was remote, and OTLP says to leave bits 8 and
 *   9 clear ("unknown") rather than claim "not remote".
 * - Doubles use the shortest of %.15g/%.16g/%.17g that reads back exactly,
 *   so 0.1 is written 0.1; NaN and the infinities as the protobuf JSON
 *   strings "NaN", "Infinity", "-Infinity".
 * - Strings are checked as UTF-8: each ill-formed sequence (the longest
 *   prefix of a valid one, or else one byte) becomes U+FFFD, so no input
 *   makes the line invalid JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter_internal.h"
#include "internal.h"

#define DEFAULT_PATH "rpctrace-traces.jsonl"
#define PATH_ENV "RPCTRACE_OTLP_FILE_PATH"
/* The line buffer starts at this size, allocated with the exporter, so a
 * typical batch needs no allocation on the export thread. */
#define BUF_INITIAL ((size_t)16 * 1024)
/* A buffer grown past this by an unusually large batch is released after
 * the write instead of being kept for the exporter's lifetime. */
#define BUF_RETAIN_MAX ((size_t)1024 * 1024)

/* The Span.flags bits beyond the W3C trace flags (SpanFlags in trace.proto). */
#define FLAG_HAS_IS_REMOTE 0x100u
#define FLAG_IS_REMOTE 0x200u

typedef struct json_exporter {
  rpct_allocator alloc;
  bool has_alloc;
  char *path; /* owned copy; NULL for a stream exporter */
  /* Guards everything below: the built-in processors never export
   * concurrently, but a user calling rpct_exporter_export may. */
  pthread_mutex_t lock;
  FILE *stream; /* owned when `path` is set (closed in shutdown), else borrowed */
  bool shut_down;
  bool write_failed_reported; /* a write error was reported through diag */
  char *buf;                  /* the line being built */
  size_t len, cap;
  bool oom; /* growing `buf` failed: the line is abandoned */
} json_exporter;

static const rpct_allocator *jx_alloc(const json_exporter *j) {
  return j->has_alloc ? &j->alloc : NULL;
}

/* ---- the line buffer ---- */

/* Room for `more` bytes after `len`. The allocator has no realloc: growing
 * allocates anew and copies. On failure the line is marked abandoned and
 * every later put is a no-op. */
static bool reserve(json_exporter *j, size_t more) {
  if (j->oom) return false;
  if (more <= j->cap - j->len) return true;
  if (more > SIZE_MAX / 2 - j->len) {
    j->oom = true;
    return false;
  }
  size_t need = j->len + more;
  size_t cap = j->cap ? j->cap : BUF_INITIAL;
  while (cap < need) cap *= 2;
  char *buf = rpct__alloc(jx_alloc(j), cap);
  if (!buf) {
    j->oom = true;
    return false;
  }
  if (j->len) memcpy(buf, j->buf, j->len);
  rpct__free(jx_alloc(j), j->buf);
  j->buf = buf;
  j->cap = cap;
  return true;
}

static void put(json_exporter *j, const char *s, size_t n) {
  if (n == 0 || !reserve(j, n)) return;
  memcpy(j->buf + j->len, s, n);
  j->len += n;
}

#define PUT_LIT(j, lit) put((j), (lit), sizeof(lit) - 1)

static void put_char(json_exporter *j, char c) { put(j, &c, 1); }

/* `"name":`, preceded by a comma unless it is the object's first member.
 * Names are the fixed OTLP field names: they need no escaping. */
static void put_key(json_exporter *j, bool *first, const char *name) {
  if (!*first) put_char(j, ',');
  *first = false;
  put_char(j, '"');
  put(j, name, strlen(name));
  PUT_LIT(j, "\":");
}

static void put_u32(json_exporter *j, uint32_t v) {
  char tmp[16];
  int n = snprintf(tmp, sizeof tmp, "%" PRIu32, v);
  put(j, tmp, (size_t)n);
}

/* 64-bit integers are JSON strings in the protobuf mapping: JSON readers
 * that hold numbers as doubles would round them. */
static void put_u64_str(json_exporter *j, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "\"%" PRIu64 "\"", v);
  put(j, tmp, (size_t)n);
}

static void put_i64_str(json_exporter *j, int64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "\"%" PRId64 "\"", v);
  put(j, tmp, (size_t)n);
}

static void put_double(json_exporter *j, double v) {
  if (isnan(v)) {
    PUT_LIT(j, "\"NaN\"");
    return;
  }
  if (isinf(v)) {
    if (v > 0)
      PUT_LIT(j, "\"Infinity\"");
    else
      PUT_LIT(j, "\"-Infinity\"");
    return;
  }
  char tmp[40];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (prec == 17 || strtod(tmp, NULL) == v) break;
  }
  /* printf follows LC_NUMERIC, whose decimal point may be "," or several
   * bytes: write every run of other characters as the JSON '.'. */
  char num[40];
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    char c = tmp[i];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
      num[o++] = c;
    } else if (o == 0 || num[o - 1] != '.') {
      num[o++] = '.';
    }
  }
  put(j, num, o);
}

static void put_hex(json_exporter *j, const uint8_t *bytes, size_t n) {
  char hex[2 * 16];
  rpct__hex_encode(bytes, n, hex);
  put_char(j, '"');
  put(j, hex, 2 * n);
  put_char(j, '"');
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (n > 0, s[0] >= 0x80),
 * or 0 when it is ill-formed; then *skip is the length of its longest
 * well-formed prefix, at least 1 (Unicode's "maximal subpart"). */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *skip) {
  unsigned char c = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0; /* no overlong forms */
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90; /* no overlong forms */
    if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    *skip = 1;
    return 0;
  }
  size_t k = 1;
  while (k < need && k < n) {
    unsigned char b = s[k];
    bool ok = k == 1 ? b >= lo && b <= hi : b >= 0x80 && b <= 0xBF;
    if (!ok) break;
    k++;
  }
  if (k == need) return need;
  *skip = k;
  return 0;
}

/* `s[0..n)` as a JSON string (RFC 8259). */
static void put_str(json_exporter *j, const char *s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  put_char(j, '"');
  size_t i = 0;
  while (i < n && !j->oom) {
    /* Copy the longest run that needs no attention in one go. */
    size_t run = i;
    while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\') run++;
    put(j, s + i, run - i);
    i = run;
    if (i == n) break;
    unsigned char c = u[i];
    if (c >= 0x80) {
      size_t skip;
      size_t len = utf8_sequence(u + i, n - i, &skip);
      if (len) {
        put(j, s + i, len);
        i += len;
      } else {
        PUT_LIT(j, "\\ufffd");
        i += skip;
      }
      continue;
    }
    char esc[6] = {'\\', (char)c};
    size_t esc_len = 2;
    switch (c) {
      case '"':
      case '\\': break; /* esc already holds the backslash and the character */
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = digits[c >> 4];
        esc[5] = digits[c & 0xF];
        esc_len = 6;
        break;
    }
    put(j, esc, esc_len);
    i++;
  }
  put_char(j, '"');
}

static void put_cstr(json_exporter *j, const char *s) { put_str(j, s, strlen(s)); }

/* A string of the record; empty when its offsets are out of bounds (a
 * hand-made record), so a bad record cannot make us read past it. */
static void put_record_str(json_exporter *j, const rpct_span_data *d, rpct_str s) {
  if ((size_t)s.off + s.len > sizeof d->strings)
    put_str(j, "", 0);
  else
    put_str(j, d->strings + s.off, s.len);
}

/* ---- OTLP messages ---- */

/* Counts clamped to the record's capacities (a hand-made record may claim
 * more). */
static size_t attr_count(const rpct_span_data *d) {
  size_t n = d->n_attrs;
  return n > RPCT_SPAN_MAX_ATTRIBUTES ? RPCT_SPAN_MAX_ATTRIBUTES : n;
}

static size_t event_count(const rpct_span_data *d) {
  size_t n = d->n_events;
  return n > RPCT_SPAN_MAX_EVENTS ? RPCT_SPAN_MAX_EVENTS : n;
}

static size_t link_count(const rpct_span_data *d) {
  size_t n = d->n_links;
  return n > RPCT_SPAN_MAX_LINKS ? RPCT_SPAN_MAX_LINKS : n;
}

/* AnyValue. A set oneof member is written even when it holds its type's
 * default (an empty string, 0, false). An unknown type: an empty AnyValue. */
static void put_any_value(json_exporter *j, const rpct_span_data *d, const rpct_span_attr *a) {
  switch (a->type) {
    case RPCT_VALUE_STRING:
      PUT_LIT(j, "{\"stringValue\":");
      put_record_str(j, d, a->v.s);
      break;
    case RPCT_VALUE_BOOL:
      if (a->v.b)
        PUT_LIT(j, "{\"boolValue\":true");
      else
        PUT_LIT(j, "{\"boolValue\":false");
      break;
    case RPCT_VALUE_INT:
      PUT_LIT(j, "{\"intValue\":");
      put_i64_str(j, a->v.i);
      break;
    case RPCT_VALUE_DOUBLE:
      PUT_LIT(j, "{\"doubleValue\":");
      put_double(j, a->v.d);
      break;
    default: put_char(j, '{'); break;
  }
  put_char(j, '}');
}

/* "attributes":[KeyValue...] of the attributes with owner `owner`, if any. */
static void put_attributes(json_exporter *j, bool *first, const rpct_span_data *d, uint8_t owner) {
  size_t n = attr_count(d);
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    if (a->owner != owner) continue;
    if (!any) {
      put_key(j, first, "attributes");
      put_char(j, '[');
    } else {
      put_char(j, ',');
    }
    any = true;
    PUT_LIT(j, "{\"key\":");
    put_record_str(j, d, a->key);
    PUT_LIT(j, ",\"value\":");
    put_any_value(j, d, a);
    put_char(j, '}');
  }
  if (any) put_char(j, ']');
}

static void put_uint_field(json_exporter *j, bool *first, const char *name, uint32_t v) {
  if (v == 0) return;
  put_key(j, first, name);
  put_u32(j, v);
}

static void put_events(json_exporter *j, bool *first, const rpct_span_data *d) {
  size_t n = event_count(d);
  if (n == 0) return;
  put_key(j, first, "events");
  put_char(j, '[');
  for (size_t i = 0; i < n; i++) {
    const rpct_span_event *ev = &d->events[i];
    bool f = true;
    if (i) put_char(j, ',');
    put_char(j, '{');
    if (ev->time_unix_ns) {
      put_key(j, &f, "timeUnixNano");
      put_u64_str(j, ev->time_unix_ns);
    }
    if (ev->name.len) {
      put_key(j, &f, "name");
      put_record_str(j, d, ev->name);
    }
    put_attributes(j, &f, d, RPCT_ATTR_OWNER_EVENT(i));
    put_uint_field(j, &f, "droppedAttributesCount", ev->dropped_attributes);
    put_char(j, '}');
  }
  put_char(j, ']');
}

static void put_links(json_exporter *j, bool *first, const rpct_span_data *d) {
  size_t n = link_count(d);
  if (n == 0) return;
  put_key(j, first, "links");
  put_char(j, '[');
  for (size_t i = 0; i < n; i++) {
    const rpct_span_link *l = &d->links[i];
    bool f = true;
    if (i) put_char(j, ',');
    put_char(j, '{');
    put_key(j, &f, "traceId");
    put_hex(j, l->trace_id.bytes, sizeof l->trace_id.bytes);
    put_key(j, &f, "spanId");
    put_hex(j, l->span_id.bytes, sizeof l->span_id.bytes);
    if (l->tracestate.len) {
      put_key(j, &f, "traceState");
      put_record_str(j, d, l->tracestate);
    }
    put_attributes(j, &f, d, RPCT_ATTR_OWNER_LINK(i));
    put_uint_field(j, &f, "droppedAttributesCount", l->dropped_attributes);
    /* Trace flags only: remote-ness unknown (see the top of the file). */
    put_uint_field(j, &f, "flags", l->flags);
    put_char(j, '}');
  }
  put_char(j, ']');
}

/* Members in trace.proto's declaration order. */
static void put_span(json_exporter *j, const rpct_span_data *d) {
  bool f = true;
  put_char(j, '{');
  put_key(j, &f, "traceId");
  put_hex(j, d->trace_id.bytes, sizeof d->trace_id.bytes);
  put_key(j, &f, "spanId");
  put_hex(j, d->span_id.bytes, sizeof d->span_id.bytes);
  if (d->tracestate.len) {
    put_key(j, &f, "traceState");
    put_record_str(j, d, d->tracestate);
  }
  if (rpct_span_id_is_valid(&d->parent_span_id)) {
    put_key(j, &f, "parentSpanId");
    put_hex(j, d->parent_span_id.bytes, sizeof d->parent_span_id.bytes);
  }
  put_key(j, &f, "flags");
  put_u32(j, d->flags | FLAG_HAS_IS_REMOTE | (d->parent_remote ? FLAG_IS_REMOTE : 0u));
  put_key(j, &f, "name");
  put_record_str(j, d, d->name);
  put_key(j, &f, "kind");
  put_u32(j, d->kind);
  put_key(j, &f, "startTimeUnixNano");
  put_u64_str(j, d->start_unix_ns);
  put_key(j, &f, "endTimeUnixNano");
  put_u64_str(j, d->end_unix_ns);
  put_attributes(j, &f, d, RPCT_ATTR_OWNER_SPAN);
  put_uint_field(j, &f, "droppedAttributesCount", d->dropped_attributes);
  put_events(j, &f, d);
  put_uint_field(j, &f, "droppedEventsCount", d->dropped_events);
  put_links(j, &f, d);
  put_uint_field(j, &f, "droppedLinksCount", d->dropped_links);
  if (d->status_code != RPCT_STATUS_UNSET || d->status_message.len) {
    bool sf = true;
    put_key(j, &f, "status");
    put_char(j, '{');
    if (d->status_message.len) {
      put_key(j, &sf, "message");
      put_record_str(j, d, d->status_message);
    }
    put_uint_field(j, &sf, "code", d->status_code);
    put_char(j, '}');
  }
  put_char(j, '}');
}

static void put_resource(json_exporter *j, bool *first, const rpct_resource *r) {
  size_t n = r ? rpct_resource_count(r) : 0;
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const char *key, *value;
    if (rpct_resource_at(r, i, &key, &value) != RPCT_OK) continue;
    if (!any) {
      put_key(j, first, "resource");
      PUT_LIT(j, "{\"attributes\":[");
    } else {
      put_char(j, ',');
    }
    any = true;
    PUT_LIT(j, "{\"key\":");
    put_cstr(j, key);
    PUT_LIT(j, ",\"value\":{\"stringValue\":");
    put_cstr(j, value);
    PUT_LIT(j, "}}");
  }
  if (any) PUT_LIT(j, "]}");
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* ScopeSpans of the spans[from..n) with `first`'s resource and scope. */
static void put_scope_spans(json_exporter *j, const rpct_span_data *const *spans, size_t from,
                            size_t n) {
  const rpct_span_data *first = spans[from];
  const char *name = or_empty(first->scope_name);
  const char *version = or_empty(first->scope_version);
  bool f = true;
  put_char(j, '{');
  if (*name || *version) {
    bool sf = true;
    put_key(j, &f, "scope");
    put_char(j, '{');
    if (*name) {
      put_key(j, &sf, "name");
      put_cstr(j, name);
    }
    if (*version) {
      put_key(j, &sf, "version");
      put_cstr(j, version);
    }
    put_char(j, '}');
  }
  put_key(j, &f, "spans");
  put_char(j, '[');
  for (size_t k = from; k < n; k++) {
    if (!rpct__otlp_same_group(spans[k], first)) continue;
    if (k != from) put_char(j, ',');
    put_span(j, spans[k]);
  }
  PUT_LIT(j, "]}");
}

/* The whole request, grouped as OTLP asks (rpct__otlp_first_of_*). */
static void put_request(json_exporter *j, const rpct_span_data *const *spans, size_t n) {
  PUT_LIT(j, "{\"resourceSpans\":[");
  bool first_rs = true;
  for (size_t i = 0; i < n; i++) {
    if (!rpct__otlp_first_of_resource(spans, i)) continue;
    const rpct_resource *res = spans[i]->resource;
    if (!first_rs) put_char(j, ',');
    first_rs = false;
    bool f = true;
    put_char(j, '{');
    put_resource(j, &f, res);
    put_key(j, &f, "scopeSpans");
    put_char(j, '[');
    bool first_ss = true;
    for (size_t k = i; k < n; k++) {
      if (spans[k]->resource != res || !rpct__otlp_first_of_scope(spans, i, k)) continue;
      if (!first_ss) put_char(j, ',');
      first_ss = false;
      put_scope_spans(j, spans, k, n);
    }
    PUT_LIT(j, "]}");
  }
  PUT_LIT(j, "]}\n");
}

/* ---- exporter ops ---- */

/* `path` as printed in a diagnostic. The whole path names the file best;
 * it is quoted (and cut) only when it holds bytes that could forge a second
 * log line. */
static const char *path_for_message(char q[RPCT__QUOTE_BUF], const char *path) {
  for (const char *s = path; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return rpct__quote(q, path, strlen(path));
  return path;
}

static int jx_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  json_exporter *j = impl;
  if (n == 0) return 0;
  pthread_mutex_lock(&j->lock);
  int r = 0;
  if (j->shut_down) {
    r = RPCT_ERR_STATE;
  } else {
    j->len = 0;
    j->oom = false;
    put_request(j, spans, n);
    if (j->oom) {
      r = RPCT_ERR_NO_MEMORY;
    } else if (fwrite(j->buf, 1, j->len, j->stream) != j->len || fflush(j->stream) != 0) {
      int err = errno;
      r = RPCT_ERR_IO;
      /* Let the next export try again (a full disk may be cleared). */
      clearerr(j->stream);
      if (!j->write_failed_reported) {
        j->write_failed_reported = true;
        if (j->path) {
          char q[RPCT__QUOTE_BUF];
          rpct__diag("OTLP/JSON exporter: writing to \"%s\" failed: %s",
                     path_for_message(q, j->path), strerror(err));
        } else {
          rpct__diag("OTLP/JSON exporter: writing to its stream failed: %s", strerror(err));
        }
      }
    }
    if (j->cap > BUF_RETAIN_MAX) {
      rpct__free(jx_alloc(j), j->buf);
      j->buf = NULL;
      j->cap = 0;
    }
    j->len = 0;
  }
  pthread_mutex_unlock(&j->lock);
  return r;
}

static int jx_force_flush(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  json_exporter *j = impl;
  pthread_mutex_lock(&j->lock);
  /* After shutdown the file is closed and nothing is buffered. */
  int r = j->shut_down || fflush(j->stream) == 0 ? RPCT_OK : RPCT_ERR_IO;
  pthread_mutex_unlock(&j->lock);
  return r;
}

/* Closes the file of a file exporter, flushes a borrowed stream. A second
 * call does nothing. */
static int jx_shutdown(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  json_exporter *j = impl;
  pthread_mutex_lock(&j->lock);
  int r = RPCT_OK;
  if (!j->shut_down) {
    j->shut_down = true;
    if (j->path) {
      if (fclose(j->stream) != 0) r = RPCT_ERR_IO;
      j->stream = NULL;
    } else if (fflush(j->stream) != 0) {
      r = RPCT_ERR_IO;
    }
  }
  pthread_mutex_unlock(&j->lock);
  return r;
}

/* Frees `j`; `lock_ready`: its mutex was initialised. */
static void jx_free(json_exporter *j, bool lock_ready) {
  if (j->path && j->stream) fclose(j->stream);
  if (lock_ready) pthread_mutex_destroy(&j->lock);
  const rpct_allocator *a = jx_alloc(j);
  rpct__free(a, j->buf);
  rpct__free(a, j->path);
  rpct__free(a, j);
}

static void jx_destroy(void *impl) { jx_free(impl, true); }

/* Return conventions are those of rpct_exporter_ops (export.h). */
static const rpct_exporter_ops json_ops = {
    .export_spans = jx_export,
    .force_flush = jx_force_flush,
    .shutdown = jx_shutdown,
    .destroy = jx_destroy,
};

/* The exporter without its stream: struct, path copy (when `path`), line
 * buffer, lock. NULL when an allocation fails. */
static json_exporter *jx_new(const char *path, size_t path_len, const rpct_allocator *alloc) {
  json_exporter *j = rpct__calloc(alloc, 1, sizeof *j);
  if (!j) return NULL;
  if (alloc) {
    j->alloc = *alloc;
    j->has_alloc = true;
  }
  if (path && !(j->path = rpct__strndup(alloc, path, path_len))) {
    jx_free(j, false);
    return NULL;
  }
  j->buf = rpct__alloc(alloc, BUF_INITIAL);
  if (!j->buf || pthread_mutex_init(&j->lock, NULL) != 0) {
    jx_free(j, false);
    return NULL;
  }
  j->cap = BUF_INITIAL;
  return j;
}

int rpct_otlp_json_exporter_new_stream(rpct_exporter **out, FILE *stream,
                                       const rpct_allocator *alloc) {
  if (!out || !stream) return RPCT_ERR_INVALID_ARGUMENT;
  json_exporter *j = jx_new(NULL, 0, alloc);
  if (!j) return RPCT_ERR_NO_MEMORY;
  j->stream = stream;
  int r = rpct_exporter_new(out, &json_ops, j, alloc);
  if (r != RPCT_OK) jx_destroy(j);
  return r;
}

int rpct_otlp_file_exporter_new(rpct_exporter **out, const char *path,
                                const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  size_t path_len = RPCT_NTS;
  if (!path) path = rpct__env_get(PATH_ENV, &path_len);
  if (!path) {
    path = DEFAULT_PATH;
    path_len = RPCT_NTS;
  }
  json_exporter *j = jx_new(path, path_len, alloc);
  if (!j) return RPCT_ERR_NO_MEMORY;
  /* The handle first: when memory runs out, no file has been created. */
  rpct_exporter *e = NULL;
  int r = rpct_exporter_new(&e, &json_ops, j, alloc);
  if (r != RPCT_OK) {
    jx_destroy(j);
    return r;
  }
  /* "e": close-on-exec, so a child the program starts does not inherit it. */
  j->stream = fopen(j->path, "ae");
  if (!j->stream) {
    int err = errno;
    char q[RPCT__QUOTE_BUF];
    rpct__diag("OTLP/JSON exporter: cannot open \"%s\" for appending: %s",
               path_for_message(q, j->path), strerror(err));
    rpct_exporter_del(e);
    return RPCT_ERR_IO;
  }
  /* Unbuffered: each line then leaves in one write(2) on an O_APPEND
   * descriptor, which Linux applies to a regular file as a whole, so
   * processes appending to one file do not interleave inside a line; and a
   * failed write leaves no bytes in a stdio buffer to surface later. */
  setvbuf(j->stream, NULL, _IONBF, 0);
  *out = e;
  return RPCT_OK;
}
