#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

/* Written once by ex_log_set_name() at start-up, before any other thread
 * exists; only read afterwards. */
static const char *log_name = "example";

void ex_log_set_name(const char *name) { log_name = name; }

void ex_log(const rpct_span_context *ctx, const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  char ids[RPCT_LOG_IDS_LEN + 1];
  rpct_span_context_format_log(ctx, ids, sizeof ids); /* cannot fail: ids is big enough */
  fprintf(stderr, "%s: %s %s\n", log_name, message, ids);
}
