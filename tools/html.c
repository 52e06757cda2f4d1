/* Traces as one self-contained HTML page (see html.h). */
#include "html.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "waterfall.h"

/* The page's style and script. Neither may name a URL: the page is
 * self-contained (a test checks that no "http://" or "https://" appears). */
static const char page_css[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5em;"
    "color:#1d1f21;background:#fff}\n"
    "h1{font-size:1.3em;margin:0 0 .3em}\n"
    ".meta{color:#555;margin-bottom:1em}\n"
    "button{font:inherit;margin-right:.5em}\n"
    "details.trace{border:1px solid #ccd;border-radius:6px;margin:.8em 0;padding:.3em .6em}\n"
    "details.trace>summary{cursor:pointer;font-weight:600;padding:.2em 0}\n"
    "details.trace>summary .id{font-family:ui-monospace,Menlo,Consolas,monospace}\n"
    ".muted{color:#666;font-weight:400}\n"
    ".bad{color:#c0392b;font-weight:700}\n"
    "details.span>summary{display:grid;grid-template-columns:minmax(16em,32%) 6.5em 6em 1fr;"
    "gap:.6em;align-items:center;cursor:pointer;list-style:none;padding:1px 0;"
    "border-top:1px solid #f0f0f4}\n"
    "details.span>summary::-webkit-details-marker{display:none}\n"
    "details.span>summary:hover{background:#f5f7fb}\n"
    "details.span[open]>summary{background:#eef2fa}\n"
    ".label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}\n"
    ".svc{color:#2c6e9b;margin-right:.4em}\n"
    ".kind{font-size:.85em;color:#555}\n"
    ".dur{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".track{position:relative;height:.9em;background:#f3f3f6;border-radius:2px}\n"
    ".bar{position:absolute;top:0;bottom:0;min-width:2px;border-radius:2px}\n"
    ".error .bar{outline:2px solid #c0392b}\n"
    ".mark{color:#c0392b;font-weight:700;margin-right:.3em}\n"
    ".orphan-note{color:#a26b00;font-size:.85em;margin-left:.4em}\n"
    ".detail{margin:.3em 0 .6em 2em;padding:.4em .6em;border-left:3px solid #ccd;"
    "background:#fafbfd}\n"
    ".detail table{border-collapse:collapse;margin:.2em 0 .5em}\n"
    ".detail th{text-align:left;font-weight:600;padding:1px .8em 1px 0;vertical-align:top;"
    "white-space:nowrap}\n"
    ".detail td{padding:1px 0;font-family:ui-monospace,Menlo,Consolas,monospace;"
    "white-space:pre-wrap;word-break:break-all}\n"
    ".detail h4{margin:.4em 0 .1em;font-size:.95em}\n";

static const char page_js[] =
    "function rpctraceAll(open){document.querySelectorAll('details.trace').forEach("
    "function(d){d.open=open;});}\n";

/* ---- escaping ---- */

void rtt_html_escape(FILE *out, const char *s) {
  while (*s) {
    uint32_t cp;
    size_t n = rtt_utf8_next(s, &cp);
    if (n == 0) {
      fputs("&#xFFFD;", out);
      s++;
      continue;
    }
    switch (cp) {
      case '&': fputs("&amp;", out); break;
      case '<': fputs("&lt;", out); break;
      case '>': fputs("&gt;", out); break;
      case '"': fputs("&quot;", out); break;
      case '\'': fputs("&#39;", out); break;
      case '\t':
      case '\n': fputc((int)cp, out); break;
      default: {
        /* Controls, and bidi controls, which would reorder the page's text
         * around them, as rpctrace escapes them everywhere. */
        char esc[RPCT__ESCAPE_BUF];
        size_t used;
        if (rpct__escape_char(s, n, esc, &used))
          fputs("&#xFFFD;", out);
        else
          fwrite(s, 1, n, out);
        break;
      }
    }
    s += n;
  }
}

/* ---- values ---- */

static void put_duration(FILE *out, uint64_t ns) {
  char buf[32];
  rtt_format_duration(buf, sizeof buf, ns, false);
  rtt_html_escape(out, buf);
}

/* Unix ns as "2024-01-02T03:04:05.123456789Z". */
static void put_time(FILE *out, uint64_t ns) {
  if (ns == 0) {
    fputs("(none)", out);
    return;
  }
  time_t secs = (time_t)(ns / 1000000000u);
  struct tm tm;
  char date[40];
  if (gmtime_r(&secs, &tm) && strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm))
    fprintf(out, "%s.%09" PRIu64 "Z (%" PRIu64 ")", date, ns % 1000000000u, ns);
  else
    fprintf(out, "%" PRIu64, ns);
}

static void put_any_value(FILE *out, const rtt_json *v);

/* A JSON value of unexpected shape, shown as plainly as possible. */
static void put_plain(FILE *out, const rtt_json *v) {
  if (!v) return;
  switch (v->type) {
    case RTT_JSON_NULL: fputs("null", out); break;
    case RTT_JSON_BOOL: fputs(v->u.boolean ? "true" : "false", out); break;
    case RTT_JSON_NUMBER: rtt_html_escape(out, v->u.number.text); break;
    case RTT_JSON_STRING: rtt_html_escape(out, v->u.string.s); break;
    case RTT_JSON_ARRAY:
      fputc('[', out);
      for (size_t i = 0; i < v->u.array.n; i++) {
        if (i) fputs(", ", out);
        put_plain(out, &v->u.array.items[i]);
      }
      fputc(']', out);
      break;
    case RTT_JSON_OBJECT:
      fputc('{', out);
      for (size_t i = 0; i < v->u.object.n; i++) {
        if (i) fputs(", ", out);
        rtt_html_escape(out, v->u.object.members[i].key);
        fputs(": ", out);
        put_plain(out, &v->u.object.members[i].value);
      }
      fputc('}', out);
      break;
  }
}

static const rtt_json *field(const rtt_json *o, const char *camel, const char *snake) {
  const rtt_json *v = rtt_json_get(o, camel);
  return v ? v : rtt_json_get(o, snake);
}

/* key: value pairs of a KeyValue list, comma-separated (kvlistValue). */
static void put_kv_inline(FILE *out, const rtt_json *list) {
  fputc('{', out);
  for (size_t i = 0; i < rtt_json_array_len(list); i++) {
    const rtt_json *kv = rtt_json_at(list, i);
    if (i) fputs(", ", out);
    put_plain(out, rtt_json_get(kv, "key"));
    fputs(": ", out);
    put_any_value(out, rtt_json_get(kv, "value"));
  }
  fputc('}', out);
}

/* An AnyValue: strings as they are, arrays as [a, b], kvlists as {k: v},
 * bytes as base64 (as in the file), an empty AnyValue as "(empty)". */
static void put_any_value(FILE *out, const rtt_json *v) {
  const rtt_json *x;
  if (!v || v->type != RTT_JSON_OBJECT) {
    put_plain(out, v);
  } else if ((x = field(v, "stringValue", "string_value"))) {
    put_plain(out, x);
  } else if ((x = field(v, "boolValue", "bool_value")) || (x = field(v, "intValue", "int_value")) ||
             (x = field(v, "doubleValue", "double_value"))) {
    put_plain(out, x);
  } else if ((x = field(v, "bytesValue", "bytes_value"))) {
    fputs("base64:", out);
    put_plain(out, x);
  } else if ((x = field(v, "arrayValue", "array_value"))) {
    const rtt_json *values = rtt_json_get(x, "values");
    fputc('[', out);
    for (size_t i = 0; i < rtt_json_array_len(values); i++) {
      if (i) fputs(", ", out);
      put_any_value(out, rtt_json_at(values, i));
    }
    fputc(']', out);
  } else if ((x = field(v, "kvlistValue", "kvlist_value"))) {
    put_kv_inline(out, rtt_json_get(x, "values"));
  } else if (v->u.object.n == 0) {
    fputs("(empty)", out);
  } else {
    put_plain(out, v);
  }
}

/* A table of the KeyValues in `list` (nothing when empty). */
static void put_attr_table(FILE *out, const char *heading, const rtt_json *list) {
  size_t n = rtt_json_array_len(list);
  if (n == 0) return;
  if (heading) fprintf(out, "<h4>%s</h4>", heading);
  fputs("<table>", out);
  for (size_t i = 0; i < n; i++) {
    const rtt_json *kv = rtt_json_at(list, i);
    fputs("<tr><th>", out);
    put_plain(out, rtt_json_get(kv, "key"));
    fputs("</th><td>", out);
    put_any_value(out, rtt_json_get(kv, "value"));
    fputs("</td></tr>", out);
  }
  fputs("</table>\n", out);
}

static void row_text(FILE *out, const char *name, const char *value) {
  fprintf(out, "<tr><th>%s</th><td>", name);
  rtt_html_escape(out, value);
  fputs("</td></tr>", out);
}

static void put_events(FILE *out, const rtt_span *s) {
  const rtt_json *events = rtt_json_get(s->json, "events");
  size_t n = rtt_json_array_len(events);
  if (n == 0) return;
  fputs("<h4>Events</h4>", out);
  for (size_t i = 0; i < n; i++) {
    const rtt_json *ev = rtt_json_at(events, i);
    uint64_t t = 0;
    rtt_json_u64(field(ev, "timeUnixNano", "time_unix_nano"), &t);
    fputs("<table><tr><th>name</th><td>", out);
    put_plain(out, rtt_json_get(ev, "name"));
    fputs("</td></tr><tr><th>time</th><td>", out);
    put_time(out, t);
    if (t >= s->start_ns && s->start_ns) {
      fputs(" +", out);
      put_duration(out, t - s->start_ns);
    }
    fputs("</td></tr></table>", out);
    put_attr_table(out, NULL, rtt_json_get(ev, "attributes"));
  }
}

static void put_links(FILE *out, const rtt_span *s) {
  const rtt_json *links = rtt_json_get(s->json, "links");
  size_t n = rtt_json_array_len(links);
  if (n == 0) return;
  fputs("<h4>Links</h4>", out);
  for (size_t i = 0; i < n; i++) {
    const rtt_json *l = rtt_json_at(links, i);
    fputs("<table><tr><th>trace id</th><td>", out);
    put_plain(out, field(l, "traceId", "trace_id"));
    fputs("</td></tr><tr><th>span id</th><td>", out);
    put_plain(out, field(l, "spanId", "span_id"));
    fputs("</td></tr></table>", out);
    put_attr_table(out, NULL, rtt_json_get(l, "attributes"));
  }
}

static void put_details(FILE *out, const rtt_span *s) {
  static const char *const codes[] = {"UNSET", "OK", "ERROR"};
  fputs("<div class=\"detail\"><table>", out);
  row_text(out, "span id", s->span_id);
  row_text(out, "parent span id", s->parent_id[0] ? s->parent_id : "(root)");
  row_text(out, "trace id", s->trace_id);
  row_text(out, "kind", rtt_kind_name(s->kind));
  fputs("<tr><th>start</th><td>", out);
  put_time(out, s->start_ns);
  fputs("</td></tr><tr><th>end</th><td>", out);
  put_time(out, s->end_ns);
  fputs("</td></tr><tr><th>duration</th><td>", out);
  put_duration(out, s->end_ns - s->start_ns);
  fputs("</td></tr>", out);
  fprintf(out, "<tr><th>status</th><td>%s",
          s->status_code >= 0 && s->status_code <= 2 ? codes[s->status_code] : "UNSET");
  if (s->status_message[0]) {
    fputs(": ", out);
    rtt_html_escape(out, s->status_message);
  }
  fputs("</td></tr>", out);
  if (s->scope) {
    fputs("<tr><th>scope</th><td>", out);
    put_plain(out, rtt_json_get(s->scope, "name"));
    const rtt_json *version = rtt_json_get(s->scope, "version");
    if (version) {
      fputc(' ', out);
      put_plain(out, version);
    }
    fputs("</td></tr>", out);
  }
  fprintf(out, "<tr><th>line</th><td>%zu</td></tr></table>\n", s->line);
  put_attr_table(out, "Attributes", rtt_json_get(s->json, "attributes"));
  put_events(out, s);
  put_links(out, s);
  put_attr_table(out, "Resource", rtt_json_get(s->resource, "attributes"));
  fputs("</div>\n", out);
}

/* ---- the waterfall ---- */

/* A stable hue for a service name (FNV-1a), so each service keeps its
 * colour across traces. */
static unsigned service_hue(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % 360;
}

/* num / den as a percentage with four decimals ("12.3456"), num <= den. */
static void put_percent(FILE *out, uint64_t num, uint64_t den) {
  __extension__ typedef unsigned __int128 u128;
  uint64_t x = den ? (uint64_t)((u128)num * 1000000u / den) : 0; /* 1e-4 % units */
  fprintf(out, "%" PRIu64 ".%04" PRIu64 "%%", x / 10000, x % 10000);
}

static void put_bar(FILE *out, const rtt_trace *t, const rtt_span *s) {
  fputs("<span class=\"track\">", out);
  if (s->start_ns) {
    uint64_t total = t->end_ns > t->start_ns ? t->end_ns - t->start_ns : 0;
    uint64_t a = s->start_ns > t->start_ns ? s->start_ns - t->start_ns : 0;
    uint64_t b = s->end_ns > t->start_ns ? s->end_ns - t->start_ns : 0;
    if (a > total) a = total;
    if (b > total) b = total;
    fputs("<span class=\"bar\" style=\"left:", out);
    put_percent(out, total ? a : 0, total ? total : 1);
    fputs(";width:", out);
    put_percent(out, total ? b - a : 1, total ? total : 1);
    fprintf(out, ";background:hsl(%u,55%%,55%%)\"></span>", service_hue(s->service));
  }
  fputs("</span>", out);
}

static void put_span(FILE *out, const rtt_trace *t, const rtt_span *s) {
  fprintf(out, "<details class=\"span%s%s\" data-span-id=\"", s->status_code == 2 ? " error" : "",
          s->orphan || s->cycle ? " orphan" : "");
  rtt_html_escape(out, s->span_id);
  fputs("\" data-trace-id=\"", out);
  rtt_html_escape(out, s->trace_id);
  /* Indentation grows 1.2em a level, up to 24 levels. */
  unsigned depth = s->depth < 24 ? s->depth : 24;
  fprintf(out,
          "\" data-depth=\"%u\"><summary><span class=\"label\" style=\"padding-left:%u.%uem\">",
          s->depth, depth * 12 / 10, depth * 12 % 10);
  if (s->status_code == 2) {
    fputs("<span class=\"mark\" title=\"error", out);
    if (s->status_message[0]) {
      fputs(": ", out);
      rtt_html_escape(out, s->status_message);
    }
    fputs("\">&#10007;</span>", out);
  }
  if (s->service[0]) {
    fputs("<span class=\"svc\">", out);
    rtt_html_escape(out, s->service);
    fputs("</span>", out);
  }
  rtt_html_escape(out, s->name);
  if (s->orphan) fputs("<span class=\"orphan-note\">(parent not in file)</span>", out);
  if (s->cycle) fputs("<span class=\"orphan-note\">(parent cycle)</span>", out);
  fprintf(out, "</span><span class=\"kind\">%s</span><span class=\"dur\">", rtt_kind_name(s->kind));
  put_duration(out, s->end_ns - s->start_ns);
  fputs("</span>", out);
  put_bar(out, t, s);
  fputs("</summary>\n", out);
  put_details(out, s);
  fputs("</details>\n", out);
}

static void put_trace(FILE *out, const rtt_trace *t) {
  fputs("<details class=\"trace\" data-trace-id=\"", out);
  rtt_html_escape(out, t->trace_id);
  fputs("\" open><summary>trace <span class=\"id\">", out);
  rtt_html_escape(out, t->trace_id[0] ? t->trace_id : "(no trace id)");
  fprintf(out, "</span> <span class=\"muted\">&middot; %zu span%s", t->n_spans,
          t->n_spans == 1 ? "" : "s");
  if (t->n_services) {
    fputs(" &middot; ", out);
    for (size_t i = 0; i < t->n_services; i++) {
      if (i) fputs(", ", out);
      rtt_html_escape(out, t->services[i]);
    }
  }
  fputs(" &middot; ", out);
  put_duration(out, t->end_ns - t->start_ns);
  fputs("</span>", out);
  if (t->error) fputs(" <span class=\"bad\">ERROR</span>", out);
  fputs("</summary>\n", out);
  for (size_t i = 0; i < t->n_spans; i++) put_span(out, t, t->spans[i]);
  fputs("</details>\n", out);
}

void rtt_html_write(FILE *out, const rtt_model *m, const char *source) {
  fputs(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>rpctrace: ",
      out);
  rtt_html_escape(out, source);
  fprintf(out, "</title>\n<style>\n%s</style>\n<script>\n%s</script>\n</head>\n<body>\n", page_css,
          page_js);
  fputs("<h1>rpctrace: ", out);
  rtt_html_escape(out, source);
  size_t traces = rtt_model_trace_count(m), spans = rtt_model_span_count(m);
  fprintf(out,
          "</h1>\n<div class=\"meta\">%zu trace%s, %zu span%s. Click a span for its details. "
          "<button type=\"button\" onclick=\"rpctraceAll(true)\">Expand all</button>"
          "<button type=\"button\" onclick=\"rpctraceAll(false)\">Collapse all</button></div>\n",
          traces, traces == 1 ? "" : "s", spans, spans == 1 ? "" : "s");
  for (size_t i = 0; i < traces; i++) put_trace(out, rtt_model_trace(m, i));
  fputs("</body>\n</html>\n", out);
}
