/*
 * The resource: key/value strings describing the traced process, built as
 * the OpenTelemetry SDK specification asks (telemetry.sdk.*,
 * OTEL_RESOURCE_ATTRIBUTES, service.name).
 *
 * A resource holds a handful of attributes and is read once per export
 * batch, so a flat array searched linearly beats any index.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ATTRS_VAR "OTEL_RESOURCE_ATTRIBUTES"
#define SERVICE_NAME_VAR "OTEL_SERVICE_NAME"
#define SERVICE_NAME_KEY "service.name"
#define UNKNOWN_SERVICE "unknown_service"

typedef struct res_attr {
  char *key;
  char *value;
} res_attr;

struct rpct_resource {
  const rpct_allocator *alloc; /* &alloc_copy, or NULL for malloc */
  rpct_allocator alloc_copy;
  res_attr *attrs; /* insertion order */
  size_t count;
  size_t cap;
};

int rpct_resource_new(rpct_resource **out, const rpct_allocator *alloc) {
  if (!out || (alloc && (!alloc->alloc || !alloc->free))) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_resource *r = rpct__calloc(alloc, 1, sizeof *r);
  if (!r) return RPCT_ERR_NO_MEMORY;
  if (alloc) {
    r->alloc_copy = *alloc;
    r->alloc = &r->alloc_copy;
  }
  *out = r;
  return RPCT_OK;
}

void rpct_resource_del(rpct_resource *r) {
  if (!r) return;
  /* The allocator lives inside `r`: keep a copy to free `r` itself with. */
  rpct_allocator copy = r->alloc_copy;
  const rpct_allocator *a = r->alloc ? &copy : NULL;
  for (size_t i = 0; i < r->count; i++) {
    rpct__free(a, r->attrs[i].key);
    rpct__free(a, r->attrs[i].value);
  }
  rpct__free(a, r->attrs);
  rpct__free(a, r);
}

/* Index of the attribute named key[0..klen), or r->count. */
static size_t find(const rpct_resource *r, const char *key, size_t klen) {
  for (size_t i = 0; i < r->count; i++) {
    const char *k = r->attrs[i].key;
    if (strlen(k) == klen && memcmp(k, key, klen) == 0) return i;
  }
  return r->count;
}

static int grow(rpct_resource *r) {
  if (r->cap > SIZE_MAX / 2 / sizeof(res_attr)) return RPCT_ERR_NO_MEMORY;
  size_t cap = r->cap ? r->cap * 2 : 8;
  res_attr *attrs = rpct__calloc(r->alloc, cap, sizeof *attrs);
  if (!attrs) return RPCT_ERR_NO_MEMORY;
  if (r->count) memcpy(attrs, r->attrs, r->count * sizeof *attrs);
  rpct__free(r->alloc, r->attrs);
  r->attrs = attrs;
  r->cap = cap;
  return RPCT_OK;
}

/* rpct_resource_set for counted strings; `r` is unchanged on failure. */
static int set_n(rpct_resource *r, const char *key, size_t klen, const char *value, size_t vlen) {
  char *v = rpct__strndup(r->alloc, value, vlen);
  if (!v) return RPCT_ERR_NO_MEMORY;
  size_t i = find(r, key, klen);
  if (i < r->count) {
    rpct__free(r->alloc, r->attrs[i].value);
    r->attrs[i].value = v;
    return RPCT_OK;
  }
  int err = r->count == r->cap ? grow(r) : RPCT_OK;
  char *k = err ? NULL : rpct__strndup(r->alloc, key, klen);
  if (!k) {
    rpct__free(r->alloc, v);
    return RPCT_ERR_NO_MEMORY;
  }
  r->attrs[r->count].key = k;
  r->attrs[r->count].value = v;
  r->count++;
  return RPCT_OK;
}

int rpct_resource_set(rpct_resource *r, const char *key, const char *value) {
  if (!r || !key || !*key || !value) return RPCT_ERR_INVALID_ARGUMENT;
  return set_n(r, key, strlen(key), value, strlen(value));
}

const char *rpct_resource_get(const rpct_resource *r, const char *key) {
  if (!r || !key) return NULL;
  size_t i = find(r, key, strlen(key));
  return i < r->count ? r->attrs[i].value : NULL;
}

size_t rpct_resource_count(const rpct_resource *r) { return r ? r->count : 0; }

int rpct_resource_at(const rpct_resource *r, size_t i, const char **key, const char **value) {
  if (!r) return RPCT_ERR_INVALID_ARGUMENT;
  if (i >= r->count) return RPCT_ERR_NOT_FOUND;
  if (key) *key = r->attrs[i].key;
  if (value) *value = r->attrs[i].value;
  return RPCT_OK;
}

/* ---- OTEL_RESOURCE_ATTRIBUTES ---- */

static int add_member(void *data, const char *key, size_t key_len, const char *value,
                      size_t value_len, const char **why) {
  (void)why; /* any key and value are accepted */
  return set_n(data, key, key_len, value, value_len);
}

static int add_env_attributes(rpct_resource *r) {
  size_t len;
  const char *s = rpct__env_get(ATTRS_VAR, &len);
  if (!s) return RPCT_OK;
  rpct__kv_error err;
  int rc = rpct__kv_list_parse(s, len, r->alloc, add_member, r, &err);
  if (rc == RPCT_ERR_PARSE) {
    /* Position and key only: values hold passwords and tokens often
     * enough, and a member without '=' may be nothing but one. */
    char where[RPCT__KV_WHERE_BUF];
    rpct__diag_once(ATTRS_VAR, "%s %s %s; the whole variable is ignored", ATTRS_VAR,
                    rpct__kv_error_where(where, &err), err.why);
    return RPCT_OK;
  }
  return rc;
}

/* ---- service.name ---- */

/*
 * "unknown_service:<executable name>" into `buf` (the specification's
 * fallback), or "unknown_service" when the name cannot be found. The name
 * is process.executable.name: the base name of /proc/self/exe.
 */
static void unknown_service_name(char *buf, size_t size) {
  static const char prefix[] = UNKNOWN_SERVICE ":";
  const size_t plen = sizeof prefix - 1;
  memcpy(buf, prefix, plen);
  char *path = buf + plen;
  size_t room = size - plen;
  const char *name = NULL;
  size_t nlen = 0;

  ssize_t n = readlink("/proc/self/exe", path, room);
  if (n > 0 && (size_t)n < room) {
    size_t pl = (size_t)n;
    /* The link of an executable replaced or removed since it started. */
    static const char deleted[] = " (deleted)";
    const size_t dlen = sizeof deleted - 1;
    if (pl > dlen && memcmp(path + pl - dlen, deleted, dlen) == 0) pl -= dlen;
    const char *slash = memrchr(path, '/', pl);
    name = slash ? slash + 1 : path;
    nlen = pl - (size_t)(name - path);
  }
  if (nlen == 0) {
    /* No /proc (chroot, some containers): the name the program was run as. */
    name = program_invocation_short_name;
    nlen = name ? strnlen(name, room - 1) : 0;
  }
  if (nlen == 0) {
    buf[plen - 1] = '\0'; /* drop the ':' */
    return;
  }
  memmove(path, name, nlen);
  path[nlen] = '\0';
}

static int set_service_name(rpct_resource *r) {
  size_t len;
  const char *s = rpct__env_get(SERVICE_NAME_VAR, &len);
  if (s) return set_n(r, SERVICE_NAME_KEY, strlen(SERVICE_NAME_KEY), s, len);
  /* An empty service.name in OTEL_RESOURCE_ATTRIBUTES (typically
   * "service.name=$UNSET_VARIABLE") names nothing: treat it as absent. */
  const char *given = rpct_resource_get(r, SERVICE_NAME_KEY);
  if (given && *given) return RPCT_OK;
  char buf[sizeof(UNKNOWN_SERVICE ":") + PATH_MAX];
  unknown_service_name(buf, sizeof buf);
  return set_n(r, SERVICE_NAME_KEY, strlen(SERVICE_NAME_KEY), buf, strlen(buf));
}

int rpct_resource_from_env(rpct_resource **out, const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_resource *r;
  int err = rpct_resource_new(&r, alloc);
  if (err) return err;
  /* In this order so that OTEL_RESOURCE_ATTRIBUTES overrides the SDK's
   * defaults (the environment is merged over the default resource), and
   * OTEL_SERVICE_NAME overrides both. */
  if ((err = rpct_resource_set(r, "telemetry.sdk.name", "rpctrace")) ||
      (err = rpct_resource_set(r, "telemetry.sdk.language", "c")) ||
      (err = rpct_resource_set(r, "telemetry.sdk.version", RPCT_VERSION_STRING)) ||
      (err = add_env_attributes(r)) || (err = set_service_name(r))) {
    rpct_resource_del(r);
    return err;
  }
  *out = r;
  return RPCT_OK;
}
