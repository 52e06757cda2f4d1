/*
 * The tracer: what every span of it shares (sampler, limits, resource,
 * processor) and its counters. Configuration set in code wins; the rest
 * comes from the OTEL_* environment.
 */
#include <stdatomic.h>
#include <string.h>

#include "deferred.h"
#include "internal.h"

struct rpct_tracer_options {
  rpct_allocator alloc;
  bool has_alloc;
  rpct_sampler *sampler;     /* borrowed until rpct_tracer_new succeeds */
  rpct_processor *processor; /* likewise */
  rpct_resource *resource;   /* likewise */
  rpct_span_limits limits;
  bool has_limits;
  char *scope_name; /* owned (malloc) */
  char *scope_version;
};

/* Counters are relaxed atomics: they are statistics, not synchronisation. */
struct rpct_tracer {
  rpct_allocator alloc;
  bool has_alloc;
  bool disabled; /* OTEL_SDK_DISABLED: no span records */
  rpct_sampler *sampler;
  rpct_processor *processor; /* NULL: recorded spans go nowhere */
  rpct_resource *resource;
  rpct_span_limits limits;
  char *scope_name;
  char *scope_version;
  atomic_bool shut_down;
  atomic_uint_least64_t started, not_recorded, ended, ended_twice;
};

/* The global tracer: set and read by any thread, atomically. The caller of
 * rpct_tracer_set_global() owns the tracer. */
static _Atomic(rpct_tracer *) global_tracer;

/* ---- span limits ---- */

static void limits_clamp(rpct_span_limits *l) {
#define CLAMP(field, cap) \
  if (l->field > (cap)) l->field = (cap)
  CLAMP(attribute_count, RPCT_SPAN_MAX_ATTRIBUTES);
  CLAMP(event_count, RPCT_SPAN_MAX_EVENTS);
  CLAMP(link_count, RPCT_SPAN_MAX_LINKS);
  CLAMP(event_attribute_count, RPCT_SPAN_MAX_ATTRIBUTES);
  CLAMP(link_attribute_count, RPCT_SPAN_MAX_ATTRIBUTES);
  CLAMP(attribute_value_length, RPCT_SPAN_STRING_BYTES);
#undef CLAMP
}

void rpct_span_limits_default(rpct_span_limits *out) {
  if (!out) return;
  *out = (rpct_span_limits){.attribute_count = 128,
                            .attribute_value_length = 0,
                            .event_count = 128,
                            .link_count = 128,
                            .event_attribute_count = 128,
                            .link_attribute_count = 128};
  limits_clamp(out);
}

static uint32_t env_limit(const char *name, const char *general, uint32_t def, uint32_t min) {
  if (general && !rpct__env_get(name, NULL)) name = general;
  return (uint32_t)rpct__env_uint(name, def, min, UINT32_MAX);
}

void rpct_span_limits_from_env(rpct_span_limits *out) {
  if (!out) return;
  rpct_span_limits_default(out);
  out->attribute_count =
      env_limit("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT", 128, 0);
  /* 0 is "no limit" in the struct, so the variable must be at least 1. */
  out->attribute_value_length =
      env_limit("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, 1);
  out->event_count = env_limit("OTEL_SPAN_EVENT_COUNT_LIMIT", NULL, 128, 0);
  out->link_count = env_limit("OTEL_SPAN_LINK_COUNT_LIMIT", NULL, 128, 0);
  out->event_attribute_count = env_limit("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", NULL, 128, 0);
  out->link_attribute_count = env_limit("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", NULL, 128, 0);
  limits_clamp(out);
}

/* ---- options ---- */

int rpct_tracer_options_new(rpct_tracer_options **out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_tracer_options *o = rpct__calloc(NULL, 1, sizeof *o);
  if (!o) return RPCT_ERR_NO_MEMORY;
  *out = o;
  return RPCT_OK;
}

void rpct_tracer_options_del(rpct_tracer_options *o) {
  if (!o) return;
  rpct__free(NULL, o->scope_name);
  rpct__free(NULL, o->scope_version);
  rpct__free(NULL, o);
}

void rpct_tracer_options_set_allocator(rpct_tracer_options *o, const rpct_allocator *a) {
  if (!o) return;
  o->has_alloc = a != NULL;
  if (a) o->alloc = *a;
}

void rpct_tracer_options_set_sampler(rpct_tracer_options *o, rpct_sampler *s) {
  if (o) o->sampler = s;
}

void rpct_tracer_options_set_processor(rpct_tracer_options *o, rpct_processor *p) {
  if (o) o->processor = p;
}

void rpct_tracer_options_set_resource(rpct_tracer_options *o, rpct_resource *r) {
  if (o) o->resource = r;
}

void rpct_tracer_options_set_span_limits(rpct_tracer_options *o, const rpct_span_limits *l) {
  if (!o) return;
  o->has_limits = l != NULL;
  if (l) o->limits = *l;
}

int rpct_tracer_options_set_scope(rpct_tracer_options *o, const char *name, const char *version) {
  if (!o || !name) return RPCT_ERR_INVALID_ARGUMENT;
  char *n = rpct__strndup(NULL, name, RPCT_NTS);
  char *v = version ? rpct__strndup(NULL, version, RPCT_NTS) : NULL;
  if (!n || (version && !v)) {
    rpct__free(NULL, n);
    rpct__free(NULL, v);
    return RPCT_ERR_NO_MEMORY;
  }
  rpct__free(NULL, o->scope_name);
  rpct__free(NULL, o->scope_version);
  o->scope_name = n;
  o->scope_version = v;
  return RPCT_OK;
}

/* ---- tracer ---- */

int rpct_tracer_new(rpct_tracer **out, const rpct_tracer_options *o) {
  static const rpct_tracer_options none;
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  if (!o) o = &none;
  const rpct_allocator *a = o->has_alloc ? &o->alloc : NULL;

  rpct_tracer *t = rpct__calloc(a, 1, sizeof *t);
  if (!t) return RPCT_ERR_NO_MEMORY;
  if (a) t->alloc = *a, t->has_alloc = true;
  t->disabled = rpct__env_bool("OTEL_SDK_DISABLED", false);
  if (o->has_limits) {
    t->limits = o->limits;
    limits_clamp(&t->limits);
  } else {
    rpct_span_limits_from_env(&t->limits);
  }

  /* What is created here is freed here on failure; what the options lent
   * stays the caller's until success. */
  rpct_sampler *sampler = o->sampler;
  rpct_resource *resource = o->resource;
  rpct_processor *processor = o->processor;
  int rc = RPCT_OK;
  if (!sampler) rc = rpct_sampler_from_env(&sampler, a);
  if (rc == RPCT_OK && !resource) rc = rpct_resource_from_env(&resource, a);
  if (rc == RPCT_OK && !processor && !t->disabled) rc = rpct__processor_from_env(&processor, a);
  if (rc == RPCT_OK) {
    t->scope_name = rpct__strndup(a, o->scope_name ? o->scope_name : "rpctrace", RPCT_NTS);
    t->scope_version =
        rpct__strndup(a, o->scope_name ? (o->scope_version ? o->scope_version : "")
                                       : RPCT_VERSION_STRING,
                      RPCT_NTS);
    if (!t->scope_name || !t->scope_version) rc = RPCT_ERR_NO_MEMORY;
  }
  if (rc != RPCT_OK) {
    if (sampler != o->sampler) rpct_sampler_del(sampler);
    if (resource != o->resource) rpct_resource_del(resource);
    if (processor != o->processor) rpct_processor_del(processor);
    rpct__free(a, t->scope_name);
    rpct__free(a, t->scope_version);
    rpct__free(a, t);
    return rc;
  }
  t->sampler = sampler;
  t->resource = resource;
  t->processor = processor;
  *out = t;
  return RPCT_OK;
}

int rpct_tracer_shutdown(rpct_tracer *t, uint32_t timeout_ms) {
  if (!t) return RPCT_ERR_INVALID_ARGUMENT;
  if (atomic_exchange(&t->shut_down, true)) return RPCT_ERR_STATE;
  return t->processor ? rpct_processor_shutdown(t->processor, timeout_ms) : RPCT_OK;
}

int rpct_tracer_force_flush(rpct_tracer *t, uint32_t timeout_ms) {
  if (!t) return RPCT_ERR_INVALID_ARGUMENT;
  return t->processor ? rpct_processor_force_flush(t->processor, timeout_ms) : RPCT_OK;
}

void rpct_tracer_del(rpct_tracer *t) {
  if (!t) return;
  rpct_tracer *expected = t;
  atomic_compare_exchange_strong(&global_tracer, &expected, NULL);
  if (!atomic_load(&t->shut_down)) rpct_tracer_shutdown(t, 30000);
  const rpct_allocator *a = t->has_alloc ? &t->alloc : NULL;
  rpct_processor_del(t->processor);
  rpct_sampler_del(t->sampler);
  rpct_resource_del(t->resource);
  rpct__free(a, t->scope_name);
  rpct__free(a, t->scope_version);
  rpct__free(a, t);
}

void rpct_tracer_get_stats(const rpct_tracer *t, rpct_tracer_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!t) return;
  rpct_tracer *mt = (rpct_tracer *)t; /* atomics are read-only here */
  out->spans_started = atomic_load_explicit(&mt->started, memory_order_relaxed);
  out->spans_not_recorded = atomic_load_explicit(&mt->not_recorded, memory_order_relaxed);
  out->spans_ended = atomic_load_explicit(&mt->ended, memory_order_relaxed);
  out->spans_ended_twice = atomic_load_explicit(&mt->ended_twice, memory_order_relaxed);
  if (t->processor) rpct_processor_get_stats(t->processor, &out->processor);
}

const rpct_resource *rpct_tracer_resource(const rpct_tracer *t) { return t ? t->resource : NULL; }

void rpct_tracer_set_global(rpct_tracer *t) { atomic_store(&global_tracer, t); }
rpct_tracer *rpct_tracer_global(void) { return atomic_load(&global_tracer); }

/* ---- what span.c calls ---- */

const rpct_span_limits *rpct__tracer_limits(const rpct_tracer *t) { return &t->limits; }

rpct_sampling_decision rpct__tracer_sample(const rpct_tracer *t, const rpct_sampling_params *p) {
  if (t->disabled) return RPCT_SAMPLING_DROP;
  return rpct_sampler_should_sample(t->sampler, p);
}

void rpct__tracer_on_start(rpct_tracer *t, rpct_span *span) {
  atomic_fetch_add_explicit(&t->started, 1, memory_order_relaxed);
  if (t->processor) rpct__processor_on_start(t->processor, span);
}

void rpct__tracer_on_end(rpct_tracer *t, const rpct_span_data *d) {
  atomic_fetch_add_explicit(&t->ended, 1, memory_order_relaxed);
  if (t->processor) rpct__processor_on_end(t->processor, d);
}

void rpct__tracer_count_started(rpct_tracer *t) {
  atomic_fetch_add_explicit(&t->started, 1, memory_order_relaxed);
}

void rpct__tracer_on_end_deferred(rpct_tracer *t, const rpct__deferred *d) {
  atomic_fetch_add_explicit(&t->ended, 1, memory_order_relaxed);
  if (t->processor) rpct__processor_on_end_deferred(t->processor, d);
}

void rpct__tracer_count_not_recorded(rpct_tracer *t) {
  atomic_fetch_add_explicit(&t->not_recorded, 1, memory_order_relaxed);
}

void rpct__tracer_count_ended_twice(rpct_tracer *t) {
  atomic_fetch_add_explicit(&t->ended_twice, 1, memory_order_relaxed);
}

const char *rpct__tracer_scope_name(const rpct_tracer *t) { return t->scope_name; }
const char *rpct__tracer_scope_version(const rpct_tracer *t) { return t->scope_version; }
