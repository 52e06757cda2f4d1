/*
 * Console exporter: one human-readable line per span (format in export.h).
 * Each line is built in a fixed buffer on the stack and written with one
 * fwrite, so lines from one exporter never interleave mid-line and a span
 * costs no allocation.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Longest line written, newline included. A record's strings fit in 2 KiB
 * but may quadruple when escaped (4 bytes per byte at most); a longer line
 * ends in "...". */
#define LINE_MAX_BYTES 4096
/* Kept free at the end of the buffer for "...\n". */
#define LINE_TAIL 4

typedef struct console_exporter {
  FILE *stream; /* borrowed */
  rpct_allocator alloc;
  bool has_alloc;
  atomic_bool shut_down;
} console_exporter;

typedef struct line {
  size_t len;
  bool truncated; /* something did not fit: nothing more is added */
  char buf[LINE_MAX_BYTES];
} line;

/* Append up to `n` bytes, as many as fit. */
static void put(line *l, const char *s, size_t n) {
  if (l->truncated) return;
  size_t room = LINE_MAX_BYTES - LINE_TAIL - l->len;
  if (n > room) {
    n = room;
    l->truncated = true;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

/* Append all `n` bytes or none (an escape sequence is never cut). */
static void put_whole(line *l, const char *s, size_t n) {
  if (l->truncated) return;
  if (n > LINE_MAX_BYTES - LINE_TAIL - l->len) {
    l->truncated = true;
    return;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void put_str(line *l, const char *s) { put(l, s, strlen(s)); }

static void put_u64(line *l, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
  put(l, tmp, (size_t)n);
}

/* Bytes that may go out as they are: printable ASCII (less '"' and '\\'
 * when quoted). Everything else is looked at as a character. */
static bool plain_byte(unsigned char c, bool quoted) {
  return c >= 0x20 && c < 0x7f && !(quoted && (c == '"' || c == '\\'));
}

/* `s` with control characters escaped, so a value can never start a new
 * line nor drive the terminal: C0, DEL and bytes that are not UTF-8 as
 * "\x1b", C1 and Unicode bidi controls (which reorder what follows them on
 * screen) as "\u202e" (rpct__escape_char); `quoted` also escapes '"' and
 * '\\' and adds the quotes. */
static void put_escaped(line *l, const char *s, size_t n, bool quoted) {
  if (quoted) put_whole(l, "\"", 1);
  size_t i = 0;
  while (i < n && !l->truncated) {
    size_t run = i;
    while (run < n && plain_byte((unsigned char)s[run], quoted)) run++;
    put(l, s + i, run - i);
    if (run == n) break;
    unsigned char c = (unsigned char)s[run];
    char esc[RPCT__ESCAPE_BUF] = {'\\', (char)c, 0};
    size_t esc_len = 2, used = 1;
    if (c == '\n') {
      esc[1] = 'n';
    } else if (c == '\t') {
      esc[1] = 't';
    } else if (c != '"' && c != '\\') {
      esc_len = rpct__escape_char(s + run, n - run, esc, &used);
      if (esc_len == 0) {
        /* A character that may be shown (é): as it is, whole or not at all. */
        put_whole(l, s + run, used);
        i = run + used;
        continue;
      }
    }
    put_whole(l, esc, esc_len);
    i = run + used;
  }
  if (quoted) put_whole(l, "\"", 1);
}

/* A string of the record; empty when its offsets are out of bounds (a
 * hand-made record), so a bad record cannot make us read past it. */
static const char *record_str(const rpct_span_data *d, rpct_str s, size_t *len) {
  if ((size_t)s.off + s.len > sizeof d->strings) {
    *len = 0;
    return "";
  }
  *len = s.len;
  return d->strings + s.off;
}

static void put_record_str(line *l, const rpct_span_data *d, rpct_str s, bool quoted) {
  size_t n;
  const char *p = record_str(d, s, &n);
  put_escaped(l, p, n, quoted);
}

static void put_value(line *l, const rpct_span_data *d, const rpct_span_attr *a) {
  char tmp[40];
  int n;
  switch (a->type) {
    case RPCT_VALUE_STRING: put_record_str(l, d, a->v.s, true); return;
    case RPCT_VALUE_STRING_ARRAY: {
      size_t cursor = 0, len;
      const char *e;
      put_whole(l, "[", 1);
      for (bool first = true; rpct_span_attr_array_next(d, a, &cursor, &e, &len); first = false) {
        if (!first) put_whole(l, ", ", 2);
        put_escaped(l, e, len, true);
      }
      put_whole(l, "]", 1);
      return;
    }
    case RPCT_VALUE_BOOL: put_str(l, a->v.b ? "true" : "false"); return;
    case RPCT_VALUE_INT:
      n = snprintf(tmp, sizeof tmp, "%lld", (long long)a->v.i);
      put(l, tmp, (size_t)n);
      return;
    case RPCT_VALUE_DOUBLE:
      n = snprintf(tmp, sizeof tmp, "%g", a->v.d);
      put(l, tmp, (size_t)n);
      return;
    default: put_str(l, "?"); return;
  }
}

static void put_attributes(line *l, const rpct_span_data *d) {
  size_t n_attrs = d->n_attrs;
  if (n_attrs > RPCT_SPAN_MAX_ATTRIBUTES) n_attrs = RPCT_SPAN_MAX_ATTRIBUTES;
  bool first = true;
  for (size_t i = 0; i < n_attrs; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    if (a->owner != RPCT_ATTR_OWNER_SPAN) continue;
    put_str(l, first ? " {" : ", ");
    first = false;
    put_record_str(l, d, a->key, false);
    put(l, "=", 1);
    put_value(l, d, a);
  }
  if (!first) put(l, "}", 1);
}

static void format_span(line *l, const rpct_span_data *d) {
  l->len = 0;
  l->truncated = false;
  const char *service = d->resource ? rpct_resource_get(d->resource, "service.name") : NULL;
  if (service && *service)
    put_escaped(l, service, strlen(service), false);
  else
    put(l, "-", 1);
  put(l, " ", 1);
  put_record_str(l, d, d->name, false);
  put_str(l, " kind=");
  put_str(l, rpct__span_kind_name(d->kind));

  char hex[2 * 16];
  put_str(l, " trace_id=");
  rpct__hex_encode(d->trace_id.bytes, sizeof d->trace_id.bytes, hex);
  put(l, hex, 2 * sizeof d->trace_id.bytes);
  put_str(l, " span_id=");
  rpct__hex_encode(d->span_id.bytes, sizeof d->span_id.bytes, hex);
  put(l, hex, 2 * sizeof d->span_id.bytes);
  put_str(l, " parent_id=");
  if (rpct_span_id_is_valid(&d->parent_span_id)) {
    rpct__hex_encode(d->parent_span_id.bytes, sizeof d->parent_span_id.bytes, hex);
    put(l, hex, 2 * sizeof d->parent_span_id.bytes);
  } else {
    put(l, "-", 1);
  }

  put_str(l, " start=");
  put_u64(l, d->start_unix_ns);
  put_str(l, " duration_us=");
  /* A clock step can make end < start: print 0 rather than a wrapped value. */
  put_u64(l, d->end_unix_ns > d->start_unix_ns ? (d->end_unix_ns - d->start_unix_ns) / 1000 : 0);
  put_str(l, " status=");
  put_str(l, rpct__status_code_name(d->status_code));
  if (d->status_code == RPCT_STATUS_ERROR && d->status_message.len > 0) {
    put(l, "(", 1);
    put_record_str(l, d, d->status_message, true);
    put(l, ")", 1);
  }

  put_attributes(l, d);
  if (d->n_events) {
    put_str(l, " events=");
    put_u64(l, d->n_events);
  }
  if (d->n_links) {
    put_str(l, " links=");
    put_u64(l, d->n_links);
  }

  /* put() keeps LINE_TAIL bytes free for this. */
  if (l->truncated) {
    memcpy(l->buf + l->len, "...", 3);
    l->len += 3;
  }
  l->buf[l->len++] = '\n';
}

static int console_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  console_exporter *c = impl;
  if (atomic_load(&c->shut_down)) return RPCT_ERR_STATE;
  line l;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    format_span(&l, spans[i]);
    if (fwrite(l.buf, 1, l.len, c->stream) != l.len) r = RPCT_ERR_IO;
  }
  if (fflush(c->stream) != 0) r = RPCT_ERR_IO;
  return r;
}

static int console_force_flush(void *impl, uint32_t timeout_ms) {
  (void)timeout_ms;
  console_exporter *c = impl;
  return fflush(c->stream) == 0 ? RPCT_OK : RPCT_ERR_IO;
}

static int console_shutdown(void *impl, uint32_t timeout_ms) {
  console_exporter *c = impl;
  atomic_store(&c->shut_down, true);
  return console_force_flush(c, timeout_ms);
}

static void console_destroy(void *impl) {
  console_exporter *c = impl;
  rpct__free(c->has_alloc ? &c->alloc : NULL, c);
}

/* Return conventions are those of rpct_exporter_ops (export.h). */
static const rpct_exporter_ops console_ops = {
    .export_spans = console_export,
    .force_flush = console_force_flush,
    .shutdown = console_shutdown,
    .destroy = console_destroy,
};

int rpct_console_exporter_new(rpct_exporter **out, FILE *stream, const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  console_exporter *c = rpct__calloc(alloc, 1, sizeof *c);
  if (!c) return RPCT_ERR_NO_MEMORY;
  c->stream = stream ? stream : stdout;
  if (alloc) {
    c->alloc = *alloc;
    c->has_alloc = true;
  }
  atomic_init(&c->shut_down, false);
  int r = rpct_exporter_new(out, &console_ops, c, alloc);
  if (r != RPCT_OK) console_destroy(c);
  return r;
}
