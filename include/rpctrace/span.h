/*
 * rpctrace — spans.
 *
 * A span lives in memory the caller provides (stack, call arena, struct
 * member): starting, recording and ending a span allocates nothing. Its
 * record has fixed capacities (RPCT_SPAN_MAX_*); the configured limits
 * (rpct_span_limits, OTEL_SPAN_*_LIMIT) can only lower them. What does not
 * fit is dropped and counted in the record's dropped_* fields.
 *
 * When a recording span ends, its record (rpct_span_data) is handed to the
 * tracer's processor, which copies what it keeps; the rpct_span may then be
 * reused or freed.
 *
 * Thread safety: one span must be used by one thread at a time (callers that
 * share a span across threads serialise the calls themselves). Different
 * spans of one tracer may be started and ended on any threads at once.
 * rpct_span_data is immutable once handed to a processor.
 */
#ifndef RPCTRACE_SPAN_H
#define RPCTRACE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpctrace/common.h"
#include "rpctrace/context.h"
#include "rpctrace/sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rpct_tracer;
struct rpct_resource;

/* Fixed capacities of one span record. */
#define RPCT_SPAN_MAX_ATTRIBUTES 64 /* slots shared by the span, its events and links */
#define RPCT_SPAN_MAX_EVENTS 16
#define RPCT_SPAN_MAX_LINKS 4
#define RPCT_SPAN_STRING_BYTES 2048 /* name, keys, string values, tracestates */

/* Pass as a length to mean "NUL-terminated". */
#define RPCT_NTS SIZE_MAX

typedef enum rpct_status_code {
  RPCT_STATUS_UNSET = 0,
  RPCT_STATUS_OK = 1,
  RPCT_STATUS_ERROR = 2
} rpct_status_code;

typedef enum rpct_value_type {
  RPCT_VALUE_STRING = 1,
  RPCT_VALUE_BOOL = 2,
  RPCT_VALUE_INT = 3,
  RPCT_VALUE_DOUBLE = 4,
  RPCT_VALUE_STRING_ARRAY = 5 /* string[] */
} rpct_value_type;

/* An attribute as the caller passes it: all pointers borrowed for the call;
 * strings are copied into the span. `len` is the string's length or
 * RPCT_NTS; for a string array, the number of elements in `v.sa`, each of
 * `lens[i]` bytes (or NUL-terminated when `lens` is NULL). An element is
 * cut at a NUL byte it contains. */
typedef struct rpct_attribute {
  const char *key;
  rpct_value_type type;
  union {
    const char *s;
    const char *const *sa;
    int64_t i;
    double d;
    bool b;
  } v;
  size_t len;
  const size_t *lens;
} rpct_attribute;

#define RPCT_ATTR_STR(k, val) ((rpct_attribute){.key = (k), .type = RPCT_VALUE_STRING, .v.s = (val), .len = RPCT_NTS})
#define RPCT_ATTR_INT(k, val) ((rpct_attribute){.key = (k), .type = RPCT_VALUE_INT, .v.i = (val)})
#define RPCT_ATTR_DOUBLE(k, val) ((rpct_attribute){.key = (k), .type = RPCT_VALUE_DOUBLE, .v.d = (val)})
#define RPCT_ATTR_BOOL(k, val) ((rpct_attribute){.key = (k), .type = RPCT_VALUE_BOOL, .v.b = (val)})
#define RPCT_ATTR_STR_ARRAY(k, vals, n, lens_) \
  ((rpct_attribute){.key = (k), .type = RPCT_VALUE_STRING_ARRAY, .v.sa = (vals), .len = (n), .lens = (lens_)})

/* ---- The finished-span record, read by processors and exporters ---- */

/* A string inside a record: `off` into rpct_span_data.strings, `len` bytes,
 * always followed by a NUL. A string never set is {0, 0}, which reads as "". */
typedef struct rpct_str {
  uint16_t off;
  uint16_t len;
} rpct_str;

/* Which part of the span an attribute belongs to. */
#define RPCT_ATTR_OWNER_SPAN 0u
#define RPCT_ATTR_OWNER_EVENT(i) ((uint8_t)(1u + (i)))    /* i < RPCT_SPAN_MAX_EVENTS */
#define RPCT_ATTR_OWNER_LINK(i) ((uint8_t)(0x80u + (i)))  /* i < RPCT_SPAN_MAX_LINKS */

typedef struct rpct_span_attr {
  rpct_str key;
  uint8_t type;      /* rpct_value_type */
  uint8_t owner;     /* RPCT_ATTR_OWNER_* */
  uint16_t n_values; /* RPCT_VALUE_STRING_ARRAY: elements in v.s */
  union {
    int64_t i;
    double d;
    bool b;
    /* STRING: the text. STRING_ARRAY: the n_values elements one after
     * another, each followed by a NUL (read them with
     * rpct_span_attr_array_next). */
    rpct_str s;
  } v;
} rpct_span_attr;

typedef struct rpct_span_event {
  uint64_t time_unix_ns;
  rpct_str name;
  uint32_t dropped_attributes;
} rpct_span_event;

typedef struct rpct_span_link {
  rpct_trace_id trace_id;
  rpct_span_id span_id;
  uint8_t flags;
  rpct_str tracestate;
  uint32_t dropped_attributes;
} rpct_span_link;

typedef struct rpct_span_data {
  rpct_trace_id trace_id;
  rpct_span_id span_id;
  rpct_span_id parent_span_id; /* all zero for a root span */
  uint8_t flags;               /* RPCT_TRACE_FLAG_* */
  bool parent_remote;
  uint8_t kind;        /* rpct_span_kind */
  uint8_t status_code; /* rpct_status_code */
  rpct_str name;
  rpct_str status_message;
  rpct_str tracestate;
  uint64_t start_unix_ns;
  uint64_t end_unix_ns;
  /* Owned by the tracer, valid until the tracer is deleted. */
  const struct rpct_resource *resource;
  const char *scope_name;
  const char *scope_version;
  uint16_t n_attrs;
  uint16_t n_events;
  uint16_t n_links;
  uint16_t strings_used;
  uint32_t dropped_attributes; /* of the span itself */
  uint32_t dropped_events;
  uint32_t dropped_links;
  rpct_span_attr attrs[RPCT_SPAN_MAX_ATTRIBUTES];
  rpct_span_event events[RPCT_SPAN_MAX_EVENTS];
  rpct_span_link links[RPCT_SPAN_MAX_LINKS];
  char strings[RPCT_SPAN_STRING_BYTES];
} rpct_span_data;

/* The NUL-terminated text of `s` in `d`. */
static inline const char *rpct_span_data_str(const rpct_span_data *d, rpct_str s) {
  return d->strings + s.off;
}

/* The elements of a RPCT_VALUE_STRING_ARRAY attribute `a` of `d`, one per
 * call: start with *cursor = 0; each call sets *s and *len to the next
 * element (NUL-terminated) and returns false past the last. */
static inline bool rpct_span_attr_array_next(const rpct_span_data *d, const rpct_span_attr *a,
                                             size_t *cursor, const char **s, size_t *len) {
  /* Bounded by the record, so a hand-made one cannot make this read past it. */
  size_t end = (size_t)a->v.s.off + a->v.s.len;
  if (a->type != RPCT_VALUE_STRING_ARRAY || !a->n_values || *cursor > a->v.s.len ||
      end >= sizeof d->strings)
    return false;
  const char *p = d->strings + a->v.s.off + *cursor;
  size_t n = 0, room = a->v.s.len - *cursor;
  while (n < room && p[n]) n++;
  *s = p;
  *len = n;
  *cursor += n + 1;
  return true;
}

/* Copy the used parts of `src` into `dst` (both caller-owned); cheaper than
 * copying the whole struct. */
RPCT_API void rpct_span_data_copy(rpct_span_data *dst, const rpct_span_data *src);

/* ---- Live spans ---- */

/* Caller-allocated. Every field is private: use the functions below. A
 * zero-filled span is "not started"; every function accepts it and does
 * nothing. */
typedef struct rpct_span {
  rpct_span_context ctx_;
  struct rpct_tracer *tracer_;
  uint64_t mono_start_ns_;
  uint8_t state_;
  rpct_span_data data_;
} rpct_span;

typedef struct rpct_span_start_args {
  const char *name;
  size_t name_len;                 /* or RPCT_NTS */
  rpct_span_kind kind;
  /* NULL: the thread's current context (rpct_context_current()), if any.
   * An invalid context (e.g. zero-filled): a new root. Borrowed. */
  const rpct_span_context *parent;
  uint64_t start_unix_ns;          /* 0: now */
  /* Links known at start (borrowed, copied): span contexts to link to. */
  const rpct_span_context *const *links;
  size_t n_links;
} rpct_span_start_args;

/*
 * Start `span` (caller memory, borrowed until the span ends) with `tracer`
 * (NULL: the global tracer; with none set, the span is non-recording and
 * carries its parent's context). The sampler decides whether it records; a
 * span that does not record still gets a fresh span id so its context can be
 * propagated. Returns RPCT_OK, or RPCT_ERR_INVALID_ARGUMENT (NULL span or
 * name; `span` is then left not started).
 */
RPCT_API int rpct_span_start(rpct_span *span, struct rpct_tracer *tracer, const char *name,
                             rpct_span_kind kind, const rpct_span_context *parent);
RPCT_API int rpct_span_start_ex(rpct_span *span, struct rpct_tracer *tracer,
                                const rpct_span_start_args *args);

/* True while the span records (started, sampled or record-only, not ended). */
RPCT_API bool rpct_span_is_recording(const rpct_span *span);

/* The span's context (owned by `span`, valid while it is). For a span that
 * was never started, the invalid context. */
RPCT_API const rpct_span_context *rpct_span_get_context(const rpct_span *span);

/* Rename a recording span. */
RPCT_API int rpct_span_update_name(rpct_span *span, const char *name, size_t len);

/*
 * Set an attribute (`attr` borrowed; strings copied). Setting an existing
 * key replaces its value. Returns RPCT_OK, RPCT_ERR_LIMIT when the attribute
 * was dropped (count or space limit; counted in dropped_attributes),
 * RPCT_ERR_STATE when the span does not record.
 */
RPCT_API int rpct_span_set_attribute(rpct_span *span, const rpct_attribute *attr);
RPCT_API int rpct_span_set_str(rpct_span *span, const char *key, const char *value);
RPCT_API int rpct_span_set_strn(rpct_span *span, const char *key, const char *value, size_t len);
RPCT_API int rpct_span_set_int(rpct_span *span, const char *key, int64_t value);
RPCT_API int rpct_span_set_double(rpct_span *span, const char *key, double value);
RPCT_API int rpct_span_set_bool(rpct_span *span, const char *key, bool value);
/* A string[] attribute of `n` elements: values[i] of lens[i] bytes, or
 * NUL-terminated when `lens` is NULL (all borrowed, copied). */
RPCT_API int rpct_span_set_str_array(rpct_span *span, const char *key, const char *const *values,
                                     const size_t *lens, size_t n);

/* Add an event with `n` attributes (borrowed, copied). `time_unix_ns` 0 is
 * now. RPCT_ERR_LIMIT when the event was dropped. */
RPCT_API int rpct_span_add_event(rpct_span *span, const char *name, uint64_t time_unix_ns,
                                 const rpct_attribute *attrs, size_t n);

/* Add a link to `ctx` (borrowed, copied) with `n` attributes. */
RPCT_API int rpct_span_add_link(rpct_span *span, const rpct_span_context *ctx,
                                const rpct_attribute *attrs, size_t n);

/*
 * Set the status. UNSET is ignored; OK is final (later calls are ignored);
 * `description` (NUL-terminated, copied; may be NULL) is kept for ERROR only.
 */
RPCT_API int rpct_span_set_status(rpct_span *span, rpct_status_code code, const char *description);

/*
 * End the span (`end_unix_ns` 0: now) and hand its record to the tracer's
 * processor (every recording span; the built-in processors export only the
 * sampled ones). A second end does nothing, is counted in the
 * tracer's stats, and returns RPCT_ERR_STATE.
 */
RPCT_API int rpct_span_end(rpct_span *span, uint64_t end_unix_ns);

#ifdef __cplusplus
}
#endif
#endif /* RPCTRACE_SPAN_H */
