/*
 * Spans: start, record into the fixed-size record inside the caller's
 * rpct_span, end, hand the record to the tracer. Nothing here allocates or
 * locks; the only shared state touched is the tracer's counters.
 */
#include <stddef.h>
#include <string.h>

#include "deferred.h"
#include "internal.h"

/* ---- the record's string space ---- */

static bool str_put(rpct_span_data *d, const char *s, size_t len, rpct_str *out) {
  size_t room = RPCT_SPAN_STRING_BYTES - d->strings_used;
  if (len >= room) return false; /* room for the NUL too */
  out->off = d->strings_used;
  out->len = (uint16_t)len;
  memcpy(d->strings + d->strings_used, s, len);
  d->strings[d->strings_used + len] = '\0';
  d->strings_used = (uint16_t)(d->strings_used + len + 1);
  return true;
}

/* Shorten to at most `max` bytes without splitting a UTF-8 sequence. */
static size_t utf8_truncate(const char *s, size_t len, size_t max) {
  if (len <= max) return len;
  size_t n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return n;
}

/* A string array: each element (cut at the attribute length limit `max`,
 * 0 for none, and at a NUL inside it) followed by a NUL; `out` covers them
 * all, the last NUL excepted. All or nothing. */
static bool str_array_put(rpct_span_data *d, const rpct_attribute *a, uint32_t max, rpct_str *out,
                          uint16_t *count) {
  if (a->len > UINT16_MAX) return false;
  uint16_t start = d->strings_used;
  for (size_t i = 0; i < a->len; i++) {
    const char *e = a->v.sa[i] ? a->v.sa[i] : "";
    size_t n = a->lens && a->v.sa[i] ? a->lens[i] : strlen(e);
    const char *nul = memchr(e, '\0', n);
    if (nul) n = (size_t)(nul - e);
    if (max) n = utf8_truncate(e, n, max);
    rpct_str piece;
    if (!str_put(d, e, n, &piece)) {
      d->strings_used = start;
      return false;
    }
  }
  *out = (rpct_str){.off = start, .len = (uint16_t)(a->len ? d->strings_used - start - 1 : 0)};
  *count = (uint16_t)a->len;
  return true;
}

static bool str_eq(const rpct_span_data *d, rpct_str a, const char *s, size_t len) {
  return a.len == len && memcmp(d->strings + a.off, s, len) == 0;
}

/* ---- attributes (span, event or link owned) ---- */

static int attr_put(rpct_span *span, uint8_t owner, const rpct_attribute *a, uint32_t limit,
                    uint32_t *dropped) {
  rpct_span_data *d = &span->data_;
  if (!a || !a->key || !a->key[0]) return RPCT_ERR_INVALID_ARGUMENT;
  if (a->type == RPCT_VALUE_STRING && !a->v.s) return RPCT_ERR_INVALID_ARGUMENT;
  if (a->type == RPCT_VALUE_STRING_ARRAY && a->len && !a->v.sa) return RPCT_ERR_INVALID_ARGUMENT;
  size_t key_len = strlen(a->key);

  rpct_span_attr *slot = NULL;
  uint32_t owned = 0;
  /* A key another part of the span already has (each message event repeats
   * the same three) is stored once and shared. */
  const rpct_str *same_key = NULL;
  for (uint16_t i = 0; i < d->n_attrs; i++) {
    bool eq = str_eq(d, d->attrs[i].key, a->key, key_len);
    if (eq) same_key = &d->attrs[i].key;
    if (d->attrs[i].owner != owner) continue;
    owned++;
    if (eq) slot = &d->attrs[i];
  }
  bool fresh = slot == NULL;
  if (fresh && (owned >= limit || d->n_attrs >= RPCT_SPAN_MAX_ATTRIBUTES)) goto drop;

  rpct_span_attr v = {.type = (uint8_t)a->type, .owner = owner};
  switch (a->type) {
    case RPCT_VALUE_STRING: {
      size_t len = a->len == RPCT_NTS ? strlen(a->v.s) : a->len;
      uint32_t max = rpct__tracer_limits(span->tracer_)->attribute_value_length;
      if (max) len = utf8_truncate(a->v.s, len, max);
      if (!str_put(d, a->v.s, len, &v.v.s)) goto drop;
      break;
    }
    case RPCT_VALUE_STRING_ARRAY: {
      uint32_t max = rpct__tracer_limits(span->tracer_)->attribute_value_length;
      if (!str_array_put(d, a, max, &v.v.s, &v.n_values)) goto drop;
      break;
    }
    case RPCT_VALUE_BOOL: v.v.b = a->v.b; break;
    case RPCT_VALUE_INT: v.v.i = a->v.i; break;
    case RPCT_VALUE_DOUBLE: v.v.d = a->v.d; break;
    default: return RPCT_ERR_INVALID_ARGUMENT;
  }
  if (fresh) {
    if (same_key)
      v.key = *same_key;
    else if (!str_put(d, a->key, key_len, &v.key))
      goto drop;
    slot = &d->attrs[d->n_attrs++];
  } else {
    v.key = slot->key;
  }
  *slot = v;
  return RPCT_OK;
drop:
  (*dropped)++;
  return RPCT_ERR_LIMIT;
}

static bool recording(const rpct_span *span) {
  return span && span->state_ == RPCT__SPAN_RECORDING;
}

int rpct_span_set_attribute(rpct_span *span, const rpct_attribute *attr) {
  if (!recording(span)) return RPCT_ERR_STATE;
  return attr_put(span, RPCT_ATTR_OWNER_SPAN, attr,
                  rpct__tracer_limits(span->tracer_)->attribute_count,
                  &span->data_.dropped_attributes);
}

int rpct_span_set_str(rpct_span *span, const char *key, const char *value) {
  rpct_attribute a = RPCT_ATTR_STR(key, value);
  return rpct_span_set_attribute(span, &a);
}

int rpct_span_set_strn(rpct_span *span, const char *key, const char *value, size_t len) {
  rpct_attribute a = RPCT_ATTR_STR(key, value);
  a.len = len;
  return rpct_span_set_attribute(span, &a);
}

int rpct_span_set_str_array(rpct_span *span, const char *key, const char *const *values,
                            const size_t *lens, size_t n) {
  rpct_attribute a = RPCT_ATTR_STR_ARRAY(key, values, n, lens);
  return rpct_span_set_attribute(span, &a);
}

int rpct_span_set_int(rpct_span *span, const char *key, int64_t value) {
  rpct_attribute a = RPCT_ATTR_INT(key, value);
  return rpct_span_set_attribute(span, &a);
}

int rpct_span_set_double(rpct_span *span, const char *key, double value) {
  rpct_attribute a = RPCT_ATTR_DOUBLE(key, value);
  return rpct_span_set_attribute(span, &a);
}

int rpct_span_set_bool(rpct_span *span, const char *key, bool value) {
  rpct_attribute a = RPCT_ATTR_BOOL(key, value);
  return rpct_span_set_attribute(span, &a);
}

/* ---- events and links ---- */

int rpct_span_add_event(rpct_span *span, const char *name, uint64_t time_unix_ns,
                        const rpct_attribute *attrs, size_t n) {
  if (!recording(span)) return RPCT_ERR_STATE;
  if (!name || (n && !attrs)) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_span_data *d = &span->data_;
  const rpct_span_limits *lim = rpct__tracer_limits(span->tracer_);
  rpct_span_event ev = {.time_unix_ns = time_unix_ns ? time_unix_ns : rpct_now_unix_ns()};
  if (d->n_events >= lim->event_count || !str_put(d, name, strlen(name), &ev.name)) {
    d->dropped_events++;
    return RPCT_ERR_LIMIT;
  }
  uint16_t idx = d->n_events++;
  d->events[idx] = ev;
  for (size_t i = 0; i < n; i++)
    attr_put(span, RPCT_ATTR_OWNER_EVENT(idx), &attrs[i], lim->event_attribute_count,
             &d->events[idx].dropped_attributes);
  return RPCT_OK;
}

static int link_put(rpct_span *span, const rpct_span_context *ctx, const rpct_attribute *attrs,
                    size_t n) {
  rpct_span_data *d = &span->data_;
  const rpct_span_limits *lim = rpct__tracer_limits(span->tracer_);
  rpct_span_link link = {.flags = ctx->flags};
  link.trace_id = ctx->trace_id;
  link.span_id = ctx->span_id;
  if (d->n_links >= lim->link_count ||
      !str_put(d, ctx->tracestate.buf, ctx->tracestate.len, &link.tracestate)) {
    d->dropped_links++;
    return RPCT_ERR_LIMIT;
  }
  uint16_t idx = d->n_links++;
  d->links[idx] = link;
  for (size_t i = 0; i < n; i++)
    attr_put(span, RPCT_ATTR_OWNER_LINK(idx), &attrs[i], lim->link_attribute_count,
             &d->links[idx].dropped_attributes);
  return RPCT_OK;
}

int rpct_span_add_link(rpct_span *span, const rpct_span_context *ctx, const rpct_attribute *attrs,
                       size_t n) {
  if (!recording(span)) return RPCT_ERR_STATE;
  if (!rpct_span_context_is_valid(ctx) || (n && !attrs)) return RPCT_ERR_INVALID_ARGUMENT;
  return link_put(span, ctx, attrs, n);
}

/* ---- lifecycle ---- */

static void context_copy(rpct_span_context *dst, const rpct_span_context *src) {
  memcpy(dst, src, offsetof(rpct_span_context, tracestate.buf));
  memcpy(dst->tracestate.buf, src->tracestate.buf, src->tracestate.len);
}

int rpct_span_start(rpct_span *span, rpct_tracer *tracer, const char *name, rpct_span_kind kind,
                    const rpct_span_context *parent) {
  rpct_span_start_args args = {.name = name, .name_len = RPCT_NTS, .kind = kind, .parent = parent};
  return rpct_span_start_ex(span, tracer, &args);
}

int rpct_span_start_ex(rpct_span *span, rpct_tracer *tracer, const rpct_span_start_args *args) {
  if (!span) return RPCT_ERR_INVALID_ARGUMENT;
  span->state_ = RPCT__SPAN_IDLE;
  if (!args || !args->name || (args->n_links && !args->links)) return RPCT_ERR_INVALID_ARGUMENT;

  const rpct_span_context *parent = args->parent ? args->parent : rpct_context_current();
  if (!rpct_span_context_is_valid(parent)) parent = NULL;
  if (!tracer) tracer = rpct_tracer_global();

  /* Header only; the tracestate text is copied by length below. */
  memset(&span->ctx_, 0, offsetof(rpct_span_context, tracestate.buf));
  span->tracer_ = tracer;
  if (!tracer) {
    /* No SDK installed: a non-recording span that carries its parent. */
    if (parent) context_copy(&span->ctx_, parent);
    span->ctx_.remote = false;
    span->state_ = RPCT__SPAN_NONRECORDING;
    return RPCT_OK;
  }

  rpct_span_context *ctx = &span->ctx_;
  if (parent) {
    ctx->trace_id = parent->trace_id;
    ctx->flags = parent->flags & RPCT_TRACE_FLAG_RANDOM;
    ctx->tracestate.len = parent->tracestate.len;
    ctx->tracestate.count = parent->tracestate.count;
    memcpy(ctx->tracestate.buf, parent->tracestate.buf, parent->tracestate.len);
  } else {
    rpct_trace_id_generate(&ctx->trace_id);
    ctx->flags = RPCT_TRACE_FLAG_RANDOM;
  }
  rpct_span_id_generate(&ctx->span_id);

  size_t name_len = args->name_len == RPCT_NTS ? strlen(args->name) : args->name_len;
  rpct_sampling_params sp = {
      .parent = parent, .trace_id = &ctx->trace_id, .name = args->name, .kind = args->kind};
  rpct_sampling_decision decision = rpct__tracer_sample(tracer, &sp);
  if (decision == RPCT_SAMPLING_RECORD_AND_SAMPLE) ctx->flags |= RPCT_TRACE_FLAG_SAMPLED;
  if (decision == RPCT_SAMPLING_DROP) {
    rpct__tracer_count_not_recorded(tracer);
    span->state_ = RPCT__SPAN_NONRECORDING;
    return RPCT_OK;
  }

  rpct_span_data *d = &span->data_;
  memset(d, 0, offsetof(rpct_span_data, attrs));
  /* Offset 0 holds "": an rpct_str never set ({0, 0}) reads as empty. */
  d->strings[0] = '\0';
  d->strings_used = 1;
  d->trace_id = ctx->trace_id;
  d->span_id = ctx->span_id;
  if (parent) {
    d->parent_span_id = parent->span_id;
    d->parent_remote = parent->remote;
  }
  d->kind = (uint8_t)args->kind;
  d->resource = rpct_tracer_resource(tracer);
  d->scope_name = rpct__tracer_scope_name(tracer);
  d->scope_version = rpct__tracer_scope_version(tracer);
  if (args->start_unix_ns) {
    d->start_unix_ns = args->start_unix_ns;
    span->mono_start_ns_ = 0;
  } else {
    d->start_unix_ns = rpct_now_unix_ns();
    span->mono_start_ns_ = rpct__now_mono_ns();
  }
  /* The name and tracestate come first, so attributes cannot crowd them out
   * (2048 bytes always hold a 512-byte tracestate and a long name). */
  if (!str_put(d, args->name, utf8_truncate(args->name, name_len, 1023), &d->name)) d->name.len = 0;
  if (!str_put(d, ctx->tracestate.buf, ctx->tracestate.len, &d->tracestate)) d->tracestate.len = 0;
  span->state_ = RPCT__SPAN_RECORDING;
  for (size_t i = 0; i < args->n_links; i++)
    if (rpct_span_context_is_valid(args->links[i])) link_put(span, args->links[i], NULL, 0);
  rpct__tracer_on_start(tracer, span);
  return RPCT_OK;
}

bool rpct_span_is_recording(const rpct_span *span) { return recording(span); }

const rpct_span_context *rpct_span_get_context(const rpct_span *span) {
  static const rpct_span_context invalid;
  if (!span || span->state_ == RPCT__SPAN_IDLE) return &invalid;
  return &span->ctx_;
}

int rpct_span_update_name(rpct_span *span, const char *name, size_t len) {
  if (!recording(span)) return RPCT_ERR_STATE;
  if (!name) return RPCT_ERR_INVALID_ARGUMENT;
  if (len == RPCT_NTS) len = strlen(name);
  rpct_str s;
  if (!str_put(&span->data_, name, utf8_truncate(name, len, 1023), &s)) return RPCT_ERR_NO_SPACE;
  span->data_.name = s;
  return RPCT_OK;
}

int rpct_span_set_status(rpct_span *span, rpct_status_code code, const char *description) {
  if (!recording(span)) return RPCT_ERR_STATE;
  rpct_span_data *d = &span->data_;
  if (code == RPCT_STATUS_UNSET || d->status_code == RPCT_STATUS_OK) return RPCT_OK;
  if (code != RPCT_STATUS_OK && code != RPCT_STATUS_ERROR) return RPCT_ERR_INVALID_ARGUMENT;
  d->status_code = (uint8_t)code;
  d->status_message.len = 0;
  if (code == RPCT_STATUS_ERROR && description) {
    size_t len = strlen(description);
    if (!str_put(d, description, utf8_truncate(description, len, 1023), &d->status_message))
      d->status_message.len = 0;
  }
  return RPCT_OK;
}

int rpct_span_end(rpct_span *span, uint64_t end_unix_ns) {
  if (!span || span->state_ == RPCT__SPAN_IDLE) return RPCT_ERR_STATE;
  if (span->state_ == RPCT__SPAN_ENDED) {
    if (span->tracer_) rpct__tracer_count_ended_twice(span->tracer_);
    return RPCT_ERR_STATE;
  }
  bool was_recording = span->state_ == RPCT__SPAN_RECORDING;
  span->state_ = RPCT__SPAN_ENDED;
  if (!was_recording) return RPCT_OK;

  rpct_span_data *d = &span->data_;
  if (end_unix_ns)
    d->end_unix_ns = end_unix_ns;
  else if (span->mono_start_ns_)
    d->end_unix_ns = d->start_unix_ns + (rpct__now_mono_ns() - span->mono_start_ns_);
  else
    d->end_unix_ns = rpct_now_unix_ns();
  if (d->end_unix_ns < d->start_unix_ns) d->end_unix_ns = d->start_unix_ns;
  d->flags = span->ctx_.flags;
  rpct__tracer_on_end(span->tracer_, d);
  return RPCT_OK;
}

void rpct_span_data_copy(rpct_span_data *dst, const rpct_span_data *src) {
  memcpy(dst, src, offsetof(rpct_span_data, attrs));
  memcpy(dst->attrs, src->attrs, src->n_attrs * sizeof src->attrs[0]);
  memcpy(dst->events, src->events, src->n_events * sizeof src->events[0]);
  memcpy(dst->links, src->links, src->n_links * sizeof src->links[0]);
  memcpy(dst->strings, src->strings, src->strings_used);
}

/* ---- deferred spans (deferred.h) ---- */

void rpct__span_restore(rpct_span *span, const rpct__deferred *r) {
  memset(&span->ctx_, 0, offsetof(rpct_span_context, tracestate.buf));
  span->ctx_.trace_id = r->trace_id;
  span->ctx_.span_id = r->span_id;
  span->ctx_.flags = r->flags;
  span->tracer_ = r->tracer;
  span->mono_start_ns_ = 0;
  rpct_span_data *d = &span->data_;
  memset(d, 0, offsetof(rpct_span_data, attrs));
  d->strings[0] = '\0';
  d->strings_used = 1;
  d->trace_id = r->trace_id;
  d->span_id = r->span_id;
  d->parent_span_id = r->parent_span_id;
  d->parent_remote = r->parent_remote;
  d->flags = r->flags;
  d->kind = r->kind;
  d->resource = rpct_tracer_resource(r->tracer);
  d->scope_name = rpct__tracer_scope_name(r->tracer);
  d->scope_version = rpct__tracer_scope_version(r->tracer);
  d->start_unix_ns = r->start_unix_ns;
  if (r->tracestate_len &&
      !str_put(d, rpct__deferred_text(r, r->tracestate_off), r->tracestate_len, &d->tracestate))
    d->tracestate.len = 0;
  span->state_ = RPCT__SPAN_RECORDING;
}

void rpct__span_finish_restored(rpct_span *span, uint64_t end_unix_ns) {
  span->data_.end_unix_ns = end_unix_ns;
  span->state_ = RPCT__SPAN_ENDED;
}
