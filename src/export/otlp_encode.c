/*
 * Span records -> one OTLP ExportTraceServiceRequest, packed with protobuf-c.
 * Runs on the export thread. The message tree points into the records
 * (ids, strings) instead of copying them, and all of its nodes come from a
 * single allocation sized in a first pass, freed before returning.
 *
 * Every protobuf `string` must be valid UTF-8: conforming decoders (protobuf
 * C++ and Go, so the Collector) reject the whole request otherwise, and the
 * RPC path records what clients send (:path, :authority, metadata, status
 * messages) as it comes. So the first pass also checks every string this
 * request will carry, and sizes room in the same block for the repaired
 * copies (utf8.h: U+FFFD per maximal subpart) of those that are not valid.
 * A batch of valid strings costs that one scan: the second pass then points
 * at the records as before, without checking again.
 */
#include <stdalign.h>
#include <string.h>

#include "export/otlp_pb.h"
#include "internal.h"
#include "utf8.h"

/* OTLP SpanFlags: bit 8 says bit 9 is meaningful; bit 9: the parent is remote. */
#define SPAN_FLAGS_HAS_IS_REMOTE 0x100u
#define SPAN_FLAGS_IS_REMOTE 0x200u

/* Bump allocation inside the single block. */
typedef struct arena {
  char *p;
} arena;

static size_t round_up(size_t n) { return (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1); }

static void *take(arena *a, size_t count, size_t size) {
  size_t n = round_up(count * size);
  void *p = a->p;
  a->p += n;
  return p; /* the block was sized by the same arithmetic: never past end */
}

/* Records from a tracer always name their scope; a hand-made one may not. */
static const char *or_empty(const char *s) { return s ? s : ""; }

bool rpct__otlp_same_group(const rpct_span_data *a, const rpct_span_data *b) {
  return a->resource == b->resource &&
         strcmp(or_empty(a->scope_name), or_empty(b->scope_name)) == 0 &&
         strcmp(or_empty(a->scope_version), or_empty(b->scope_version)) == 0;
}

/* Scanning back instead of building a table: with the usual one resource
 * and one scope each check stops at the first span, so a batch costs O(n);
 * only batches with many distinct groups pay up to O(n^2) comparisons. */
bool rpct__otlp_first_of_resource(const rpct_span_data *const *spans, size_t i) {
  for (size_t s = 0; s < i; s++)
    if (spans[s]->resource == spans[i]->resource) return false;
  return true;
}

bool rpct__otlp_first_of_scope(const rpct_span_data *const *spans, size_t from, size_t k) {
  for (size_t s = from; s < k; s++)
    if (rpct__otlp_same_group(spans[s], spans[k])) return false;
  return true;
}

static char *mut(const char *s) { return (char *)s; } /* protobuf-c only reads */

/* ---- strings: valid UTF-8 or a repaired copy ---- */

/* Room for the repaired copies, at the end of the block. `check` is false
 * when the first pass found every string valid. */
typedef struct texts {
  bool check;
  char *p, *end;
} texts;

/* Bytes a repaired copy of s[0..len) takes in the block (with its NUL);
 * 0 when s is valid. */
static size_t repair_need(const char *s, size_t len) {
  if (rpct__utf8_valid_prefix(s, len) == len) return 0;
  return rpct__utf8_repaired_len(s, len) + 1;
}

static size_t repair_need_str(const rpct_span_data *d, rpct_str s) {
  return repair_need(rpct_span_data_str(d, s), s.len);
}

static size_t repair_need_cstr(const char *s) { return s ? repair_need(s, strlen(s)) : 0; }

/* s[0..len) (NUL-terminated at len) as protobuf-c may send it. */
static char *text(texts *t, const char *s, size_t len) {
  if (!t->check || rpct__utf8_valid_prefix(s, len) == len) return mut(s);
  size_t need = rpct__utf8_repaired_len(s, len) + 1;
  /* The first pass sized this exactly; never write past it whatever. */
  if (need > (size_t)(t->end - t->p)) return mut("");
  char *out = t->p;
  size_t n = rpct__utf8_repair(s, len, out);
  out[n] = '\0';
  t->p += n + 1;
  return out;
}

static char *text_str(texts *t, const rpct_span_data *d, rpct_str s) {
  return text(t, rpct_span_data_str(d, s), s.len);
}

static char *text_cstr(texts *t, const char *s) { return text(t, s, strlen(s)); }

/* Every string of `d` the request carries, as fill_span reads them. */
static size_t span_repair_need(const rpct_span_data *d) {
  size_t need = repair_need_str(d, d->name);
  if (d->tracestate.len) need += repair_need_str(d, d->tracestate);
  if (d->status_message.len) need += repair_need_str(d, d->status_message);
  for (uint16_t i = 0; i < d->n_attrs; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    need += repair_need_str(d, a->key);
    if (a->type == RPCT_VALUE_STRING) {
      need += repair_need_str(d, a->v.s);
    } else if (a->type == RPCT_VALUE_STRING_ARRAY) {
      size_t cursor = 0, len;
      const char *e;
      for (uint16_t k = 0; k < a->n_values && rpct_span_attr_array_next(d, a, &cursor, &e, &len);
           k++)
        need += repair_need(e, len);
    }
  }
  for (uint16_t i = 0; i < d->n_events; i++) need += repair_need_str(d, d->events[i].name);
  for (uint16_t i = 0; i < d->n_links; i++)
    if (d->links[i].tracestate.len) need += repair_need_str(d, d->links[i].tracestate);
  return need;
}

static size_t resource_repair_need(const rpct_resource *r) {
  size_t need = 0, n = r ? rpct_resource_count(r) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *key, *value;
    rpct_resource_at(r, i, &key, &value);
    need += repair_need_cstr(key) + repair_need_cstr(value);
  }
  return need;
}

/* The attributes of `d` owned by `owner`, as a slice of `*kvp`; string
 * arrays take their ArrayValue and element values from the same pool. */
typedef struct kv_pool {
  texts *t;
  pb_kv *kv;
  pb_any *any;
  pb_kv **ptr;
  size_t used;
  pb_array *arr;
  pb_any *elem;
  pb_any **elem_ptr;
  size_t arr_used, elem_used;
} kv_pool;

static void fill_value(kv_pool *pool, pb_any *v, const rpct_span_data *d, const rpct_span_attr *a) {
  opentelemetry__proto__common__v1__any_value__init(v);
  switch (a->type) {
    case RPCT_VALUE_STRING_ARRAY: {
      pb_array *arr = &pool->arr[pool->arr_used++];
      opentelemetry__proto__common__v1__array_value__init(arr);
      arr->values = a->n_values ? pool->elem_ptr + pool->elem_used : NULL;
      size_t cursor = 0, len;
      const char *e;
      while (arr->n_values < a->n_values && rpct_span_attr_array_next(d, a, &cursor, &e, &len)) {
        pb_any *x = &pool->elem[pool->elem_used];
        opentelemetry__proto__common__v1__any_value__init(x);
        x->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        x->string_value = text(pool->t, e, len);
        pool->elem_ptr[pool->elem_used++] = x;
        arr->n_values++;
      }
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
      v->array_value = arr;
      break;
    }
    case RPCT_VALUE_STRING:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
      v->string_value = text_str(pool->t, d, a->v.s);
      break;
    case RPCT_VALUE_BOOL:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
      v->bool_value = a->v.b;
      break;
    case RPCT_VALUE_INT:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
      v->int_value = a->v.i;
      break;
    case RPCT_VALUE_DOUBLE:
      v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
      v->double_value = a->v.d;
      break;
  }
}

static pb_kv **attrs_of(kv_pool *pool, const rpct_span_data *d, uint8_t owner, size_t *n) {
  pb_kv **first = pool->ptr + pool->used;
  *n = 0;
  for (uint16_t i = 0; i < d->n_attrs; i++) {
    const rpct_span_attr *a = &d->attrs[i];
    if (a->owner != owner) continue;
    size_t k = pool->used++;
    opentelemetry__proto__common__v1__key_value__init(&pool->kv[k]);
    pool->kv[k].key = text_str(pool->t, d, a->key);
    fill_value(pool, &pool->any[k], d, a);
    pool->kv[k].value = &pool->any[k];
    pool->ptr[k] = &pool->kv[k];
    (*n)++;
  }
  return *n ? first : NULL;
}

static pb_kv **resource_attrs(kv_pool *pool, const rpct_resource *r, size_t *n) {
  pb_kv **first = pool->ptr + pool->used;
  *n = r ? rpct_resource_count(r) : 0;
  for (size_t i = 0; i < *n; i++) {
    const char *key, *value;
    rpct_resource_at(r, i, &key, &value);
    size_t k = pool->used++;
    opentelemetry__proto__common__v1__key_value__init(&pool->kv[k]);
    opentelemetry__proto__common__v1__any_value__init(&pool->any[k]);
    pool->any[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    pool->any[k].string_value = text_cstr(pool->t, value);
    pool->kv[k].key = text_cstr(pool->t, key);
    pool->kv[k].value = &pool->any[k];
    pool->ptr[k] = &pool->kv[k];
  }
  return *n ? first : NULL;
}

static void fill_span(pb_span *s, pb_status *st, const rpct_span_data *d, kv_pool *pool,
                      pb_event **evp, pb_event *ev, pb_link **lkp, pb_link *lk) {
  opentelemetry__proto__trace__v1__span__init(s);
  s->trace_id = (ProtobufCBinaryData){16, (uint8_t *)d->trace_id.bytes};
  s->span_id = (ProtobufCBinaryData){8, (uint8_t *)d->span_id.bytes};
  if (rpct_span_id_is_valid(&d->parent_span_id))
    s->parent_span_id = (ProtobufCBinaryData){8, (uint8_t *)d->parent_span_id.bytes};
  if (d->tracestate.len) s->trace_state = text_str(pool->t, d, d->tracestate);
  s->flags = d->flags | SPAN_FLAGS_HAS_IS_REMOTE | (d->parent_remote ? SPAN_FLAGS_IS_REMOTE : 0);
  s->name = text_str(pool->t, d, d->name);
  s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)d->kind;
  s->start_time_unix_nano = d->start_unix_ns;
  s->end_time_unix_nano = d->end_unix_ns;
  s->attributes = attrs_of(pool, d, RPCT_ATTR_OWNER_SPAN, &s->n_attributes);
  s->dropped_attributes_count = d->dropped_attributes;
  for (uint16_t i = 0; i < d->n_events; i++) {
    opentelemetry__proto__trace__v1__span__event__init(&ev[i]);
    ev[i].time_unix_nano = d->events[i].time_unix_ns;
    ev[i].name = text_str(pool->t, d, d->events[i].name);
    ev[i].attributes = attrs_of(pool, d, RPCT_ATTR_OWNER_EVENT(i), &ev[i].n_attributes);
    ev[i].dropped_attributes_count = d->events[i].dropped_attributes;
    evp[i] = &ev[i];
  }
  s->n_events = d->n_events;
  s->events = d->n_events ? evp : NULL;
  s->dropped_events_count = d->dropped_events;
  for (uint16_t i = 0; i < d->n_links; i++) {
    const rpct_span_link *l = &d->links[i];
    opentelemetry__proto__trace__v1__span__link__init(&lk[i]);
    lk[i].trace_id = (ProtobufCBinaryData){16, (uint8_t *)l->trace_id.bytes};
    lk[i].span_id = (ProtobufCBinaryData){8, (uint8_t *)l->span_id.bytes};
    if (l->tracestate.len) lk[i].trace_state = text_str(pool->t, d, l->tracestate);
    lk[i].attributes = attrs_of(pool, d, RPCT_ATTR_OWNER_LINK(i), &lk[i].n_attributes);
    lk[i].dropped_attributes_count = l->dropped_attributes;
    /* Whether a linked context was remote is not recorded: leave bits 8-9
     * clear ("unknown") rather than claim "not remote". */
    lk[i].flags = l->flags;
    lkp[i] = &lk[i];
  }
  s->n_links = d->n_links;
  s->links = d->n_links ? lkp : NULL;
  s->dropped_links_count = d->dropped_links;
  opentelemetry__proto__trace__v1__status__init(st);
  st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)d->status_code;
  if (d->status_message.len) st->message = text_str(pool->t, d, d->status_message);
  s->status = st;
}

int rpct__otlp_encode(const rpct_span_data *const *spans, size_t n, const rpct_allocator *alloc,
                      uint8_t **out, size_t *out_len) {
  if (!out || !out_len || (n && !spans)) return RPCT_ERR_INVALID_ARGUMENT;

  /* Pass 1: sizes. */
  size_t n_groups = 0, n_resources = 0, n_attrs = 0, n_events = 0, n_links = 0;
  size_t n_arrays = 0, n_elems = 0, n_text = 0;
  for (size_t i = 0; i < n; i++) {
    const rpct_span_data *d = spans[i];
    n_text += span_repair_need(d);
    n_attrs += d->n_attrs;
    for (uint16_t k = 0; k < d->n_attrs; k++) {
      if (d->attrs[k].type != RPCT_VALUE_STRING_ARRAY) continue;
      n_arrays++;
      n_elems += d->attrs[k].n_values;
    }
    n_events += d->n_events;
    n_links += d->n_links;
    if (rpct__otlp_first_of_scope(spans, 0, i)) {
      n_groups++;
      n_text +=
          repair_need_cstr(or_empty(d->scope_name)) + repair_need_cstr(or_empty(d->scope_version));
    }
    if (rpct__otlp_first_of_resource(spans, i)) {
      n_resources++;
      if (d->resource) n_attrs += rpct_resource_count(d->resource);
      n_text += resource_repair_need(d->resource);
    }
  }

  size_t bytes =
      round_up(n_resources * sizeof(pb_resource_spans)) +
      round_up(n_resources * sizeof(pb_resource_spans *)) +
      round_up(n_resources * sizeof(pb_resource)) + round_up(n_groups * sizeof(pb_scope_spans)) +
      round_up(n_groups * sizeof(pb_scope_spans *)) + round_up(n_groups * sizeof(pb_scope)) +
      round_up(n * sizeof(pb_span)) + round_up(n * sizeof(pb_span *)) +
      round_up(n * sizeof(pb_status)) + round_up(n_attrs * sizeof(pb_kv)) +
      round_up(n_attrs * sizeof(pb_any)) + round_up(n_attrs * sizeof(pb_kv *)) +
      round_up(n_events * sizeof(pb_event)) + round_up(n_events * sizeof(pb_event *)) +
      round_up(n_links * sizeof(pb_link)) + round_up(n_links * sizeof(pb_link *)) +
      round_up(n_arrays * sizeof(pb_array)) + round_up(n_elems * sizeof(pb_any)) +
      round_up(n_elems * sizeof(pb_any *)) + round_up(n_text);
  char *block = rpct__alloc(alloc, bytes);
  if (!block) return RPCT_ERR_NO_MEMORY;
  arena a = {block};
  pb_resource_spans *rs = take(&a, n_resources, sizeof *rs);
  pb_resource_spans **rsp = take(&a, n_resources, sizeof *rsp);
  pb_resource *res = take(&a, n_resources, sizeof *res);
  pb_scope_spans *ss = take(&a, n_groups, sizeof *ss);
  pb_scope_spans **ssp = take(&a, n_groups, sizeof *ssp);
  pb_scope *sc = take(&a, n_groups, sizeof *sc);
  pb_span *sp = take(&a, n, sizeof *sp);
  pb_span **spp = take(&a, n, sizeof *spp);
  pb_status *st = take(&a, n, sizeof *st);
  kv_pool pool = {.kv = take(&a, n_attrs, sizeof(pb_kv)),
                  .any = take(&a, n_attrs, sizeof(pb_any)),
                  .ptr = take(&a, n_attrs, sizeof(pb_kv *))};
  pool.arr = take(&a, n_arrays, sizeof(pb_array));
  pool.elem = take(&a, n_elems, sizeof(pb_any));
  pool.elem_ptr = take(&a, n_elems, sizeof(pb_any *));
  pb_event *ev = take(&a, n_events, sizeof *ev);
  pb_event **evp = take(&a, n_events, sizeof *evp);
  pb_link *lk = take(&a, n_links, sizeof *lk);
  pb_link **lkp = take(&a, n_links, sizeof *lkp);
  texts t = {.check = n_text > 0};
  t.p = take(&a, n_text, 1);
  t.end = t.p + n_text;
  pool.t = &t;

  /* Pass 2: the tree. Scope groups of one resource are adjacent in ssp, and
   * spans of one group adjacent in spp. */
  size_t n_rs = 0, n_ss = 0, n_sp = 0, used_events = 0, used_links = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rpct__otlp_first_of_resource(spans, i)) continue;
    pb_resource_spans *r = &rs[n_rs];
    opentelemetry__proto__trace__v1__resource_spans__init(r);
    opentelemetry__proto__resource__v1__resource__init(&res[n_rs]);
    res[n_rs].attributes = resource_attrs(&pool, spans[i]->resource, &res[n_rs].n_attributes);
    r->resource = &res[n_rs];
    r->scope_spans = ssp + n_ss;
    rsp[n_rs++] = r;
    for (size_t k = i; k < n; k++) {
      if (spans[k]->resource != spans[i]->resource || !rpct__otlp_first_of_scope(spans, i, k))
        continue;
      pb_scope_spans *s = &ss[n_ss];
      opentelemetry__proto__trace__v1__scope_spans__init(s);
      opentelemetry__proto__common__v1__instrumentation_scope__init(&sc[n_ss]);
      sc[n_ss].name = text_cstr(&t, or_empty(spans[k]->scope_name));
      sc[n_ss].version = text_cstr(&t, or_empty(spans[k]->scope_version));
      s->scope = &sc[n_ss];
      s->spans = spp + n_sp;
      for (size_t m = k; m < n; m++) {
        const rpct_span_data *d = spans[m];
        if (!rpct__otlp_same_group(d, spans[k])) continue;
        fill_span(&sp[n_sp], &st[n_sp], d, &pool, evp + used_events, ev + used_events,
                  lkp + used_links, lk + used_links);
        used_events += d->n_events;
        used_links += d->n_links;
        spp[n_sp] = &sp[n_sp];
        n_sp++;
        s->n_spans++;
      }
      ssp[n_ss++] = s;
      r->n_scope_spans++;
    }
  }

  pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.n_resource_spans = n_resources;
  req.resource_spans = n_resources ? rsp : NULL;
  size_t len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
  uint8_t *buf = rpct__alloc(alloc, len);
  int rc = RPCT_ERR_NO_MEMORY;
  if (buf) {
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
    *out = buf;
    *out_len = len;
    rc = RPCT_OK;
  }
  rpct__free(alloc, block);
  return rc;
}
