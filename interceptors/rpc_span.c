/*
 * The span of one RPC as facts (rpc_span.h), and the build that turns the
 * facts into the span the conventions describe (tracing_config.c holds the
 * rules; this file only records and replays).
 *
 * Variable parts follow the fixed facts as tagged entries, appended in
 * the order they happen and read back in that order by the build:
 *   ENTRY_EVENT  a message: direction, its number in that direction, size,
 *                time
 *   ENTRY_MD     a metadata value: which list (rpct__md_kind), the key's
 *                index in that allow-list, the value
 *   ENTRY_LINK   a linked context (public endpoint): ids, flags, tracestate
 * An entry that does not fit is dropped and counted (dropped_events,
 * dropped_md); the fixed facts and the texts written at start always fit.
 */
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include "internal.h"
#include "rpc_span.h"

enum { ENTRY_EVENT = 1, ENTRY_MD = 2, ENTRY_LINK = 3 };

/* What the texts written at start may take of the record, so that the
 * status message, the peer and entries keep room: the method path, the
 * server's name. */
#define METHOD_MAX 255
#define SERVER_MAX 255
#define PEER_MAX 127
#define MESSAGE_MAX 255

typedef struct event_entry {
  uint8_t tag, sent;
  uint32_t id;
  uint64_t size;
  uint64_t time_unix_ns;
} event_entry;

typedef struct md_entry {
  uint8_t tag, kind, key;
  uint16_t len; /* the value's bytes follow */
} md_entry;

typedef struct link_entry {
  uint8_t tag, flags;
  rpct_trace_id trace_id;
  rpct_span_id span_id;
  uint16_t tracestate_len; /* the tracestate's bytes follow */
} link_entry;

/* Room entries leave for what comes at status time (the message, the
 * peer), so the status is never crowded out by events or metadata. */
#define STATUS_RESERVE (MESSAGE_MAX + 1 + PEER_MAX + 1)

/* Append an entry of `head` bytes then `tail_len` bytes; all or nothing. */
static bool append(rpct__rpc_facts *f, const void *head, size_t head_len, const void *tail,
                   size_t tail_len) {
  size_t at = f->h.size;
  if (at + head_len + tail_len + STATUS_RESERVE > RPCT__DEFERRED_MAX) return false;
  memcpy((char *)f + at, head, head_len);
  if (tail_len) memcpy((char *)f + at + head_len, tail, tail_len);
  f->h.size = (uint16_t)(at + head_len + tail_len);
  return true;
}

static void put_text(rpct__rpc_facts *f, const char *s, size_t len, size_t max, uint16_t *off,
                     uint16_t *kept) {
  *off = rpct__deferred_put(&f->h, RPCT__DEFERRED_MAX, s, len < max ? len : max, kept);
}

static void build(const rpct__deferred *d, rpct_span *span);

bool rpct__rpc_span_start(rpct__rpc_span *s, const rpct__tracing_config *c, unsigned side,
                          const rpct__method *m, const rpct_span_context *parent,
                          const rpct_span_context *link) {
  rpct__rpc_facts *f = &s->rec.f;
  rpct_span_kind kind = side == RPCT_SIDE_CLIENT ? RPCT_SPAN_KIND_CLIENT : RPCT_SPAN_KIND_SERVER;
  s->recording = rpct__deferred_start(&f->h, sizeof s->rec, sizeof *f, rpct_tracer_global(),
                                      m->full_len ? m->full : "grpc", kind, parent, &s->ctx, build);
  if (!s->recording) return false;
  (void)c;
  f->code = -1;
  f->side = (uint8_t)side;
  f->other = m->other;
  f->server_is_target = false;
  f->n_events = f->dropped_events = 0;
  f->n_msgs[0] = f->n_msgs[1] = 0;
  f->dropped_md = 0;
  f->server_off = f->server_len = 0;
  f->peer_off = f->peer_len = 0;
  f->msg_off = f->msg_len = 0;
  put_text(f, m->full, m->full_len, METHOD_MAX, &f->method_off, &f->method_len);
  f->entries_off = 0;
  if (link && rpct_span_context_is_valid(link)) {
    link_entry e = {.tag = ENTRY_LINK,
                    .flags = link->flags,
                    .trace_id = link->trace_id,
                    .span_id = link->span_id,
                    .tracestate_len = link->tracestate.len};
    if (!f->entries_off) f->entries_off = f->h.size;
    append(f, &e, sizeof e, link->tracestate.buf, link->tracestate.len);
  }
  return true;
}

void rpct__rpc_span_server(rpct__rpc_span *s, const char *text, size_t len, bool is_target) {
  if (!s->recording || !text || !len) return;
  rpct__rpc_facts *f = &s->rec.f;
  put_text(f, text, len, SERVER_MAX, &f->server_off, &f->server_len);
  f->server_is_target = is_target;
}

void rpct__rpc_span_peer(rpct__rpc_span *s, struct grpc_call *call) {
  if (!s->recording || !call) return;
  /* gRPC core hands the peer out only as a gpr_malloc'd string. */
  char *peer = grpc_call_get_peer(call);
  if (!peer) return;
  rpct__rpc_facts *f = &s->rec.f;
  put_text(f, peer, strlen(peer), PEER_MAX, &f->peer_off, &f->peer_len);
  gpr_free(peer);
}

void rpct__rpc_span_message(rpct__rpc_span *s, const rpct__tracing_config *c, bool sent,
                            size_t bytes) {
  if (!s->recording) return;
  rpct__rpc_facts *f = &s->rec.f;
  uint32_t id = ++f->n_msgs[sent ? 0 : 1];
  if (!c->message_events) return;
  event_entry e = {.tag = ENTRY_EVENT,
                   .sent = sent,
                   .id = id,
                   .size = bytes,
                   .time_unix_ns = rpct_now_unix_ns()};
  if (!f->entries_off) f->entries_off = f->h.size;
  /* A span keeps RPCT_SPAN_MAX_EVENTS: later ones are only counted. */
  if (f->n_events < RPCT_SPAN_MAX_EVENTS && append(f, &e, sizeof e, NULL, 0))
    f->n_events++;
  else
    f->dropped_events++;
}

void rpct__rpc_span_metadata(rpct__rpc_span *s, const rpct__name_list *keys, rpct__md_kind kind,
                             const rpct_md *md, size_t n) {
  if (!s->recording || !keys->n || !n) return;
  rpct__rpc_facts *f = &s->rec.f;
  for (size_t i = 0; i < n; i++) {
    for (uint8_t k = 0; k < keys->n; k++) {
      if (!rpct__md_key_is(&md[i], keys->buf + keys->at[k].off, keys->at[k].len)) continue;
      size_t len = md[i].value_len > UINT16_MAX ? UINT16_MAX : md[i].value_len;
      md_entry e = {.tag = ENTRY_MD, .kind = (uint8_t)kind, .key = k, .len = (uint16_t)len};
      if (!f->entries_off) f->entries_off = f->h.size;
      if (!append(f, &e, sizeof e, md[i].value ? md[i].value : "", len)) f->dropped_md++;
      break;
    }
  }
}

void rpct__rpc_span_status(rpct__rpc_span *s, const rpct_call_status *st) {
  if (!s->recording) return;
  rpct__rpc_facts *f = &s->rec.f;
  f->code = st ? st->code : 2 /* UNKNOWN */;
  /* The message is only ever shown on an error span; the build decides
   * which codes are errors, so keep it for any non-OK code. */
  if (st && st->code != 0 && st->message && st->message_len)
    put_text(f, st->message, st->message_len, MESSAGE_MAX, &f->msg_off, &f->msg_len);
}

void rpct__rpc_span_end(rpct__rpc_span *s, uint64_t end_unix_ns) {
  if (!s->recording) return;
  s->recording = false;
  rpct__deferred_end(&s->rec.f.h, end_unix_ns);
}

/* ---- the build (any thread, from the record alone) ---- */

/* Each entry of `f` of `tag`, in order: *at is the cursor (0 to start). */
static const unsigned char *next_entry(const rpct__rpc_facts *f, int tag, size_t *at) {
  const unsigned char *base = (const unsigned char *)f;
  if (!f->entries_off) return NULL;
  if (!*at) *at = f->entries_off;
  while (*at < f->h.size) {
    const unsigned char *p = base + *at;
    size_t len;
    switch (p[0]) {
      case ENTRY_EVENT: len = sizeof(event_entry); break;
      case ENTRY_MD: {
        md_entry e;
        memcpy(&e, p, sizeof e);
        len = sizeof e + e.len;
        break;
      }
      case ENTRY_LINK: {
        link_entry e;
        memcpy(&e, p, sizeof e);
        len = sizeof e + e.tracestate_len;
        break;
      }
      default: return NULL; /* cannot happen: entries are ours */
    }
    *at += len;
    if (p[0] == tag) return p;
  }
  return NULL;
}

static void build_events(const rpct__tracing_config *c, const rpct__rpc_facts *f, rpct_span *span) {
  /* The stable set alone deprecates the event: a call that carried at most
   * one message each way (unary) records none. */
  bool stable_only = !(c->semconv & RPCT__SEMCONV_OLD) && !c->a72_names;
  if (stable_only && f->n_msgs[0] <= 1 && f->n_msgs[1] <= 1) return;
  size_t at = 0;
  const unsigned char *p;
  while ((p = next_entry(f, ENTRY_EVENT, &at))) {
    event_entry e;
    memcpy(&e, p, sizeof e);
    rpct__tracing_message_event_at(c, span, e.sent, e.id, e.size, e.time_unix_ns);
  }
  span->data_.dropped_events += f->dropped_events;
}

#define MD_VALUES_MAX 32

static void build_metadata(const rpct__tracing_config *c, const rpct__rpc_facts *f,
                           rpct_span *span) {
  for (int kind = RPCT__MD_REQUEST; kind <= RPCT__MD_RESPONSE_TRAILER; kind++) {
    const rpct__name_list *keys = kind == RPCT__MD_REQUEST ? &c->request_md : &c->response_md;
    for (uint8_t k = 0; k < keys->n; k++) {
      const char *values[MD_VALUES_MAX];
      size_t lens[MD_VALUES_MAX], found = 0, at = 0;
      const unsigned char *p;
      while (found < MD_VALUES_MAX && (p = next_entry(f, ENTRY_MD, &at))) {
        md_entry e;
        memcpy(&e, p, sizeof e);
        if (e.kind != kind || e.key != k) continue;
        values[found] = (const char *)p + sizeof e;
        lens[found++] = e.len;
      }
      if (found)
        rpct__tracing_set_metadata(c, span, keys->buf + keys->at[k].off, keys->at[k].len,
                                   (rpct__md_kind)kind, values, lens, found);
    }
  }
  span->data_.dropped_attributes += f->dropped_md;
}

static void build_links(const rpct__rpc_facts *f, rpct_span *span) {
  size_t at = 0;
  const unsigned char *p;
  while ((p = next_entry(f, ENTRY_LINK, &at))) {
    link_entry e;
    memcpy(&e, p, sizeof e);
    rpct_span_context ctx;
    memset(&ctx, 0, offsetof(rpct_span_context, tracestate.buf));
    ctx.trace_id = e.trace_id;
    ctx.span_id = e.span_id;
    ctx.flags = e.flags;
    ctx.remote = true;
    ctx.tracestate.len = e.tracestate_len;
    memcpy(ctx.tracestate.buf, p + sizeof e, e.tracestate_len);
    rpct_span_add_link(span, &ctx, NULL, 0);
  }
}

static void build(const rpct__deferred *d, rpct_span *span) {
  const rpct__rpc_facts *f = (const rpct__rpc_facts *)d;
  const rpct__tracing_config *c = &rpct__tracing;
  rpct__method m;
  rpct__tracing_method(rpct__deferred_text(d, f->method_off), f->method_len, &m);
  m.other = f->other;
  char name[RPCT__SPAN_NAME_MAX];
  size_t name_len = rpct__tracing_span_name(c, &m, f->side, name);
  rpct_span_update_name(span, name, name_len);
  build_links(f, span);
  rpct__tracing_set_rpc_attributes(c, span, &m);
  if (f->server_len) {
    const char *t = rpct__deferred_text(d, f->server_off);
    rpct__hostport hp;
    bool ok = f->server_is_target ? rpct__tracing_parse_target(t, f->server_len, &hp)
                                  : rpct__tracing_parse_hostport(t, f->server_len, &hp);
    if (ok) rpct__tracing_set_server(span, &hp);
  }
  build_metadata(c, f, span);
  build_events(c, f, span);
  if (f->peer_len) rpct__tracing_set_peer(span, rpct__deferred_text(d, f->peer_off));
  /* Last, so a long message cannot crowd the attributes out. */
  rpct__tracing_set_status(c, span, f->side, f->code < 0 ? 2 : f->code,
                           rpct__deferred_text(d, f->msg_off), f->msg_len);
}
