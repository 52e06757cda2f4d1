/*
 * OTEL_TRACES_EXPORTER: which processor and exporter a tracer gets when the
 * code sets none. The variable is a comma-separated list; one exporter is
 * supported at a time, so the first recognised entry wins and every other
 * entry is reported (once) as ignored.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define VAR "OTEL_TRACES_EXPORTER"
/* Room for one diagnostic message. */
#define MSG_MAX 512

typedef enum choice {
  CHOICE_UNKNOWN,
  CHOICE_CONSOLE,
  CHOICE_NONE,
  CHOICE_OTLP,
  CHOICE_OTLP_FILE
} choice;

static const struct {
  const char *name;
  choice c;
} known[] = {
    {"console", CHOICE_CONSOLE},
    {"none", CHOICE_NONE},
    {"otlp", CHOICE_OTLP},
    {"otlp_file", CHOICE_OTLP_FILE},
};

/* The SDK specification asks for enum values to be read case-insensitively. */
static choice lookup(const char *s, size_t n) {
  for (size_t i = 0; i < RPCT__ARRAY_LEN(known); i++)
    if (strlen(known[i].name) == n && strncasecmp(known[i].name, s, n) == 0) return known[i].c;
  return CHOICE_UNKNOWN;
}

/* A message under construction; too long a message is cut, never overrun. */
typedef struct text {
  size_t len;
  char buf[MSG_MAX];
} text;

static void text_add(text *t, const char *s) {
  size_t n = strlen(s), room = sizeof t->buf - 1 - t->len;
  if (n > room) n = room;
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

/* `"s"`, escaped as every diagnostic quotes a value. */
static void text_add_quoted(text *t, const char *s, size_t n) {
  char q[RPCT__QUOTE_BUF];
  text_add(t, "\"");
  text_add(t, rpct__quote(q, s, n));
  text_add(t, "\"");
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static int make_console(rpct_processor **out, const rpct_allocator *alloc) {
  rpct_exporter *e;
  int r = rpct_console_exporter_new(&e, stdout, alloc);
  if (r != RPCT_OK) return r;
  r = rpct_simple_processor_new(out, e, alloc);
  if (r != RPCT_OK) rpct_exporter_del(e);
  return r;
}

/* The OTLP exporter's own timeout for one export, as it reads it
 * (otlp_grpc_exporter.c: the traces variable, else the general one). */
static uint32_t otlp_timeout_ms(void) {
  const char *name = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
  if (!rpct__env_get(name, NULL)) name = "OTEL_EXPORTER_OTLP_TIMEOUT";
  return (uint32_t)rpct__env_uint(name, 10000, 1, 24u * 3600 * 1000);
}

/* A batch processor over a new OTLP/gRPC or OTLP file exporter. The OTLP
 * exporter's timeout ends a little before OTEL_BSP_EXPORT_TIMEOUT, so that
 * its exports end by themselves (the call cancelled at its deadline,
 * counted failed, its status reported) rather than being abandoned by the
 * batch processor while the exporter goes on. The margin covers encoding
 * the batch, which the exporter does before its clock starts. */
static int make_batch(rpct_processor **out, bool file, const rpct_allocator *alloc) {
  rpct_batch_options bo;
  rpct_batch_options_from_env(&bo);
  rpct_exporter *e;
  int r;
  if (file) {
    r = rpct_otlp_file_exporter_new(&e, NULL, alloc);
  } else {
    uint32_t margin = bo.export_timeout_ms / 16 < 250 ? bo.export_timeout_ms / 16 : 250;
    uint32_t bsp_bound = bo.export_timeout_ms - margin; /* >= 1: the timeout is >= 1 */
    uint32_t timeout = otlp_timeout_ms();
    rpct_otlp_options oo = {.timeout_ms = timeout < bsp_bound ? timeout : bsp_bound};
    r = rpct_otlp_exporter_new(&e, &oo, alloc);
  }
  if (r != RPCT_OK) return r;
  r = rpct_batch_processor_new(out, e, &bo, alloc);
  if (r != RPCT_OK) rpct_exporter_del(e);
  return r;
}

int rpct__processor_from_env(rpct_processor **out, const rpct_allocator *alloc) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  size_t len = 0;
  const char *v = rpct__env_get(VAR, &len);

  /* First recognised entry wins; the rest are listed in `ignored`. */
  choice c = CHOICE_UNKNOWN;
  text ignored = {0};
  for (size_t pos = 0; v && pos < len;) {
    const char *comma = memchr(v + pos, ',', len - pos);
    size_t end = comma ? (size_t)(comma - v) : len;
    size_t b = pos, e = end;
    pos = end + 1;
    while (b < e && is_blank(v[b])) b++;
    while (e > b && is_blank(v[e - 1])) e--;
    if (b == e) continue; /* an empty entry ("console,") is harmless */
    choice entry = lookup(v + b, e - b);
    if (c == CHOICE_UNKNOWN && entry != CHOICE_UNKNOWN) {
      c = entry;
      continue;
    }
    if (ignored.len) text_add(&ignored, ", ");
    text_add_quoted(&ignored, v + b, e - b);
  }

  text msg = {0};
  if (v) {
    text_add(&msg, VAR "=");
    text_add_quoted(&msg, v, len);
    text_add(&msg, ": ");
  }
  if (ignored.len) {
    text_add(&msg, "ignoring ");
    text_add(&msg, ignored.buf);
    text_add(&msg, " (supported: console, none, otlp, otlp_file; one at a time); ");
  }
  static const char *const names[] = {"otlp", "console", "none", "otlp", "otlp_file"};
  if (ignored.len)
    rpct__diag_once(VAR, "%susing %s\"%s\"", msg.buf, c == CHOICE_UNKNOWN ? "the default " : "",
                    names[c]);
  switch (c) {
    case CHOICE_CONSOLE: return make_console(out, alloc);
    case CHOICE_NONE: *out = NULL; return RPCT_OK;
    case CHOICE_OTLP_FILE: return make_batch(out, true, alloc);
    case CHOICE_UNKNOWN:
    case CHOICE_OTLP: break;
  }
  return make_batch(out, false, alloc);
}
