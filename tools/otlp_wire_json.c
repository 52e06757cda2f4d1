/* OTLP protobuf wire bytes -> OTLP/JSON, streamed (see otlp_wire_json.h).
 *
 * A message is read as a "view": either one byte range (the request, an
 * element of a repeated field), or the payloads of every occurrence of a
 * singular message field of a parent view, in order, which is how
 * protobuf merges them. Writing a message takes a few passes over its
 * view: one to find its scalars (the last occurrence of each) and what it
 * holds, then one per repeated or message field present. A pass over a
 * view of a parent view walks the parent's fields too; such chains are at
 * most three long (KeyValue, its AnyValue, that value's ArrayValue), so
 * the work stays proportional to the request's size. */
#include "otlp_wire_json.h"

#include <limits.h>
#include <string.h>

#include "internal.h"

/* ---- reading the wire ---- */

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

/* One field as read from the wire. */
typedef struct wire_field {
  uint32_t num;
  uint8_t type;        /* wire type */
  bool nonzero;        /* varint: a payload bit is set (protobuf-c's bool) */
  uint64_t value;      /* varint (its low 64 bits) or fixed bits */
  const uint8_t *data; /* WT_LEN: the payload */
  size_t len;          /* WT_LEN: its length */
  const uint8_t *at;   /* where the field starts: orders occurrences */
} wire_field;

/* A varint of at most `max` bytes at *p (< end), as protobuf-c reads them:
 * the low 64 bits of the value. False when truncated or longer. */
static bool read_varint(const uint8_t **p, const uint8_t *end, unsigned max, uint64_t *out,
                        bool *nonzero) {
  uint64_t v = 0;
  bool any = false;
  for (unsigned i = 0; i < max; i++) {
    if (*p >= end) return false;
    uint8_t byte = *(*p)++;
    v |= (uint64_t)(byte & 0x7F) << (7 * i); /* i < 10: beyond bit 63 is dropped */
    any |= (byte & 0x7F) != 0;
    if (!(byte & 0x80)) {
      *out = v;
      if (nonzero) *nonzero = any;
      return true;
    }
  }
  return false;
}

/* The field at *p (< end), moving *p past it. False when the data is
 * malformed there, as protobuf-c judges: a tag of more than 5 bytes or of
 * field 0, a wire type other than 0, 1, 2 and 5 (groups included), a
 * varint of more than 10 bytes, a length of more than 5 bytes or above
 * INT_MAX, or a value running past `end`. */
static bool read_field(const uint8_t **p, const uint8_t *end, wire_field *f) {
  uint64_t key;
  f->at = *p;
  if (!read_varint(p, end, 5, &key, NULL) || (key >> 3) == 0) return false;
  f->num = (uint32_t)(key >> 3); /* 5 bytes hold 35 bits: the number fits */
  f->type = (uint8_t)(key & 7);
  f->data = NULL;
  f->len = 0;
  f->value = 0;
  f->nonzero = false;
  switch (f->type) {
    case WT_VARINT: return read_varint(p, end, 10, &f->value, &f->nonzero);
    case WT_FIXED64:
    case WT_FIXED32: {
      size_t n = f->type == WT_FIXED64 ? 8 : 4;
      if ((size_t)(end - *p) < n) return false;
      for (size_t i = 0; i < n; i++) f->value |= (uint64_t)(*p)[i] << (8 * i);
      *p += n;
      f->nonzero = f->value != 0;
      return true;
    }
    case WT_LEN: {
      uint64_t n;
      if (!read_varint(p, end, 5, &n, NULL) || n > INT_MAX || n > (uint64_t)(end - *p))
        return false;
      f->data = *p;
      f->len = (size_t)n;
      *p += n;
      return true;
    }
    default: return false;
  }
}

/* ---- the schema (proto/opentelemetry/...) ---- */

typedef enum msg_type {
  M_NONE,
  M_REQUEST,
  M_RESOURCE_SPANS,
  M_RESOURCE,
  M_SCOPE_SPANS,
  M_SCOPE,
  M_SPAN,
  M_EVENT,
  M_LINK,
  M_STATUS,
  M_KEY_VALUE,
  M_ANY_VALUE,
  M_ARRAY_VALUE,
  M_KVLIST,
  M_COUNT
} msg_type;

/* The highest field number any of them uses (Span.flags). */
#define MAX_FIELD 16

/* A known field: its wire type, and for a message field its type. */
typedef struct field_def {
  bool known;
  uint8_t wire;
  msg_type sub;
} field_def;

#define VARINT \
  { true, WT_VARINT, M_NONE }
#define FIXED64 \
  { true, WT_FIXED64, M_NONE }
#define FIXED32 \
  { true, WT_FIXED32, M_NONE }
#define BYTES \
  { true, WT_LEN, M_NONE } /* string or bytes */
#define MSG(t) \
  { true, WT_LEN, t }

static const field_def schema[M_COUNT][MAX_FIELD + 1] = {
    [M_REQUEST] = {[1] = MSG(M_RESOURCE_SPANS)},
    [M_RESOURCE_SPANS] = {[1] = MSG(M_RESOURCE), [2] = MSG(M_SCOPE_SPANS), [3] = BYTES},
    [M_RESOURCE] = {[1] = MSG(M_KEY_VALUE), [2] = VARINT},
    [M_SCOPE_SPANS] = {[1] = MSG(M_SCOPE), [2] = MSG(M_SPAN), [3] = BYTES},
    [M_SCOPE] = {[1] = BYTES, [2] = BYTES, [3] = MSG(M_KEY_VALUE), [4] = VARINT},
    [M_SPAN] = {[1] = BYTES,
                [2] = BYTES,
                [3] = BYTES,
                [4] = BYTES,
                [5] = BYTES,
                [6] = VARINT,
                [7] = FIXED64,
                [8] = FIXED64,
                [9] = MSG(M_KEY_VALUE),
                [10] = VARINT,
                [11] = MSG(M_EVENT),
                [12] = VARINT,
                [13] = MSG(M_LINK),
                [14] = VARINT,
                [15] = MSG(M_STATUS),
                [16] = FIXED32},
    [M_EVENT] = {[1] = FIXED64, [2] = BYTES, [3] = MSG(M_KEY_VALUE), [4] = VARINT},
    [M_LINK] = {[1] = BYTES,
                [2] = BYTES,
                [3] = BYTES,
                [4] = MSG(M_KEY_VALUE),
                [5] = VARINT,
                [6] = FIXED32},
    [M_STATUS] = {[2] = BYTES, [3] = VARINT},
    [M_KEY_VALUE] = {[1] = BYTES, [2] = MSG(M_ANY_VALUE)},
    /* All seven are the oneof `value`. */
    [M_ANY_VALUE] =
        {[1] = BYTES,
         [2] = VARINT,
         [3] = VARINT,
         [4] = FIXED64,
         [5] = MSG(M_ARRAY_VALUE),
         [6] = MSG(M_KVLIST),
         [7] = BYTES},
    [M_ARRAY_VALUE] = {[1] = MSG(M_ANY_VALUE)},
    [M_KVLIST] = {[1] = MSG(M_KEY_VALUE)},
};

static const field_def *field_of(msg_type m, uint32_t num) {
  static const field_def unknown = {false, 0, M_NONE};
  return num <= MAX_FIELD ? &schema[m][num] : &unknown;
}

/* ---- the check ---- */

/* One open message on the walk: its type and where its bytes end. */
typedef struct frame {
  msg_type type;
  const uint8_t *end;
} frame;

rtt_otlp_wire_status rtt_otlp_wire_check(const uint8_t *data, size_t len, size_t *spans) {
  frame stack[RTT_OTLP_MAX_DEPTH];
  size_t n_spans = 0;
  if (spans) *spans = 0;
  if (!data || len == 0) return RTT_OTLP_WIRE_OK;
  const uint8_t *p = data;
  unsigned depth = 1;
  stack[0] = (frame){M_REQUEST, data + len};
  while (depth > 0) {
    frame *top = &stack[depth - 1];
    if (p == top->end) {
      depth--;
      continue;
    }
    wire_field f;
    if (!read_field(&p, top->end, &f)) return RTT_OTLP_WIRE_MALFORMED;
    const field_def *def = field_of(top->type, f.num);
    if (!def->known) continue; /* kept by protobuf-c, never written */
    if (f.type != def->wire) return RTT_OTLP_WIRE_MALFORMED;
    if (def->sub == M_NONE) continue;
    if (def->sub == M_SPAN) n_spans++;
    if (depth >= RTT_OTLP_MAX_DEPTH) return RTT_OTLP_WIRE_TOO_DEEP;
    /* Read the submessage's fields next; they end where its payload does. */
    p = f.data;
    stack[depth++] = (frame){def->sub, f.data + f.len};
  }
  if (spans) *spans = n_spans;
  return RTT_OTLP_WIRE_OK;
}

/* ---- views ---- */

typedef struct view {
  const struct view *parent; /* NULL: the message is [start, end) */
  const uint8_t *start, *end;
  uint32_t field;      /* with a parent: the field whose payloads make the message */
  const uint8_t *from; /* with a parent: its occurrences from here on (NULL: all) */
} view;

typedef void (*field_fn)(void *ctx, const wire_field *f);

typedef struct descent {
  const view *v;
  field_fn fn;
  void *ctx;
} descent;

static void view_each(const view *v, field_fn fn, void *ctx);

static void range_each(const uint8_t *p, const uint8_t *end, field_fn fn, void *ctx) {
  wire_field f;
  while (p < end && read_field(&p, end, &f)) fn(ctx, &f);
}

static void descend(void *ctx, const wire_field *f) {
  const descent *d = ctx;
  if (f->num == d->v->field && f->type == WT_LEN && (!d->v->from || f->at >= d->v->from))
    range_each(f->data, f->data + f->len, d->fn, d->ctx);
}

/* Call fn for each field of the message `v`, in wire order. */
static void view_each(const view *v, field_fn fn, void *ctx) {
  if (!v->parent) {
    range_each(v->start, v->end, fn, ctx);
    return;
  }
  descent d = {v, fn, ctx};
  view_each(v->parent, descend, &d);
}

/* The message made of field `field` of `parent` from `from` on. */
static view sub_view(const view *parent, uint32_t field, const uint8_t *from) {
  view v = {parent, NULL, NULL, field, from};
  return v;
}

/* What one pass finds in a message of type `type`: the last occurrence of
 * each known field (a zeroed one when absent: "" and 0, the defaults) and
 * how many there are; for an AnyValue, which member of the oneof holds and
 * since where. */
typedef struct fields {
  msg_type type;
  wire_field last[MAX_FIELD + 1];
  size_t count[MAX_FIELD + 1];
  uint32_t oneof;
  const uint8_t *oneof_from;
} fields;

static void collect_one(void *ctx, const wire_field *f) {
  fields *fs = ctx;
  const field_def *def = field_of(fs->type, f->num);
  if (!def->known || def->wire != f->type) return;
  fs->last[f->num] = *f;
  fs->count[f->num]++;
  if (fs->type == M_ANY_VALUE && fs->oneof != f->num) {
    fs->oneof = f->num;
    fs->oneof_from = f->at;
  }
}

static void collect(const view *v, msg_type type, fields *fs) {
  memset(fs, 0, sizeof *fs);
  fs->type = type;
  view_each(v, collect_one, fs);
}

/* ---- writing ---- */

typedef struct emitter {
  rtt_json_sink *s;
  bool stop; /* the sink failed or ran out of memory: write nothing more */
} emitter;

/* Hand the buffer on when it holds flush_at bytes. Every out_* ends with
 * this, which is what bounds the buffer (RTT_JSON_SINK_SLACK). */
static void sink_check(emitter *e) {
  rtt_json_sink *s = e->s;
  if (s->failed || s->buf.oom) {
    e->stop = true;
    return;
  }
  if (s->flush_at && s->buf.len >= s->flush_at) {
    if (!s->flush(s->ctx, s->buf.buf, s->buf.len)) {
      s->failed = true;
      e->stop = true;
    }
    rpct__json_reset(&s->buf);
  }
}

static void out_lit(emitter *e, const char *lit) {
  rpct__json_put(&e->s->buf, lit, strlen(lit));
  sink_check(e);
}

static void out_char(emitter *e, char c) {
  rpct__json_char(&e->s->buf, c);
  sink_check(e);
}

static void out_key(emitter *e, bool *first, const char *name) {
  rpct__json_key(&e->s->buf, first, name);
  sink_check(e);
}

static void out_u32(emitter *e, uint32_t v) {
  rpct__json_u32(&e->s->buf, v);
  sink_check(e);
}

static void out_u64_str(emitter *e, uint64_t v) {
  rpct__json_u64_str(&e->s->buf, v);
  sink_check(e);
}

/* A piece of a longer string or byte string, written by a json_writer
 * function that quotes what it writes: drop the quotes it added at
 * b->buf[mark] and at the end, so the pieces join into one string. */
static void unquote(rpct__json_buf *b, size_t mark) {
  if (b->oom || b->len < mark + 2) return;
  memmove(b->buf + mark, b->buf + mark + 1, b->len - mark - 2);
  b->len -= 2;
}

/* Input per step for long strings and bytes: at most 6 * 8192 bytes of
 * JSON (\u00XX for each byte), well within RTT_JSON_SINK_SLACK. */
#define STR_PIECE ((size_t)8192)
#define HEX_PIECE ((size_t)8192)
#define BASE64_PIECE ((size_t)12288) /* a multiple of 3: no padding inside */

static bool is_continuation(uint8_t c) { return (c & 0xC0) == 0x80; }

/* Where to end a piece of s near `at` (> 3) so that the UTF-8 repair
 * json_writer does reads the pieces as it would the whole: before a byte
 * that cannot continue a sequence, or after three continuation bytes (a
 * sequence is at most four bytes long, so none is open there). One of
 * any four positions in a row is such a place. */
static size_t piece_end(const uint8_t *s, size_t at) {
  for (size_t p = at; p > at - 4; p--)
    if (!is_continuation(s[p]) ||
        (is_continuation(s[p - 1]) && is_continuation(s[p - 2]) && is_continuation(s[p - 3])))
      return p;
  return at; /* not reached */
}

/* s[0..n) as a JSON string, repaired as json_writer repairs, in pieces. */
static void out_str(emitter *e, const uint8_t *s, size_t n) {
  rpct__json_buf *b = &e->s->buf;
  if (n <= STR_PIECE) {
    rpct__json_str(b, (const char *)s, n);
    sink_check(e);
    return;
  }
  out_char(e, '"');
  size_t i = 0;
  while (i < n && !e->stop) {
    size_t end = n - i <= STR_PIECE ? n : piece_end(s, i + STR_PIECE);
    size_t mark = b->len;
    rpct__json_str(b, (const char *)s + i, end - i);
    unquote(b, mark);
    sink_check(e);
    i = end;
  }
  out_char(e, '"');
}

/* Bytes as hex (ids) or base64 (bytesValue), in pieces as out_str. */
static void out_bytes(emitter *e, const uint8_t *s, size_t n, bool base64) {
  rpct__json_buf *b = &e->s->buf;
  size_t piece = base64 ? BASE64_PIECE : HEX_PIECE;
  bool whole = n <= piece;
  if (!whole) out_char(e, '"');
  size_t i = 0;
  do {
    size_t k = n - i < piece ? n - i : piece;
    size_t mark = b->len;
    if (base64)
      rpct__json_base64(b, k ? s + i : NULL, k);
    else
      rpct__json_hex(b, k ? s + i : NULL, k);
    if (!whole) unquote(b, mark);
    sink_check(e);
    i += k;
  } while (i < n && !e->stop);
  if (!whole) out_char(e, '"');
}

/* A string field left out when empty. */
static void out_str_field(emitter *e, bool *first, const char *name, const wire_field *f) {
  if (f->len == 0) return;
  out_key(e, first, name);
  out_str(e, f->data, f->len);
}

/* A uint32 field left out when 0 (the low 32 bits, as protobuf-c reads
 * uint32 and enum varints). */
static void out_u32_field(emitter *e, bool *first, const char *name, const wire_field *f) {
  if ((uint32_t)f->value == 0) return;
  out_key(e, first, name);
  out_u32(e, (uint32_t)f->value);
}

static void out_id(emitter *e, bool *first, const char *name, const wire_field *f) {
  out_key(e, first, name);
  out_bytes(e, f->data, f->len, false);
}

/* Each element of repeated message field `field` of `v`, comma-separated,
 * written by `fn` with `depth`. */
typedef void (*element_fn)(emitter *e, const view *v, unsigned depth);

typedef struct elements {
  emitter *e;
  uint32_t field;
  element_fn fn;
  unsigned depth;
  bool first;
} elements;

static void element_one(void *ctx, const wire_field *f) {
  elements *el = ctx;
  if (f->num != el->field || f->type != WT_LEN || el->e->stop) return;
  if (!el->first) out_char(el->e, ',');
  el->first = false;
  view v = {NULL, f->data, f->data + f->len, 0, NULL};
  el->fn(el->e, &v, el->depth);
}

static void out_elements(emitter *e, const view *v, uint32_t field, element_fn fn, unsigned depth) {
  elements el = {e, field, fn, depth, true};
  out_char(e, '[');
  view_each(v, element_one, &el);
  out_char(e, ']');
}

/* The writers of each message, in the order and with the omissions of
 * otlp_pb_json.c (which says why). `depth` is the message depth of the
 * KeyValues or AnyValue written (the request is 1). */

static void out_any(emitter *e, const view *v, unsigned depth);

static void out_key_value(emitter *e, const view *v, unsigned depth) {
  fields fs;
  collect(v, M_KEY_VALUE, &fs);
  out_lit(e, "{\"key\":");
  out_str(e, fs.last[1].data, fs.last[1].len);
  out_lit(e, ",\"value\":");
  if (fs.count[2]) {
    view value = sub_view(v, 2, NULL);
    out_any(e, &value, depth + 1);
  } else {
    out_lit(e, "{}");
  }
  out_char(e, '}');
}

static void out_any(emitter *e, const view *v, unsigned depth) {
  out_char(e, '{');
  if (depth > RTT_OTLP_MAX_DEPTH) { /* only for data the check refuses */
    out_char(e, '}');
    return;
  }
  fields fs;
  collect(v, M_ANY_VALUE, &fs);
  const wire_field *f = &fs.last[fs.oneof];
  switch (fs.oneof) {
    case 1:
      out_lit(e, "\"stringValue\":");
      out_str(e, f->data, f->len);
      break;
    case 2: out_lit(e, f->nonzero ? "\"boolValue\":true" : "\"boolValue\":false"); break;
    case 3:
      out_lit(e, "\"intValue\":");
      rpct__json_i64_str(&e->s->buf, (int64_t)f->value);
      sink_check(e);
      break;
    case 4: {
      double d;
      memcpy(&d, &f->value, sizeof d);
      out_lit(e, "\"doubleValue\":");
      rpct__json_double(&e->s->buf, d);
      sink_check(e);
      break;
    }
    case 5:
    case 6: {
      /* {"arrayValue":{"values":[...]}}; an empty one is {"arrayValue":{}}. */
      view inner = sub_view(v, fs.oneof, fs.oneof_from);
      fields in;
      collect(&inner, fs.oneof == 5 ? M_ARRAY_VALUE : M_KVLIST, &in);
      out_lit(e, fs.oneof == 5 ? "\"arrayValue\":{" : "\"kvlistValue\":{");
      if (in.count[1]) {
        out_lit(e, "\"values\":");
        out_elements(e, &inner, 1, fs.oneof == 5 ? out_any : out_key_value, depth + 2);
      }
      out_char(e, '}');
      break;
    }
    case 7:
      out_lit(e, "\"bytesValue\":");
      out_bytes(e, f->data, f->len, true);
      break;
    default: break; /* not set: an empty AnyValue */
  }
  out_char(e, '}');
}

static void out_attributes(emitter *e, bool *first, const view *v, const fields *fs, uint32_t field,
                           unsigned depth) {
  if (fs->count[field] == 0) return;
  out_key(e, first, "attributes");
  out_elements(e, v, field, out_key_value, depth);
}

static void out_event(emitter *e, const view *v, unsigned depth) {
  (void)depth;
  fields fs;
  bool first = true;
  collect(v, M_EVENT, &fs);
  out_char(e, '{');
  if (fs.last[1].value) {
    out_key(e, &first, "timeUnixNano");
    out_u64_str(e, fs.last[1].value);
  }
  out_str_field(e, &first, "name", &fs.last[2]);
  /* request 1, ResourceSpans 2, ScopeSpans 3, Span 4, Event 5, KeyValue 6 */
  out_attributes(e, &first, v, &fs, 3, 6);
  out_u32_field(e, &first, "droppedAttributesCount", &fs.last[4]);
  out_char(e, '}');
}

static void out_link(emitter *e, const view *v, unsigned depth) {
  (void)depth;
  fields fs;
  bool first = true;
  collect(v, M_LINK, &fs);
  out_char(e, '{');
  out_id(e, &first, "traceId", &fs.last[1]);
  out_id(e, &first, "spanId", &fs.last[2]);
  out_str_field(e, &first, "traceState", &fs.last[3]);
  out_attributes(e, &first, v, &fs, 4, 6);
  out_u32_field(e, &first, "droppedAttributesCount", &fs.last[5]);
  out_u32_field(e, &first, "flags", &fs.last[6]);
  out_char(e, '}');
}

static void out_span(emitter *e, const view *v, unsigned depth) {
  (void)depth;
  fields fs;
  bool first = true;
  collect(v, M_SPAN, &fs);
  out_char(e, '{');
  out_id(e, &first, "traceId", &fs.last[1]);
  out_id(e, &first, "spanId", &fs.last[2]);
  out_str_field(e, &first, "traceState", &fs.last[3]);
  if (fs.last[4].len) out_id(e, &first, "parentSpanId", &fs.last[4]);
  out_key(e, &first, "flags");
  out_u32(e, (uint32_t)fs.last[16].value);
  out_key(e, &first, "name");
  out_str(e, fs.last[5].data, fs.last[5].len);
  out_key(e, &first, "kind");
  out_u32(e, (uint32_t)fs.last[6].value);
  out_key(e, &first, "startTimeUnixNano");
  out_u64_str(e, fs.last[7].value);
  out_key(e, &first, "endTimeUnixNano");
  out_u64_str(e, fs.last[8].value);
  out_attributes(e, &first, v, &fs, 9, 5);
  out_u32_field(e, &first, "droppedAttributesCount", &fs.last[10]);
  if (fs.count[11]) {
    out_key(e, &first, "events");
    out_elements(e, v, 11, out_event, 0);
  }
  out_u32_field(e, &first, "droppedEventsCount", &fs.last[12]);
  if (fs.count[13]) {
    out_key(e, &first, "links");
    out_elements(e, v, 13, out_link, 0);
  }
  out_u32_field(e, &first, "droppedLinksCount", &fs.last[14]);
  if (fs.count[15]) {
    view status = sub_view(v, 15, NULL);
    fields st;
    collect(&status, M_STATUS, &st);
    if ((uint32_t)st.last[3].value != 0 || st.last[2].len) {
      bool sf = true;
      out_key(e, &first, "status");
      out_char(e, '{');
      out_str_field(e, &sf, "message", &st.last[2]);
      out_u32_field(e, &sf, "code", &st.last[3]);
      out_char(e, '}');
    }
  }
  out_char(e, '}');
}

static void out_scope_spans(emitter *e, const view *v, unsigned depth) {
  (void)depth;
  fields fs;
  bool first = true;
  collect(v, M_SCOPE_SPANS, &fs);
  out_char(e, '{');
  if (fs.count[1]) {
    view scope = sub_view(v, 1, NULL);
    fields sc;
    collect(&scope, M_SCOPE, &sc);
    if (sc.last[1].len || sc.last[2].len || sc.count[3] || (uint32_t)sc.last[4].value) {
      bool sf = true;
      out_key(e, &first, "scope");
      out_char(e, '{');
      out_str_field(e, &sf, "name", &sc.last[1]);
      out_str_field(e, &sf, "version", &sc.last[2]);
      out_attributes(e, &sf, &scope, &sc, 3, 5);
      out_u32_field(e, &sf, "droppedAttributesCount", &sc.last[4]);
      out_char(e, '}');
    }
  }
  out_key(e, &first, "spans");
  out_elements(e, v, 2, out_span, 0);
  out_str_field(e, &first, "schemaUrl", &fs.last[3]);
  out_char(e, '}');
}

static void out_resource_spans(emitter *e, const view *v, unsigned depth) {
  (void)depth;
  fields fs;
  bool first = true;
  collect(v, M_RESOURCE_SPANS, &fs);
  out_char(e, '{');
  if (fs.count[1]) {
    view resource = sub_view(v, 1, NULL);
    fields r;
    collect(&resource, M_RESOURCE, &r);
    if (r.count[1] || (uint32_t)r.last[2].value) {
      bool rf = true;
      out_key(e, &first, "resource");
      out_char(e, '{');
      out_attributes(e, &rf, &resource, &r, 1, 4);
      out_u32_field(e, &rf, "droppedAttributesCount", &r.last[2]);
      out_char(e, '}');
    }
  }
  out_key(e, &first, "scopeSpans");
  out_elements(e, v, 2, out_scope_spans, 0);
  out_str_field(e, &first, "schemaUrl", &fs.last[3]);
  out_char(e, '}');
}

void rtt_json_sink_init(rtt_json_sink *s, size_t flush_at, rtt_json_sink_flush flush, void *ctx) {
  memset(s, 0, sizeof *s);
  rpct__json_init(&s->buf, NULL, flush_at ? flush_at + RTT_JSON_SINK_SLACK : 0);
  s->flush_at = flush_at;
  s->flush = flush;
  s->ctx = ctx;
}

void rtt_json_sink_release(rtt_json_sink *s) { rpct__json_release(&s->buf); }

bool rtt_otlp_wire_to_json(rtt_json_sink *s, const uint8_t *data, size_t len) {
  emitter e = {s, false};
  view request = {NULL, data, data ? data + len : NULL, 0, NULL};
  out_lit(&e, "{\"resourceSpans\":");
  out_elements(&e, &request, 1, out_resource_spans, 0);
  out_char(&e, '}');
  return !s->failed && !s->buf.oom;
}
