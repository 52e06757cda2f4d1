/* A trace as a text waterfall (see waterfall.h). */
#include "waterfall.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KIND_WIDTH 8
#define DURATION_WIDTH 9
/* Indentation stops growing here: deeper spans line up at this depth. */
#define MAX_INDENT_DEPTH 24

#define SGR_RESET "\x1b[0m"
#define SGR_BOLD "\x1b[1m"
#define SGR_RED "\x1b[31m"
#define SGR_GREEN "\x1b[32m"
#define SGR_YELLOW "\x1b[33m"
#define SGR_CYAN "\x1b[36m"

/* ---- durations and bars ---- */

void rtt_format_duration(char *buf, size_t size, uint64_t ns, bool ascii) {
  static const char *const utf8_units[] = {"\xC2\xB5s", "ms", "s"};
  static const char *const ascii_units[] = {"us", "ms", "s"};
  const char *const *units = ascii ? ascii_units : utf8_units;
  double v = (double)ns / 1000.0;
  int unit = 0;
  /* Move up while the value would print as 1000 or more. */
  while (unit < 2 && v >= 999.5) {
    v /= 1000.0;
    unit++;
  }
  int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
  snprintf(buf, size, "%.*f %s", decimals, v, units[unit]);
}

/* floor or ceil of num * width / den without overflow (num <= den). */
static unsigned scale(uint64_t num, uint64_t den, unsigned width, bool round_up) {
  __extension__ typedef unsigned __int128 u128;
  u128 p = (u128)num * width;
  u128 q = p / den;
  if (round_up && p % den) q++;
  return (unsigned)q;
}

void rtt_bar_columns(const rtt_trace *t, const rtt_span *s, unsigned width, unsigned *from,
                     unsigned *to) {
  *from = *to = 0;
  if (width == 0 || s->start_ns == 0) return;
  if (t->end_ns <= t->start_ns) {
    *to = width;
    return;
  }
  uint64_t total = t->end_ns - t->start_ns;
  uint64_t a = s->start_ns < t->start_ns ? 0 : s->start_ns - t->start_ns;
  uint64_t b = s->end_ns < t->start_ns ? 0 : s->end_ns - t->start_ns;
  if (a > total) a = total;
  if (b > total) b = total;
  unsigned f = scale(a, total, width, false);
  unsigned e = scale(b, total, width, true);
  if (f >= width) f = width - 1;
  if (e <= f) e = f + 1;
  *from = f;
  *to = e;
}

/* ---- text from the file ---- */

/* A growing, NUL-terminated string of what will be printed, with its width
 * in columns (one per code point). */
typedef struct text {
  char *s;
  size_t len, cap;
  size_t cols;
  bool oom;
} text;

static void text_put(text *t, const char *s, size_t n) {
  if (t->oom) return;
  if (n > SIZE_MAX / 4 - t->len) {
    t->oom = true;
    return;
  }
  if (n + 1 > t->cap - t->len) {
    size_t cap = t->cap ? t->cap : 128;
    while (n + 1 > cap - t->len) cap *= 2;
    char *q = realloc(t->s, cap);
    if (!q) {
      t->oom = true;
      return;
    }
    t->s = q;
    t->cap = cap;
  }
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

static void text_spaces(text *t, size_t n) {
  for (size_t i = 0; i < n; i++) text_put(t, " ", 1);
  t->cols += n;
}

/* Append `s` made safe for a terminal (see waterfall.h): the escapes are
 * rpctrace's own (rpct__escape_char), so a diagnostic, the console
 * exporter and the view show one hostile name the same way. */
static void text_file_string(text *t, const char *s, bool ascii) {
  size_t n = strlen(s);
  char esc[RPCT__ESCAPE_BUF];
  for (size_t i = 0, used; i < n; i += used) {
    size_t e = rpct__escape_char(s + i, n - i, esc, &used);
    if (e) {
      text_put(t, esc, e);
      t->cols += e;
    } else if (ascii && used > 1) {
      text_put(t, "?", 1);
      t->cols++;
    } else {
      text_put(t, s + i, used);
      t->cols++;
    }
  }
}

/* Cut `t` to `max` columns, the last one an ellipsis, when it is wider. */
static void text_fit(text *t, size_t max, bool ascii) {
  if (t->cols <= max || t->oom) return;
  const char *ellipsis = ascii ? "..." : "\xE2\x80\xA6";
  size_t ell_cols = ascii ? 3 : 1;
  size_t keep = max > ell_cols ? max - ell_cols : 0;
  /* Every column of `t` is one code point: find the byte after `keep`. */
  size_t at = 0;
  for (size_t c = 0; c < keep; c++) {
    at++;
    while (at < t->len && ((unsigned char)t->s[at] & 0xC0) == 0x80) at++;
  }
  t->len = at;
  t->s[at] = '\0';
  t->cols = keep;
  text_put(t, ellipsis, strlen(ellipsis));
  t->cols += ell_cols;
}

/* ---- the waterfall ---- */

static void sgr(FILE *out, const rtt_view_style *st, const char *code) {
  if (st->color) fputs(code, out);
}

/* The label of span `s`: indentation, service, name. The service's bytes
 * are [*svc_from, *svc_to) of the text. */
static void label_of(text *t, const rtt_span *s, const rtt_view_style *st, size_t *svc_from,
                     size_t *svc_to) {
  unsigned depth = s->depth < MAX_INDENT_DEPTH ? s->depth : MAX_INDENT_DEPTH;
  text_spaces(t, 2 * (size_t)depth);
  *svc_from = *svc_to = t->len;
  if (s->service[0]) {
    text_file_string(t, s->service, st->ascii);
    *svc_to = t->len;
    text_spaces(t, 1);
  }
  text_file_string(t, s->name, st->ascii);
}

static void print_header(FILE *out, const rtt_trace *tr, const rtt_view_style *st) {
  char dur[32];
  rtt_format_duration(dur, sizeof dur, tr->end_ns - tr->start_ns, st->ascii);
  text t = {0};
  text_file_string(&t, tr->trace_id[0] ? tr->trace_id : "(no trace id)", st->ascii);
  sgr(out, st, SGR_BOLD);
  fprintf(out, "trace %s", t.s ? t.s : "");
  sgr(out, st, SGR_RESET);
  fprintf(out, "  %zu span%s", tr->n_spans, tr->n_spans == 1 ? "" : "s");
  if (tr->n_services) {
    fputs("  services: ", out);
    for (size_t i = 0; i < tr->n_services; i++) {
      t.len = 0;
      t.cols = 0;
      text_file_string(&t, tr->services[i], st->ascii);
      sgr(out, st, SGR_CYAN);
      fputs(t.s ? t.s : "", out);
      sgr(out, st, SGR_RESET);
      if (i + 1 < tr->n_services) fputs(", ", out);
    }
  }
  fprintf(out, "  %s", dur);
  if (tr->error) {
    fputs("  ", out);
    sgr(out, st, SGR_BOLD SGR_RED);
    fputs("ERROR", out);
    sgr(out, st, SGR_RESET);
  }
  fputc('\n', out);
  free(t.s);
}

static const char *short_kind(int kind) {
  return kind >= 1 && kind <= 5 ? rtt_kind_name(kind) : "-";
}

static void print_span(FILE *out, const rtt_trace *tr, const rtt_span *s, size_t label_cols,
                       const rtt_view_style *st, unsigned bar_width, size_t label_width) {
  text label = {0};
  size_t svc_from, svc_to;
  label_of(&label, s, st, &svc_from, &svc_to);
  text_fit(&label, label_width, st->ascii);
  fputs("  ", out);
  if (label.s) {
    /* The service in colour; the cut may have shortened it. */
    if (svc_to > label.len) svc_to = label.len;
    if (svc_from > svc_to) svc_from = svc_to;
    fwrite(label.s, 1, svc_from, out);
    if (svc_to > svc_from) sgr(out, st, SGR_CYAN);
    fwrite(label.s + svc_from, 1, svc_to - svc_from, out);
    if (svc_to > svc_from) sgr(out, st, SGR_RESET);
    fputs(label.s + svc_to, out);
  }
  for (size_t c = label.cols; c < label_cols; c++) fputc(' ', out);
  fprintf(out, "  %-*s", KIND_WIDTH, short_kind(s->kind));

  char dur[32];
  rtt_format_duration(dur, sizeof dur, s->end_ns - s->start_ns, st->ascii);
  text d = {0};
  text_file_string(&d, dur, false);
  fputs("  ", out);
  for (size_t c = d.cols; c < DURATION_WIDTH; c++) fputc(' ', out);
  fputs(dur, out);
  free(d.s);

  unsigned from, to;
  rtt_bar_columns(tr, s, bar_width, &from, &to);
  const char *block = st->ascii ? "#" : "\xE2\x96\x88";
  fputs("  |", out);
  for (unsigned c = 0; c < from; c++) fputc(' ', out);
  sgr(out, st, s->status_code == 2 ? SGR_RED : SGR_GREEN);
  for (unsigned c = from; c < to; c++) fputs(block, out);
  sgr(out, st, SGR_RESET);
  for (unsigned c = to; c < bar_width; c++) fputc(' ', out);
  fputc('|', out);

  if (s->status_code == 2) {
    fputc(' ', out);
    sgr(out, st, SGR_RED);
    fputs(st->ascii ? "x" : "\xE2\x9C\x97", out);
    if (s->status_message[0]) {
      text msg = {0};
      text_file_string(&msg, s->status_message, st->ascii);
      fprintf(out, " %s", msg.s ? msg.s : "");
      free(msg.s);
    }
    sgr(out, st, SGR_RESET);
  }
  if (s->orphan || s->cycle) {
    fputc(' ', out);
    sgr(out, st, SGR_YELLOW);
    fputs(s->orphan ? "(parent not in file)" : "(parent cycle)", out);
    sgr(out, st, SGR_RESET);
  }
  fputc('\n', out);
  free(label.s);
}

void rtt_waterfall_print(FILE *out, const rtt_trace *t, const rtt_view_style *style) {
  rtt_view_style st = *style;
  unsigned bar_width = st.bar_width ? st.bar_width : RTT_BAR_WIDTH;
  size_t label_width = st.label_width ? st.label_width : RTT_LABEL_WIDTH;
  size_t label_cols = 0;
  for (size_t i = 0; i < t->n_spans; i++) {
    text label = {0};
    size_t svc_from, svc_to;
    label_of(&label, t->spans[i], &st, &svc_from, &svc_to);
    text_fit(&label, label_width, st.ascii);
    if (label.cols > label_cols) label_cols = label.cols;
    free(label.s);
  }
  print_header(out, t, &st);
  for (size_t i = 0; i < t->n_spans; i++)
    print_span(out, t, t->spans[i], label_cols, &st, bar_width, label_width);
}
