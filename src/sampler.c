/*
 * Samplers of the OpenTelemetry SDK: AlwaysOn, AlwaysOff, TraceIdRatioBased,
 * ParentBased, and user callbacks. Immutable once built, so any number of
 * threads may ask them at once.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

typedef enum sampler_kind { S_ALWAYS_ON, S_ALWAYS_OFF, S_RATIO, S_PARENT, S_CUSTOM } sampler_kind;

enum { PB_ROOT, PB_REMOTE_SAMPLED, PB_REMOTE_NOT_SAMPLED, PB_LOCAL_SAMPLED, PB_LOCAL_NOT_SAMPLED, PB_N };

struct rpct_sampler {
  sampler_kind kind;
  rpct_allocator alloc;
  bool has_alloc;
  uint64_t threshold;          /* S_RATIO: sample when the random part >= threshold */
  rpct_sampler *sub[PB_N];     /* S_PARENT: owned */
  rpct_sample_fn fn;           /* S_CUSTOM */
  void *fn_data;
  char *description;           /* owned */
};

#define RANDOM_BITS 56
#define PARENT_BASED_FMT                                                      \
  "ParentBased{root:%s,remoteParentSampled:%s,remoteParentNotSampled:%s," \
  "localParentSampled:%s,localParentNotSampled:%s}"

static const rpct_allocator *sampler_alloc(const rpct_sampler *s) {
  return s->has_alloc ? &s->alloc : NULL;
}

static int sampler_make(rpct_sampler **out, sampler_kind kind, const char *description,
                        const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_sampler *s = rpct__calloc(alloc, 1, sizeof *s);
  if (!s) return RPCT_ERR_NO_MEMORY;
  s->kind = kind;
  if (alloc) s->alloc = *alloc, s->has_alloc = true;
  s->description = rpct__strndup(alloc, description, RPCT_NTS);
  if (!s->description) {
    rpct__free(alloc, s);
    return RPCT_ERR_NO_MEMORY;
  }
  *out = s;
  return RPCT_OK;
}

int rpct_sampler_always_on_new(rpct_sampler **out, const rpct_allocator *alloc) {
  return sampler_make(out, S_ALWAYS_ON, "AlwaysOnSampler", alloc);
}

int rpct_sampler_always_off_new(rpct_sampler **out, const rpct_allocator *alloc) {
  return sampler_make(out, S_ALWAYS_OFF, "AlwaysOffSampler", alloc);
}

int rpct_sampler_trace_id_ratio_new(rpct_sampler **out, double ratio, const rpct_allocator *alloc) {
  if (!(ratio >= 0.0 && ratio <= 1.0)) return RPCT_ERR_INVALID_ARGUMENT; /* also NaN */
  char desc[64];
  snprintf(desc, sizeof desc, "TraceIdRatioBased{%f}", ratio);
  rpct_sampler *s;
  int rc = sampler_make(&s, S_RATIO, desc, alloc);
  if (rc != RPCT_OK) return rc;
  /* (1 - ratio) * 2^56, exact at both ends: 0 samples all, 2^56 none. */
  s->threshold = (uint64_t)llround(ldexp(1.0 - ratio, RANDOM_BITS));
  *out = s;
  return RPCT_OK;
}

int rpct_sampler_parent_based_new(rpct_sampler **out, rpct_sampler *root,
                                  rpct_sampler *remote_sampled, rpct_sampler *remote_not_sampled,
                                  rpct_sampler *local_sampled, rpct_sampler *local_not_sampled,
                                  const rpct_allocator *alloc) {
  if (!out || !root) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_sampler *given[PB_N] = {root, remote_sampled, remote_not_sampled, local_sampled,
                               local_not_sampled};
  rpct_sampler *made[PB_N] = {0}; /* defaults created here, freed on failure */
  int rc = RPCT_OK;
  for (int i = 1; i < PB_N && rc == RPCT_OK; i++) {
    if (given[i]) continue;
    bool on = i == PB_REMOTE_SAMPLED || i == PB_LOCAL_SAMPLED;
    rc = on ? rpct_sampler_always_on_new(&made[i], alloc)
            : rpct_sampler_always_off_new(&made[i], alloc);
  }
  char *desc = NULL;
  if (rc == RPCT_OK) {
    const char *d[PB_N];
    for (int i = 0; i < PB_N; i++) d[i] = (given[i] ? given[i] : made[i])->description;
    int n = snprintf(NULL, 0,
                     PARENT_BASED_FMT,
                     d[0], d[1], d[2], d[3], d[4]);
    desc = rpct__alloc(alloc, (size_t)n + 1);
    if (desc)
      snprintf(desc, (size_t)n + 1,
               PARENT_BASED_FMT,
               d[0], d[1], d[2], d[3], d[4]);
    else
      rc = RPCT_ERR_NO_MEMORY;
  }
  rpct_sampler *s = NULL;
  if (rc == RPCT_OK) {
    s = rpct__calloc(alloc, 1, sizeof *s);
    if (!s) rc = RPCT_ERR_NO_MEMORY;
  }
  if (rc != RPCT_OK) {
    for (int i = 0; i < PB_N; i++) rpct_sampler_del(made[i]);
    rpct__free(alloc, desc);
    return rc;
  }
  s->kind = S_PARENT;
  if (alloc) s->alloc = *alloc, s->has_alloc = true;
  s->description = desc;
  for (int i = 0; i < PB_N; i++) s->sub[i] = given[i] ? given[i] : made[i];
  *out = s;
  return RPCT_OK;
}

int rpct_sampler_custom_new(rpct_sampler **out, rpct_sample_fn fn, void *data,
                            const char *description, const rpct_allocator *alloc) {
  if (!fn) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_sampler *s;
  int rc = sampler_make(&s, S_CUSTOM, description ? description : "CustomSampler", alloc);
  if (rc != RPCT_OK) return rc;
  s->fn = fn;
  s->fn_data = data;
  *out = s;
  return RPCT_OK;
}

void rpct_sampler_del(rpct_sampler *s) {
  if (!s) return;
  for (int i = 0; i < PB_N; i++) rpct_sampler_del(s->sub[i]);
  const rpct_allocator *a = sampler_alloc(s);
  rpct__free(a, s->description);
  rpct__free(a, s);
}

const char *rpct_sampler_description(const rpct_sampler *s) { return s ? s->description : ""; }

/* The low 56 bits of the trace id: the part W3C Level 2 requires random. */
static uint64_t trace_id_random_part(const rpct_trace_id *id) {
  uint64_t v = 0;
  for (int i = 16 - RANDOM_BITS / 8; i < 16; i++) v = v << 8 | id->bytes[i];
  return v;
}

rpct_sampling_decision rpct_sampler_should_sample(const rpct_sampler *s,
                                                  const rpct_sampling_params *p) {
  if (!s || !p) return RPCT_SAMPLING_DROP;
  switch (s->kind) {
    case S_ALWAYS_ON: return RPCT_SAMPLING_RECORD_AND_SAMPLE;
    case S_ALWAYS_OFF: return RPCT_SAMPLING_DROP;
    case S_RATIO:
      if (!p->trace_id) return RPCT_SAMPLING_DROP;
      return trace_id_random_part(p->trace_id) >= s->threshold ? RPCT_SAMPLING_RECORD_AND_SAMPLE
                                                               : RPCT_SAMPLING_DROP;
    case S_CUSTOM: return s->fn(s->fn_data, p);
    case S_PARENT: {
      const rpct_span_context *parent = p->parent;
      int which;
      if (!rpct_span_context_is_valid(parent))
        which = PB_ROOT;
      else if (parent->remote)
        which = rpct_span_context_is_sampled(parent) ? PB_REMOTE_SAMPLED : PB_REMOTE_NOT_SAMPLED;
      else
        which = rpct_span_context_is_sampled(parent) ? PB_LOCAL_SAMPLED : PB_LOCAL_NOT_SAMPLED;
      return rpct_sampler_should_sample(s->sub[which], p);
    }
  }
  return RPCT_SAMPLING_DROP;
}

/* ---- OTEL_TRACES_SAMPLER ---- */

static double ratio_from_env(void) {
  size_t len;
  const char *v = rpct__env_get("OTEL_TRACES_SAMPLER_ARG", &len);
  if (!v) return 1.0;
  char buf[64];
  double r = -1.0;
  if (len < sizeof buf) {
    memcpy(buf, v, len);
    buf[len] = '\0';
    char *end;
    r = strtod(buf, &end);
    if (end != buf + len) r = -1.0;
  }
  if (!(r >= 0.0 && r <= 1.0)) {
    char q[RPCT__QUOTE_BUF];
    rpct__diag_once("OTEL_TRACES_SAMPLER_ARG",
                    "OTEL_TRACES_SAMPLER_ARG=\"%s\" is not a ratio in [0, 1]; using 1.0",
                    rpct__quote(q, v, len));
    return 1.0;
  }
  return r;
}

static void report_bad_sampler(const char *v, size_t len, const char *why) {
  char q[RPCT__QUOTE_BUF];
  rpct__diag_once("OTEL_TRACES_SAMPLER",
                  "OTEL_TRACES_SAMPLER=\"%s\" %s; using parentbased_always_on",
                  rpct__quote(q, v, len), why);
}

static bool name_is(const char *v, size_t len, const char *name) {
  return strlen(name) == len && strncasecmp(v, name, len) == 0;
}

int rpct_sampler_from_env(rpct_sampler **out, const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  size_t len = 0;
  const char *v = rpct__env_get("OTEL_TRACES_SAMPLER", &len);
  bool parent_based = true;
  enum { ON, OFF, RATIO } root = ON;
  if (v) {
    if (name_is(v, len, "always_on"))
      parent_based = false, root = ON;
    else if (name_is(v, len, "always_off"))
      parent_based = false, root = OFF;
    else if (name_is(v, len, "traceidratio"))
      parent_based = false, root = RATIO;
    else if (name_is(v, len, "parentbased_always_on"))
      root = ON;
    else if (name_is(v, len, "parentbased_always_off"))
      root = OFF;
    else if (name_is(v, len, "parentbased_traceidratio"))
      root = RATIO;
    else if (name_is(v, len, "jaeger_remote") || name_is(v, len, "parentbased_jaeger_remote") ||
             name_is(v, len, "xray"))
      report_bad_sampler(v, len, "is not supported by rpctrace");
    else
      report_bad_sampler(v, len, "is not a known sampler");
  }
  rpct_sampler *base;
  int rc = root == ON    ? rpct_sampler_always_on_new(&base, alloc)
           : root == OFF ? rpct_sampler_always_off_new(&base, alloc)
                         : rpct_sampler_trace_id_ratio_new(&base, ratio_from_env(), alloc);
  if (rc != RPCT_OK || !parent_based) {
    if (rc == RPCT_OK) *out = base;
    return rc;
  }
  rc = rpct_sampler_parent_based_new(out, base, NULL, NULL, NULL, NULL, alloc);
  if (rc != RPCT_OK) rpct_sampler_del(base);
  return rc;
}
