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
 * - Numbers, strings (UTF-8 checked, ill-formed sequences as U+FFFD) and
 *   ids are written by json_writer.c, whose choices are listed there; the
 *   `rpctrace collect` command writes through it too, so its lines match
 *   ours byte for byte.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter_internal.h"
#include "internal.h"
#include "json_writer.h"

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
  rpct__json_buf line;        /* the line being built (json_writer.h) */
} json_exporter;

static const rpct_allocator *jx_alloc(const json_exporter *j) {
  return j->has_alloc ? &j->alloc : NULL;
}

/* A string of the record; empty when its offsets are out of bounds (a
 * hand-made record), so a bad record cannot make us read past it. */
static void put_record_str(rpct__json_buf *b, const rpct_span_data *d, rpct_str s) {
  if ((size_t)s.off + s.len > sizeof d->strings)
    rpct__json_str(b, "", 0);
  else
    rpct__json_str(b, d->strings + s.off, s.len);
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
static void put_any_value(rpct__json_buf *b, const rpct_span_data *d, const rpct_span_attr *a) {
  switch (a->type) {
    case RPCT_VALUE_STRING:
      RPCT__JSON_LIT(b, "{\"stringValue\":");
      put_record_str(b, d, a->v.s);
      break;
    case RPCT_VALUE_STRING_ARRAY: {
      /* {"arrayValue":{"values":[...]}}; an empty array is {"arrayValue":{}}. */
      RPCT__JSON_LIT(b, "{\"arrayValue\":{");
      size_t cursor = 0, len;
      const char *e;
      bool any = false;
      while (rpct_span_attr_array_next(d, a, &cursor, &e, &len)) {
        if (any)
          rpct__json_char(b, ',');
        else
          RPCT__JSON_LIT(b, "\"values\":[");
        any = true;
        RPCT__JSON_LIT(b, "{\"stringValue\":");
        rpct__json_str(b, e, len);
        rpct__json_char(b, '}');
      }
      if (any) rpct__json_char(b, ']');
      rpct__json_char(b, '}');
      break;
    }
    case RPCT_VALUE_BOOL:
      if (a->v.b)
        RPCT__JSON_LIT(b, "{\"boolValue\":true");
      else
        RPCT__JSON_LIT(b, "{\"boolValue\":false");
      break;
    case RPCT_VALUE_INT:
      RPCT__JSON_LIT(b, "{\"intValue\":");
      rpct__json_i64_str(b, a->v.i);
      break;
    case RPCT_VALUE_DOUBLE:
      RPCT__JSON_LIT(b, "{\"doubleValue\":");
      rpct__json_double(b, a->v.d);
      break;
    default: rpct__json_char(b, '{'); break;
  }
  rpct__json_char(b, '}');
}

/* "attributes":[KeyValue...] of the attributes with owner `owner`, if any. */
static void put_attributes(rpct__json_buf *b, bool *first, const rpct_span_data *d, uint8_t owner) {
  size_t n = attr_count(d);
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    if (a->owner != owner) continue;
    if (!any) {
      rpct__json_key(b, first, "attributes");
      rpct__json_char(b, '[');
    } else {
      rpct__json_char(b, ',');
    }
    any = true;
    RPCT__JSON_LIT(b, "{\"key\":");
    put_record_str(b, d, a->key);
    RPCT__JSON_LIT(b, ",\"value\":");
    put_any_value(b, d, a);
    rpct__json_char(b, '}');
  }
  if (any) rpct__json_char(b, ']');
}

static void put_uint_field(rpct__json_buf *b, bool *first, const char *name, uint32_t v) {
  if (v == 0) return;
  rpct__json_key(b, first, name);
  rpct__json_u32(b, v);
}

static void put_events(rpct__json_buf *b, bool *first, const rpct_span_data *d) {
  size_t n = event_count(d);
  if (n == 0) return;
  rpct__json_key(b, first, "events");
  rpct__json_char(b, '[');
  for (size_t i = 0; i < n; i++) {
    const rpct_span_event *ev = &d->events[i];
    bool f = true;
    if (i) rpct__json_char(b, ',');
    rpct__json_char(b, '{');
    if (ev->time_unix_ns) {
      rpct__json_key(b, &f, "timeUnixNano");
      rpct__json_u64_str(b, ev->time_unix_ns);
    }
    if (ev->name.len) {
      rpct__json_key(b, &f, "name");
      put_record_str(b, d, ev->name);
    }
    put_attributes(b, &f, d, RPCT_ATTR_OWNER_EVENT(i));
    put_uint_field(b, &f, "droppedAttributesCount", ev->dropped_attributes);
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, ']');
}

static void put_links(rpct__json_buf *b, bool *first, const rpct_span_data *d) {
  size_t n = link_count(d);
  if (n == 0) return;
  rpct__json_key(b, first, "links");
  rpct__json_char(b, '[');
  for (size_t i = 0; i < n; i++) {
    const rpct_span_link *l = &d->links[i];
    bool f = true;
    if (i) rpct__json_char(b, ',');
    rpct__json_char(b, '{');
    rpct__json_key(b, &f, "traceId");
    rpct__json_hex(b, l->trace_id.bytes, sizeof l->trace_id.bytes);
    rpct__json_key(b, &f, "spanId");
    rpct__json_hex(b, l->span_id.bytes, sizeof l->span_id.bytes);
    if (l->tracestate.len) {
      rpct__json_key(b, &f, "traceState");
      put_record_str(b, d, l->tracestate);
    }
    put_attributes(b, &f, d, RPCT_ATTR_OWNER_LINK(i));
    put_uint_field(b, &f, "droppedAttributesCount", l->dropped_attributes);
    /* Trace flags only: remote-ness unknown (see the top of the file). */
    put_uint_field(b, &f, "flags", l->flags);
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, ']');
}

/* Members in trace.proto's declaration order. */
static void put_span(rpct__json_buf *b, const rpct_span_data *d) {
  bool f = true;
  rpct__json_char(b, '{');
  rpct__json_key(b, &f, "traceId");
  rpct__json_hex(b, d->trace_id.bytes, sizeof d->trace_id.bytes);
  rpct__json_key(b, &f, "spanId");
  rpct__json_hex(b, d->span_id.bytes, sizeof d->span_id.bytes);
  if (d->tracestate.len) {
    rpct__json_key(b, &f, "traceState");
    put_record_str(b, d, d->tracestate);
  }
  if (rpct_span_id_is_valid(&d->parent_span_id)) {
    rpct__json_key(b, &f, "parentSpanId");
    rpct__json_hex(b, d->parent_span_id.bytes, sizeof d->parent_span_id.bytes);
  }
  rpct__json_key(b, &f, "flags");
  rpct__json_u32(b, d->flags | FLAG_HAS_IS_REMOTE | (d->parent_remote ? FLAG_IS_REMOTE : 0u));
  rpct__json_key(b, &f, "name");
  put_record_str(b, d, d->name);
  rpct__json_key(b, &f, "kind");
  rpct__json_u32(b, d->kind);
  rpct__json_key(b, &f, "startTimeUnixNano");
  rpct__json_u64_str(b, d->start_unix_ns);
  rpct__json_key(b, &f, "endTimeUnixNano");
  rpct__json_u64_str(b, d->end_unix_ns);
  put_attributes(b, &f, d, RPCT_ATTR_OWNER_SPAN);
  put_uint_field(b, &f, "droppedAttributesCount", d->dropped_attributes);
  put_events(b, &f, d);
  put_uint_field(b, &f, "droppedEventsCount", d->dropped_events);
  put_links(b, &f, d);
  put_uint_field(b, &f, "droppedLinksCount", d->dropped_links);
  if (d->status_code != RPCT_STATUS_UNSET || d->status_message.len) {
    bool sf = true;
    rpct__json_key(b, &f, "status");
    rpct__json_char(b, '{');
    if (d->status_message.len) {
      rpct__json_key(b, &sf, "message");
      put_record_str(b, d, d->status_message);
    }
    put_uint_field(b, &sf, "code", d->status_code);
    rpct__json_char(b, '}');
  }
  rpct__json_char(b, '}');
}

static void put_resource(rpct__json_buf *b, bool *first, const rpct_resource *r) {
  size_t n = r ? rpct_resource_count(r) : 0;
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const char *key, *value;
    if (rpct_resource_at(r, i, &key, &value) != RPCT_OK) continue;
    if (!any) {
      rpct__json_key(b, first, "resource");
      RPCT__JSON_LIT(b, "{\"attributes\":[");
    } else {
      rpct__json_char(b, ',');
    }
    any = true;
    RPCT__JSON_LIT(b, "{\"key\":");
    rpct__json_cstr(b, key);
    RPCT__JSON_LIT(b, ",\"value\":{\"stringValue\":");
    rpct__json_cstr(b, value);
    RPCT__JSON_LIT(b, "}}");
  }
  if (any) RPCT__JSON_LIT(b, "]}");
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* ScopeSpans of the spans[from..n) with `first`'s resource and scope. */
static void put_scope_spans(rpct__json_buf *b, const rpct_span_data *const *spans, size_t from,
                            size_t n) {
  const rpct_span_data *first = spans[from];
  const char *name = or_empty(first->scope_name);
  const char *version = or_empty(first->scope_version);
  bool f = true;
  rpct__json_char(b, '{');
  if (*name || *version) {
    bool sf = true;
    rpct__json_key(b, &f, "scope");
    rpct__json_char(b, '{');
    if (*name) {
      rpct__json_key(b, &sf, "name");
      rpct__json_cstr(b, name);
    }
    if (*version) {
      rpct__json_key(b, &sf, "version");
      rpct__json_cstr(b, version);
    }
    rpct__json_char(b, '}');
  }
  rpct__json_key(b, &f, "spans");
  rpct__json_char(b, '[');
  for (size_t k = from; k < n; k++) {
    if (!rpct__otlp_same_group(spans[k], first)) continue;
    if (k != from) rpct__json_char(b, ',');
    put_span(b, spans[k]);
  }
  RPCT__JSON_LIT(b, "]}");
}

/* The whole request, grouped as OTLP asks (rpct__otlp_first_of_*). */
static void put_request(rpct__json_buf *b, const rpct_span_data *const *spans, size_t n) {
  RPCT__JSON_LIT(b, "{\"resourceSpans\":[");
  bool first_rs = true;
  for (size_t i = 0; i < n; i++) {
    if (!rpct__otlp_first_of_resource(spans, i)) continue;
    const rpct_resource *res = spans[i]->resource;
    if (!first_rs) rpct__json_char(b, ',');
    first_rs = false;
    bool f = true;
    rpct__json_char(b, '{');
    put_resource(b, &f, res);
    rpct__json_key(b, &f, "scopeSpans");
    rpct__json_char(b, '[');
    bool first_ss = true;
    for (size_t k = i; k < n; k++) {
      if (spans[k]->resource != res || !rpct__otlp_first_of_scope(spans, i, k)) continue;
      if (!first_ss) rpct__json_char(b, ',');
      first_ss = false;
      put_scope_spans(b, spans, k, n);
    }
    RPCT__JSON_LIT(b, "]}");
  }
  RPCT__JSON_LIT(b, "]}\n");
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
    rpct__json_buf *line = &j->line;
    rpct__json_reset(line);
    put_request(line, spans, n);
    if (line->oom) {
      r = RPCT_ERR_NO_MEMORY;
    } else if (fwrite(line->buf, 1, line->len, j->stream) != line->len || fflush(j->stream) != 0) {
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
    if (line->cap > BUF_RETAIN_MAX) rpct__json_release(line);
    rpct__json_reset(line);
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
  rpct__json_release(&j->line);
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
  /* The first line's buffer now, so a typical export allocates nothing. */
  rpct__json_init(&j->line, jx_alloc(j), BUF_INITIAL);
  if (!rpct__json_reserve(&j->line, 1) || pthread_mutex_init(&j->lock, NULL) != 0) {
    jx_free(j, false);
    return NULL;
  }
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
