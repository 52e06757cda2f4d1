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

/* A piece of a longer string, not NUL-terminated. */
typedef struct str_span {
  const char *p;
  size_t n;
} str_span;

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

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static str_span trim(const char *p, size_t n) {
  while (n > 0 && is_blank(*p)) {
    p++;
    n--;
  }
  while (n > 0 && is_blank(p[n - 1])) n--;
  return (str_span){p, n};
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* NULL when every '%' of `s` starts a valid escape, else why not. */
static const char *check_escapes(str_span s) {
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] != '%') continue;
    if (s.n - i < 3 || hex_value(s.p[i + 1]) < 0 || hex_value(s.p[i + 2]) < 0)
      return "has a '%' not followed by two hex digits";
    /* Keys and values are C strings: a NUL would silently cut them. */
    if (hex_value(s.p[i + 1]) == 0 && hex_value(s.p[i + 2]) == 0) return "encodes a NUL byte (%00)";
    i += 2;
  }
  return NULL;
}

/* Percent-decode `s` into `out`; the length written. Escapes were checked
 * by check_escapes(); anything else is copied as it is. */
static size_t percent_decode(str_span s, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < s.n; i++) {
    int hi = -1, lo = -1;
    if (s.p[i] == '%' && s.n - i >= 3) {
      hi = hex_value(s.p[i + 1]);
      lo = hex_value(s.p[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[o++] = s.p[i];
    }
  }
  return o;
}

/* The next non-empty comma-separated member of s[0..len) at or after *pos,
 * trimmed. false when there is none. */
static bool next_member(const char *s, size_t len, size_t *pos, str_span *member) {
  while (*pos < len) {
    const char *start = s + *pos;
    const char *comma = memchr(start, ',', len - *pos);
    size_t n = comma ? (size_t)(comma - start) : len - *pos;
    *pos += comma ? n + 1 : n;
    *member = trim(start, n);
    if (member->n > 0) return true;
  }
  return false;
}

/* Split "key=value" into its trimmed, still encoded halves. NULL when the
 * member is well formed, else why it is not. */
static const char *split_member(str_span m, str_span *key, str_span *value) {
  *key = *value = (str_span){m.p, 0};
  const char *eq = memchr(m.p, '=', m.n);
  if (!eq) return "has no '=' (expected key=value)";
  *key = trim(m.p, (size_t)(eq - m.p));
  *value = trim(eq + 1, m.n - (size_t)(eq - m.p) - 1);
  if (key->n == 0) return "has an empty key";
  const char *why = check_escapes(*key);
  return why ? why : check_escapes(*value);
}

static int add_env_attributes(rpct_resource *r) {
  size_t len;
  const char *s = rpct__env_get(ATTRS_VAR, &len);
  if (!s) return RPCT_OK;

  /* Check every member before adding any: a malformed variable adds
   * nothing, rather than some of what the user meant. */
  size_t pos = 0;
  str_span m, key, value;
  while (next_member(s, len, &pos, &m)) {
    const char *why = split_member(m, &key, &value);
    if (why) {
      char q[RPCT__QUOTE_BUF];
      rpct__diag_once(ATTRS_VAR, "%s member \"%s\" %s; the whole variable is ignored", ATTRS_VAR,
                      rpct__quote(q, m.p, m.n), why);
      return RPCT_OK;
    }
  }

  /* Decoding never lengthens, and a member's key and value together are
   * at least one byte ('=') shorter than the member: len bytes hold both. */
  char *buf = rpct__alloc(r->alloc, len);
  if (!buf) return RPCT_ERR_NO_MEMORY;
  int err = RPCT_OK;
  pos = 0;
  while (!err && next_member(s, len, &pos, &m)) {
    split_member(m, &key, &value);
    size_t kn = percent_decode(key, buf);
    size_t vn = percent_decode(value, buf + kn);
    err = set_n(r, buf, kn, buf + kn, vn);
  }
  rpct__free(r->alloc, buf);
  return err;
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
