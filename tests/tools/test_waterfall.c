/* Traces from OTLP/JSON lines and their layout (tools/model.c,
 * tools/waterfall.c, tools/html.c): tree order, orphans and cycles, the
 * exact waterfall text for known times, bar columns, durations, error
 * marks, escaping of hostile text, lenient field forms, reading files with
 * bad lines, and the HTML page's hooks and escaping. */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "html.h"
#include "model.h"
#include "waterfall.h"

#define T0 UINT64_C(1700000000000000000)
#define TRACE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TRACE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- building input ---- */

typedef struct span_spec {
  const char *trace, *id, *parent, *name;
  int kind;
  uint64_t start_us, end_us; /* after T0 (may be "negative" through wrap: not used) */
  int code;
  const char *message;
} span_spec;

/* One request line: a resource with service.name `service` and `n` spans. */
static char *request_line(const char *service, const span_spec *spans, size_t n) {
  size_t cap = 512 + n * 512;
  char *s = malloc(cap);
  assert_non_null(s);
  int k = snprintf(s, cap,
                   "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                   "\"value\":{\"stringValue\":\"%s\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
                   "\"t\"},\"spans\":[",
                   service);
  for (size_t i = 0; i < n; i++) {
    const span_spec *p = &spans[i];
    k += snprintf(s + k, cap - (size_t)k,
                  "%s{\"traceId\":\"%s\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\",\"name\":\"%s\","
                  "\"kind\":%d,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\","
                  "\"status\":{\"code\":%d,\"message\":\"%s\"}}",
                  i ? "," : "", p->trace, p->id, p->parent, p->name, p->kind,
                  (unsigned long long)(T0 + p->start_us * 1000),
                  (unsigned long long)(T0 + p->end_us * 1000), p->code, p->message);
  }
  snprintf(s + k, cap - (size_t)k, "]}]}]}");
  return s;
}

static void add(rtt_model *m, const char *line) {
  char why[200];
  size_t n;
  int r = rtt_model_add_line(m, line, strlen(line), 1, &n, why, sizeof why);
  if (r != RTT_LINE_OK) fail_msg("%s: %s", line, why);
}

/* The standard example: trace A of five spans in two services, trace B of
 * one span starting earlier. Times in µs after T0. */
static rtt_model *example(void) {
  static const span_spec front[] = {
      {TRACE_A, "00000000000000a1", "", "GET /", 2, 0, 40, 0, ""},
      {TRACE_A, "00000000000000a2", "00000000000000a1", "call b", 3, 10, 20, 0, ""},
      {TRACE_A, "00000000000000a3", "00000000000000a1", "call a", 3, 5, 8, 0, ""},
  };
  static const span_spec back[] = {
      {TRACE_A, "00000000000000b1", "00000000000000a2", "handle b", 2, 12, 18, 2, "boom"},
      {TRACE_A, "00000000000000b2", "ffffffffffffffff", "late", 1, 30, 35, 0, ""},
  };
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  char *l1 = request_line("front", front, 3), *l2 = request_line("back", back, 2);
  add(m, l1);
  add(m, l2);
  free(l1);
  free(l2);
  /* Trace B: 2 ms, starting 1 ms before T0 (written by hand: no
   * "negative" offsets in the builder). */
  add(m, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TRACE_B
         "\",\"spanId\":\"00000000000000c1\",\"name\":\"solo\",\"kind\":1,"
         "\"startTimeUnixNano\":\"1699999999999000000\",\"endTimeUnixNano\":"
         "\"1700000000001000000\"}]}]}]}");
  assert_int_equal(rtt_model_finish(m), 0);
  return m;
}

/* What `print` writes, as a malloc'd string. */
static char *capture_trace(const rtt_trace *t, const rtt_view_style *st) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  rtt_waterfall_print(f, t, st);
  fclose(f);
  return buf;
}

/* ---- tree and layout ---- */

static void test_traces_are_grouped_ordered_and_laid_out_as_trees(void **state) {
  (void)state;
  rtt_model *m = example();
  assert_int_equal(rtt_model_span_count(m), 6);
  assert_int_equal(rtt_model_trace_count(m), 2);
  const rtt_trace *b = rtt_model_trace(m, 0), *a = rtt_model_trace(m, 1);
  assert_string_equal(b->trace_id, TRACE_B); /* the earlier trace first */
  assert_string_equal(a->trace_id, TRACE_A);
  assert_int_equal(a->n_spans, 5);
  static const struct {
    const char *id;
    unsigned depth;
    bool orphan;
  } order[] = {
      {"00000000000000a1", 0, false}, {"00000000000000a3", 1, false},
      {"00000000000000a2", 1, false}, {"00000000000000b1", 2, false},
      {"00000000000000b2", 0, true},
  };
  for (size_t i = 0; i < 5; i++) {
    assert_string_equal(a->spans[i]->span_id, order[i].id);
    assert_int_equal(a->spans[i]->depth, order[i].depth);
    assert_int_equal(a->spans[i]->orphan, order[i].orphan);
    assert_false(a->spans[i]->cycle);
  }
  assert_true(a->error);
  assert_false(b->error);
  assert_int_equal(a->n_services, 2);
  assert_string_equal(a->services[0], "front");
  assert_string_equal(a->services[1], "back");
  assert_int_equal(b->n_services, 0);
  assert_true(a->start_ns == T0 && a->end_ns == T0 + 40000);
  assert_ptr_equal(rtt_model_find(m, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), a);
  assert_null(rtt_model_find(m, "aaaa"));
  rtt_model_del(m);
}

static void test_waterfall_text_is_exact(void **state) {
  (void)state;
  rtt_model *m = example();
  rtt_view_style ascii = {.ascii = true};
  char *out = capture_trace(rtt_model_trace(m, 1), &ascii);
  assert_string_equal(
      out, "trace " TRACE_A
           "  5 spans  services: front, back  40.0 us  ERROR\n"
           "  front GET /        SERVER      40.0 us  |########################################|\n"
           "    front call a     CLIENT      3.00 us  |     ###                                |\n"
           "    front call b     CLIENT      10.0 us  |          ##########                    |\n"
           "      back handle b  SERVER      6.00 us  |            ######                      | x "
           "boom\n"
           "  back late          INTERNAL    5.00 us  |                              #####     |"
           " (parent not in file)\n");
  free(out);

  out = capture_trace(rtt_model_trace(m, 0), &ascii);
  assert_string_equal(out,
                      "trace " TRACE_B
                      "  1 span  2.00 ms\n"
                      "  solo  INTERNAL    2.00 ms  |########################################|\n");
  free(out);

  /* UTF-8: block bars, the ✗ mark, µs; a narrower bar. */
  rtt_view_style utf8 = {.bar_width = 8};
  out = capture_trace(rtt_model_trace(m, 1), &utf8);
  assert_non_null(strstr(out,
                         "      back handle b  SERVER      6.00 \xC2\xB5s  |  "
                         "\xE2\x96\x88\xE2\x96\x88    | \xE2\x9C\x97 boom\n"));
  free(out);

  /* Colours: ANSI sequences around the service, bar and marks. */
  rtt_view_style color = {.ascii = true, .color = true, .bar_width = 4};
  out = capture_trace(rtt_model_trace(m, 1), &color);
  assert_non_null(strstr(out, "\x1b[1mtrace " TRACE_A "\x1b[0m"));
  assert_non_null(strstr(out,
                         "      \x1b[36mback\x1b[0m handle b  SERVER      6.00 us  |"
                         " \x1b[31m#\x1b[0m  | \x1b[31mx boom\x1b[0m\n"));
  free(out);
  rtt_model_del(m);
}

static void test_bar_columns_for_known_times(void **state) {
  (void)state;
  rtt_trace t = {.start_ns = 1000, .end_ns = 1100}; /* 100 ns */
  static const struct {
    uint64_t start, end;
    unsigned width, from, to;
  } cases[] = {
      {1000, 1100, 40, 0, 40},                          /* the whole trace */
      {1025, 1050, 40, 10, 20}, {1001, 1002, 40, 0, 1}, /* floor and ceil: [0.4, 0.8) -> [0, 1) */
      {1010, 1010, 40, 4, 5},                           /* zero length: one column */
      {1100, 1100, 40, 39, 40},                         /* at the very end: the last column */
      {1099, 1100, 40, 39, 40}, {1050, 1100, 3, 1, 3},  /* [1.5, 3) */
      {900, 1050, 40, 0, 20}, /* before the trace (not its own span): clamped */
      {1000, 5000, 40, 0, 40},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rtt_span s = {.start_ns = cases[i].start, .end_ns = cases[i].end};
    unsigned from, to;
    rtt_bar_columns(&t, &s, cases[i].width, &from, &to);
    if (from != cases[i].from || to != cases[i].to)
      fail_msg("case %zu: [%u, %u), expected [%u, %u)", i, from, to, cases[i].from, cases[i].to);
  }
  /* No start time: no bar. A trace of zero duration: full bars. */
  rtt_span none = {.start_ns = 0, .end_ns = 0};
  unsigned from, to;
  rtt_bar_columns(&t, &none, 40, &from, &to);
  assert_true(from == 0 && to == 0);
  rtt_trace zero = {.start_ns = 5, .end_ns = 5};
  rtt_span point = {.start_ns = 5, .end_ns = 5};
  rtt_bar_columns(&zero, &point, 40, &from, &to);
  assert_true(from == 0 && to == 40);
  /* Huge times do not overflow. */
  rtt_trace big = {.start_ns = 1, .end_ns = UINT64_MAX};
  rtt_span late = {.start_ns = UINT64_MAX / 2, .end_ns = UINT64_MAX};
  rtt_bar_columns(&big, &late, 40, &from, &to);
  assert_true(from == 19 && to == 40);
}

static void test_durations_have_three_significant_digits(void **state) {
  (void)state;
  static const struct {
    uint64_t ns;
    const char *utf8, *ascii;
  } cases[] = {
      {0, "0.00 \xC2\xB5s", "0.00 us"},
      {250, "0.25 \xC2\xB5s", "0.25 us"},
      {1000, "1.00 \xC2\xB5s", "1.00 us"},
      {12345, "12.3 \xC2\xB5s", "12.3 us"},
      {999000, "999 \xC2\xB5s", "999 us"},
      {999600, "1.00 ms", "1.00 ms"}, /* rounds up into the next unit */
      {1500000, "1.50 ms", "1.50 ms"},
      {123456789, "123 ms", "123 ms"},
      {2000000000, "2.00 s", "2.00 s"},
      {UINT64_C(3600000000000), "3600 s", "3600 s"},
  };
  char buf[32];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rtt_format_duration(buf, sizeof buf, cases[i].ns, false);
    assert_string_equal(buf, cases[i].utf8);
    rtt_format_duration(buf, sizeof buf, cases[i].ns, true);
    assert_string_equal(buf, cases[i].ascii);
  }
}

/* ---- hostile and unusual input ---- */

static void test_cycles_are_cut_and_every_span_is_shown_once(void **state) {
  (void)state;
  /* x <- y <- z <- x (a cycle), w under z, s its own parent. */
  static const span_spec spans[] = {
      {TRACE_A, "000000000000000x", "000000000000000z", "x", 1, 3, 4, 0, ""},
      {TRACE_A, "000000000000000y", "000000000000000x", "y", 1, 1, 2, 0, ""},
      {TRACE_A, "000000000000000z", "000000000000000y", "z", 1, 2, 3, 0, ""},
      {TRACE_A, "000000000000000w", "000000000000000z", "w", 1, 0, 9, 0, ""},
      {TRACE_A, "000000000000000s", "000000000000000s", "s", 1, 5, 6, 0, ""},
  };
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  char *line = request_line("svc", spans, 5);
  add(m, line);
  free(line);
  assert_int_equal(rtt_model_finish(m), 0);
  const rtt_trace *t = rtt_model_trace(m, 0);
  assert_int_equal(t->n_spans, 5);
  /* s is at the top (its own parent); the cycle x-y-z is cut at its
   * earliest span, y, under which z and then z's children w and x follow. */
  char got[64] = "";
  for (size_t i = 0; i < t->n_spans; i++) {
    char one[8];
    snprintf(one, sizeof one, "%s%u%s ", t->spans[i]->name, t->spans[i]->depth,
             t->spans[i]->cycle ? "c" : "");
    strcat(got, one);
  }
  assert_string_equal(got, "s0c y0c z1 w2 x2 ");
  rtt_model_del(m);
}

static void test_text_from_the_file_cannot_drive_the_terminal(void **state) {
  (void)state;
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  add(m,
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
      "{\"stringValue\":\"s\\u001b]0;x\\u0007\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":"
      "\"" TRACE_A
      "\",\"spanId\":\"01\",\"name\":\"n\\u001b[31m\\u009b\\u00e9\\u4e2d\","
      "\"startTimeUnixNano\":\"10\",\"endTimeUnixNano\":\"20\",\"status\":{\"code\":2,"
      "\"message\":\"m\\r\\n\"}}]}]}]}");
  assert_int_equal(rtt_model_finish(m), 0);
  rtt_view_style utf8 = {.bar_width = 1};
  char *out = capture_trace(rtt_model_trace(m, 0), &utf8);
  assert_null(strchr(out, 0x1b));
  assert_null(strchr(out, 0x07));
  assert_null(strchr(out, '\r'));
  assert_null(strstr(out, "\xC2\x9B"));
  /* Escaped visibly, as rpctrace's diagnostics and console exporter do. */
  assert_non_null(strstr(out,
                         "  s\\x1b]0;x\\x07 n\\x1b[31m\\u009b\xC3\xA9\xE4\xB8\xAD  -           "
                         "0.01 \xC2\xB5s"));
  assert_non_null(strstr(out, "| \xE2\x9C\x97 m\\x0d\\x0a\n"));
  free(out);
  rtt_view_style ascii = {.ascii = true, .bar_width = 1};
  out = capture_trace(rtt_model_trace(m, 0), &ascii);
  assert_non_null(strstr(out, "  s\\x1b]0;x\\x07 n\\x1b[31m\\u009b??  -"));
  assert_non_null(strstr(out, "| x m\\x0d\\x0a\n"));
  free(out);
  rtt_model_del(m);
}

/* Unicode bidi controls reorder what follows them on screen, so a span
 * named "\u202egnp.exe" shows as "exe.png"; C1 controls act like escape
 * sequences. Each is shown as its code point, in either style; neighbours
 * of the ranges are ordinary characters. */
static void test_bidi_and_c1_controls_in_names_are_shown_as_code_points(void **state) {
  (void)state;
  static const struct {
    const char *json;  /* the span name as written in the file */
    const char *utf8;  /* as the UTF-8 view shows it */
    const char *ascii; /* as the ASCII view shows it */
  } cases[] = {
      {"a\\u202eb", "a\\u202eb", "a\\u202eb"},                /* RIGHT-TO-LEFT OVERRIDE */
      {"\\u202agnp.exe", "\\u202agnp.exe", "\\u202agnp.exe"}, /* LRE */
      {"\\u202b\\u202c\\u202d", "\\u202b\\u202c\\u202d", "\\u202b\\u202c\\u202d"},
      {"\\u2066x\\u2067y\\u2068z\\u2069", "\\u2066x\\u2067y\\u2068z\\u2069",
       "\\u2066x\\u2067y\\u2068z\\u2069"},                                         /* isolates */
      {"\\u200e\\u200f\\u061c", "\\u200e\\u200f\\u061c", "\\u200e\\u200f\\u061c"}, /* marks */
      {"\\u0080\\u0085\\u009f", "\\u0080\\u0085\\u009f", "\\u0080\\u0085\\u009f"}, /* C1 */
      {"\\u001b\\u007f", "\\x1b\\x7f", "\\x1b\\x7f"},                              /* C0 and DEL */
      /* Just outside the ranges: shown as they are (or '?' in ASCII). */
      {"\\u00a0\\u061b\\u200d\\u2010\\u2029\\u202f\\u2065\\u206a",
       "\xC2\xA0\xD8\x9B\xE2\x80\x8D\xE2\x80\x90\xE2\x80\xA9\xE2\x80\xAF\xE2\x81\xA5\xE2\x81\xAA",
       "????????"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char line[512];
    snprintf(line, sizeof line,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
             "\"value\":{\"stringValue\":\"svc\\u2067\"}}]},\"scopeSpans\":[{\"spans\":[{"
             "\"traceId\":\"" TRACE_A
             "\",\"spanId\":\"01\",\"name\":\"%s\","
             "\"startTimeUnixNano\":\"10\",\"endTimeUnixNano\":\"20\"}]}]}]}",
             cases[i].json);
    rtt_model *m = NULL;
    assert_int_equal(rtt_model_new(&m), 0);
    add(m, line);
    assert_int_equal(rtt_model_finish(m), 0);
    for (int ascii = 0; ascii <= 1; ascii++) {
      rtt_view_style st = {.ascii = ascii, .bar_width = 1};
      char *out = capture_trace(rtt_model_trace(m, 0), &st);
      char want[256];
      snprintf(want, sizeof want, "\n  svc\\u2067 %s  -", ascii ? cases[i].ascii : cases[i].utf8);
      if (!strstr(out, want))
        fail_msg("case %zu (%s): want \"%s\" in:\n%s", i, ascii ? "ascii" : "utf8", want, out);
      /* No bidi control's bytes (E2 80 AA..AE, E2 81 A6..A9) survive. */
      for (const char *p = out; (p = strstr(p, "\xE2\x80")) != NULL; p++)
        if ((unsigned char)p[2] >= 0xAA && (unsigned char)p[2] <= 0xAE)
          fail_msg("case %zu: a raw bidi control in:\n%s", i, out);
      free(out);
    }
    rtt_model_del(m);
  }
}

static void test_long_labels_are_cut_with_an_ellipsis(void **state) {
  (void)state;
  static const span_spec spans[] = {
      {TRACE_A, "01", "", "abcdefghijklmnopqrstuvwxyz", 1, 0, 1, 0, ""},
      {TRACE_A, "02", "01", "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 1,
       0, 1, 0, ""},
  };
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  char *line = request_line("svc", spans, 2);
  add(m, line);
  free(line);
  assert_int_equal(rtt_model_finish(m), 0);
  rtt_view_style st = {.label_width = 10, .bar_width = 2};
  char *out = capture_trace(rtt_model_trace(m, 0), &st);
  assert_non_null(strstr(out, "\n  svc abcde\xE2\x80\xA6  INTERNAL"));
  assert_non_null(strstr(out, "\n    svc \xC3\xA9\xC3\xA9\xC3\xA9\xE2\x80\xA6  INTERNAL"));
  free(out);
  st.ascii = true;
  out = capture_trace(rtt_model_trace(m, 0), &st);
  assert_non_null(strstr(out, "\n  svc abc...  INTERNAL"));
  assert_non_null(strstr(out, "\n    svc ?...  INTERNAL"));
  free(out);
  rtt_model_del(m);
}

static void test_lenient_field_forms_are_read(void **state) {
  (void)state;
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  /* snake_case names, enum names, numbers for 64-bit fields, mixed-case
   * ids, the pre-1.0 instrumentationLibrarySpans. */
  add(m,
      "{\"resource_spans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
      "{\"string_value\":\"old\"}}]},\"instrumentation_library_spans\":[{\"spans\":[{"
      "\"trace_id\":\"ABCDEF00ABCDEF00ABCDEF00ABCDEF00\",\"span_id\":\"00000000000000AA\","
      "\"parent_span_id\":\"\",\"name\":\"x\",\"kind\":\"SPAN_KIND_CONSUMER\","
      "\"start_time_unix_nano\":1000,\"end_time_unix_nano\":3000,\"status\":{\"code\":"
      "\"STATUS_CODE_ERROR\",\"message\":\"e\"}}]}]}]}");
  assert_int_equal(rtt_model_finish(m), 0);
  const rtt_trace *t = rtt_model_trace(m, 0);
  const rtt_span *s = t->spans[0];
  assert_string_equal(s->trace_id, "abcdef00abcdef00abcdef00abcdef00");
  assert_string_equal(s->span_id, "00000000000000aa");
  assert_string_equal(s->service, "old");
  assert_int_equal(s->kind, 5);
  assert_true(s->start_ns == 1000 && s->end_ns == 3000);
  assert_int_equal(s->status_code, 2);
  assert_string_equal(s->status_message, "e");
  assert_true(t->error);
  rtt_model_del(m);
}

static void test_lines_that_are_not_requests_are_refused(void **state) {
  (void)state;
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  char why[200];
  size_t n;
  assert_int_equal(rtt_model_add_line(m, "{\"a\":", 5, 3, &n, why, sizeof why), RTT_LINE_BAD_JSON);
  assert_string_equal(why, "invalid JSON (column 6: unexpected end of input, expected a value)");
  assert_int_equal(rtt_model_add_line(m, "[1]", 3, 4, &n, why, sizeof why), RTT_LINE_NOT_OTLP);
  assert_string_equal(why, "not an OTLP trace request (no \"resourceSpans\" array)");
  assert_int_equal(rtt_model_add_line(m, "{\"resourceSpans\":[]}", 20, 5, &n, why, sizeof why),
                   RTT_LINE_OK);
  assert_int_equal(n, 0);
  /* Odd shapes inside a request are skipped, not fatal. */
  const char odd[] =
      "{\"resourceSpans\":[1,{\"scopeSpans\":{}},{\"scopeSpans\":[{\"spans\":[2,{}]}]}]}";
  assert_int_equal(rtt_model_add_line(m, odd, sizeof odd - 1, 6, &n, why, sizeof why), RTT_LINE_OK);
  assert_int_equal(n, 1);
  assert_int_equal(rtt_model_finish(m), 0);
  assert_int_equal(rtt_model_trace_count(m), 1);
  assert_string_equal(rtt_model_trace(m, 0)->trace_id, "");
  rtt_model_del(m);
}

/* ---- files ---- */

static char *temp_file(const char *content, size_t len) {
  char *path = strdup("/tmp/rpct-view-XXXXXX");
  assert_non_null(path);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, len), (ssize_t)len);
  close(fd);
  return path;
}

static void test_files_with_bad_lines_are_read_with_warnings(void **state) {
  (void)state;
  static const span_spec one[] = {{TRACE_A, "01", "", "a", 1, 0, 1, 0, ""}};
  char *good = request_line("svc", one, 1);
  size_t cap = strlen(good) * 2 + 200;
  char *content = malloc(cap);
  assert_non_null(content);
  int len = snprintf(content, cap, "\xEF\xBB\xBF%s\r\n\n  \n{not json\n[1,2]\n%s", good, good);
  char *path = temp_file(content, (size_t)len);

  char *warn_buf = NULL;
  size_t warn_len = 0;
  FILE *warn = open_memstream(&warn_buf, &warn_len);
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  rtt_load_stats st;
  assert_int_equal(rtt_model_load_file(m, path, warn, "prog", &st), 0);
  fclose(warn);
  char expected[512];
  snprintf(expected, sizeof expected,
           "prog: %s:4: invalid JSON (column 2: unexpected character 'n', expected a member name "
           "(a string))\n"
           "prog: %s:5: not an OTLP trace request (no \"resourceSpans\" array)\n",
           path, path);
  assert_string_equal(warn_buf, expected);
  assert_int_equal(st.lines_ok, 2);
  assert_int_equal(st.lines_bad, 2);
  assert_int_equal(st.spans, 2);
  assert_int_equal(rtt_model_finish(m), 0);
  assert_int_equal(rtt_model_trace(m, 0)->n_spans, 2); /* the same span twice */
  assert_int_equal(rtt_model_trace(m, 0)->spans[1]->line, 6);
  rtt_model_del(m);
  free(warn_buf);
  unlink(path);
  free(path);

  /* 25 bad lines: 20 reported, then a count. */
  char many[25 * 4 + 1] = "";
  for (int i = 0; i < 25; i++) strcat(many, "{x}\n");
  path = temp_file(many, strlen(many));
  warn = open_memstream(&warn_buf, &warn_len);
  assert_int_equal(rtt_model_new(&m), 0);
  assert_int_equal(rtt_model_load_file(m, path, warn, "prog", &st), 0);
  fclose(warn);
  size_t lines = 0;
  for (char *p = warn_buf; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 21);
  assert_non_null(strstr(warn_buf, ": 5 more bad lines not shown\n"));
  assert_int_equal(st.lines_ok, 0);
  assert_int_equal(st.lines_bad, 25);
  rtt_model_del(m);
  free(warn_buf);
  unlink(path);
  free(path);

  /* One request printed over several lines is read whole, silently. */
  char pretty[] =
      "{\n  \"resourceSpans\": [\n    {\"scopeSpans\": [{\"spans\": [{\"traceId\": \"ab\","
      " \"spanId\": \"01\", \"name\": \"p\"}]}]}\n  ]\n}\n";
  path = temp_file(pretty, strlen(pretty));
  warn = open_memstream(&warn_buf, &warn_len);
  assert_int_equal(rtt_model_new(&m), 0);
  assert_int_equal(rtt_model_load_file(m, path, warn, "prog", &st), 0);
  fclose(warn);
  assert_string_equal(warn_buf, "");
  assert_int_equal(st.spans, 1);
  assert_int_equal(st.lines_ok, 1);
  assert_int_equal(st.lines_bad, 0);
  rtt_model_del(m);
  free(warn_buf);
  unlink(path);
  free(path);

  /* A missing file: -1 and errno. */
  assert_int_equal(rtt_model_new(&m), 0);
  errno = 0;
  assert_int_equal(rtt_model_load_file(m, "/nonexistent/x.jsonl", NULL, "prog", &st), -1);
  assert_int_equal(errno, ENOENT);
  rtt_model_del(m);
  free(content);
  free(good);
}

/* ---- HTML ---- */

static void test_html_escapes_everything_from_the_input(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  rtt_html_escape(f, "<script>alert(\"x\" + 'y')</script> & \x01\x7f\xC2\x85 \xC3\xA9\xFF\tok\n");
  fclose(f);
  assert_string_equal(buf,
                      "&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;)&lt;/script&gt; &amp; "
                      "&#xFFFD;&#xFFFD;&#xFFFD; \xC3\xA9&#xFFFD;\tok\n");
  free(buf);
}

static void test_html_page_has_hooks_and_no_network_reference(void **state) {
  (void)state;
  static const span_spec spans[] = {
      {TRACE_A, "00000000000000a1", "", "<b>root</b>", 2, 0, 40, 0, ""},
      {TRACE_A, "00000000000000a2", "00000000000000a1", "child", 3, 10, 30, 2, "it's <bad>"},
      {TRACE_A, "00000000000000a3", "0000000000000099", "orphan", 3, 20, 40, 0, ""},
  };
  rtt_model *m = NULL;
  assert_int_equal(rtt_model_new(&m), 0);
  char *line = request_line("svc\\\"<i>", spans, 3);
  add(m, line);
  free(line);
  assert_int_equal(rtt_model_finish(m), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  rtt_html_write(f, m, "a<b>.jsonl");
  fclose(f);
  assert_null(strstr(buf, "http://"));
  assert_null(strstr(buf, "https://"));
  assert_null(strstr(buf, "<b>"));
  assert_null(strstr(buf, "<i>"));
  assert_non_null(strstr(buf, "<title>rpctrace: a&lt;b&gt;.jsonl</title>"));
  assert_non_null(strstr(buf, "<details class=\"trace\" data-trace-id=\"" TRACE_A "\" open>"));
  assert_non_null(strstr(buf,
                         "<details class=\"span\" data-span-id=\"00000000000000a1\" "
                         "data-trace-id=\"" TRACE_A "\" data-depth=\"0\">"));
  assert_non_null(strstr(buf,
                         "<details class=\"span error\" data-span-id=\"00000000000000a2\" "
                         "data-trace-id=\"" TRACE_A "\" data-depth=\"1\">"));
  assert_non_null(strstr(buf, "<details class=\"span orphan\" data-span-id=\"00000000000000a3\""));
  assert_non_null(strstr(buf, "&lt;b&gt;root&lt;/b&gt;"));
  assert_non_null(strstr(buf, "<span class=\"svc\">svc&quot;&lt;i&gt;</span>"));
  assert_non_null(strstr(buf, "ERROR: it&#39;s &lt;bad&gt;"));
  assert_non_null(strstr(buf, "(parent not in file)"));
  /* Bars in percent of the trace: child [10, 30) of [0, 40). */
  assert_non_null(strstr(buf, "style=\"left:25.0000%;width:50.0000%;"));
  assert_non_null(strstr(buf, "style=\"left:0.0000%;width:100.0000%;"));
  free(buf);
  rtt_model_del(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traces_are_grouped_ordered_and_laid_out_as_trees),
      cmocka_unit_test(test_waterfall_text_is_exact),
      cmocka_unit_test(test_bar_columns_for_known_times),
      cmocka_unit_test(test_durations_have_three_significant_digits),
      cmocka_unit_test(test_cycles_are_cut_and_every_span_is_shown_once),
      cmocka_unit_test(test_text_from_the_file_cannot_drive_the_terminal),
      cmocka_unit_test(test_bidi_and_c1_controls_in_names_are_shown_as_code_points),
      cmocka_unit_test(test_long_labels_are_cut_with_an_ellipsis),
      cmocka_unit_test(test_lenient_field_forms_are_read),
      cmocka_unit_test(test_lines_that_are_not_requests_are_refused),
      cmocka_unit_test(test_files_with_bad_lines_are_read_with_warnings),
      cmocka_unit_test(test_html_escapes_everything_from_the_input),
      cmocka_unit_test(test_html_page_has_hooks_and_no_network_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
