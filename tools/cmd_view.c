/*
 * `rpctrace view` and `rpctrace html`: read OTLP/JSON lines (model.c) and
 * draw their traces, as text waterfalls (waterfall.c) or as one HTML page
 * (html.c).
 *
 * Bad lines: each is reported on stderr ("rpctrace view: FILE:LINE:
 * invalid JSON (...)") and skipped; the rest is still shown. The exit
 * status is 0 when at least one span was read, whatever else the file
 * held, and 1 when nothing could be shown (missing or unreadable file, no
 * span in it, --trace ID not there): scripts get a failure exactly when
 * there is nothing to look at.
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "html.h"
#include "model.h"
#include "waterfall.h"

const char rtt_help_view[] =
    "Usage: rpctrace view FILE [--trace ID] [--ascii]\n"
    "\n"
    "Show the traces in FILE (OTLP/JSON lines: from the otlp_file exporter,\n"
    "`rpctrace collect`, or the OpenTelemetry Collector's file exporter; '-'\n"
    "reads stdin) as waterfalls: for each trace a header (trace id, span\n"
    "count, services, duration, ERROR when a span failed), then one line per\n"
    "span in tree order: service and span name indented under its parent,\n"
    "kind, duration, and a bar placing the span in the trace's time. Failed\n"
    "spans are marked with their status message; a span whose parent is not\n"
    "in the file is shown at the top level, marked \"(parent not in file)\".\n"
    "\n"
    "Options:\n"
    "  --trace ID   show only the trace with this id\n"
    "  --ascii      ASCII only ('#' bars); the default when the locale is not UTF-8\n"
    "  -h, --help   show this help\n"
    "\n"
    "Colours are used when stdout is a terminal and NO_COLOR is not set.\n"
    "Lines that are not OTLP/JSON are reported on stderr and skipped.\n"
    "\n"
    "Exit status: 0 when spans were shown (even if some lines were bad);\n"
    "1 when the file cannot be read, holds no span, or has no trace ID;\n"
    "2 usage error.\n";

const char rtt_help_html[] =
    "Usage: rpctrace html FILE [-o OUT.html]\n"
    "\n"
    "Write the traces in FILE (OTLP/JSON lines, as for `rpctrace view`) as\n"
    "one self-contained HTML page: a collapsible waterfall per trace, a row\n"
    "per span with its bar; click a span for its ids, kind, times, status,\n"
    "attributes, events, links and resource. The page fetches nothing (inline\n"
    "CSS and script), so it works offline and can be attached anywhere.\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT.html   the page to write (default: stdout)\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 page written; 1 the file cannot be read or holds no\n"
    "span, or the page cannot be written; 2 usage error.\n";

/* Load `path` into a finished model; NULL (reported) when nothing can be
 * shown. */
static rtt_model *load(const char *cmd, const char *path) {
  char prog[32];
  snprintf(prog, sizeof prog, "rpctrace %s", cmd);
  rtt_model *m = NULL;
  if (rtt_model_new(&m) != 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return NULL;
  }
  rtt_load_stats st;
  int r = rtt_model_load_file(m, path, stderr, prog, &st);
  if (r == -1) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
  } else if (r == -2 || rtt_model_finish(m) != 0) {
    fprintf(stderr, "%s: %s: out of memory\n", prog, path);
    r = -2;
  } else if (st.spans == 0) {
    fprintf(stderr, "%s: %s: no spans found\n", prog, path);
    r = -3;
  }
  if (r != 0) {
    rtt_model_del(m);
    return NULL;
  }
  return m;
}

static bool utf8_locale(void) {
  const char *codeset = nl_langinfo(CODESET);
  return codeset && (strcasecmp(codeset, "UTF-8") == 0 || strcasecmp(codeset, "utf8") == 0);
}

int rtt_cmd_view(int argc, char **argv) {
  enum { O_TRACE = 1000, O_ASCII };
  static const struct option options[] = {
      {"trace", required_argument, NULL, O_TRACE},
      {"ascii", no_argument, NULL, O_ASCII},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *trace_id = NULL;
  bool ascii = !utf8_locale();
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
    switch (c) {
      case O_TRACE: trace_id = optarg; break;
      case O_ASCII: ascii = true; break;
      case 'h': fputs(rtt_help_view, stdout); return RTT_EXIT_OK;
      default: return rtt_option_error("view", c, argv);
    }
  }
  if (optind >= argc) return rtt_usage_error("view", "no FILE given");
  if (argc - optind > 1)
    return rtt_usage_error("view", "unexpected argument '%s'", argv[optind + 1]);
  const char *path = argv[optind];

  rtt_model *m = load("view", path);
  if (!m) return RTT_EXIT_FAIL;
  const char *no_color = getenv("NO_COLOR");
  rtt_view_style style = {
      .ascii = ascii,
      .color = isatty(STDOUT_FILENO) && !(no_color && *no_color),
  };
  int rc = RTT_EXIT_OK;
  if (trace_id) {
    const rtt_trace *t = rtt_model_find(m, trace_id);
    if (t) {
      rtt_waterfall_print(stdout, t, &style);
    } else {
      fprintf(stderr, "rpctrace view: %s: no trace %s\n", path, trace_id);
      rc = RTT_EXIT_FAIL;
    }
  } else {
    for (size_t i = 0; i < rtt_model_trace_count(m); i++) {
      if (i) fputc('\n', stdout);
      rtt_waterfall_print(stdout, rtt_model_trace(m, i), &style);
    }
  }
  rtt_model_del(m);
  if (fflush(stdout) != 0 && errno != EPIPE) {
    fprintf(stderr, "rpctrace view: writing the output: %s\n", strerror(errno));
    rc = RTT_EXIT_FAIL;
  }
  return rc;
}

int rtt_cmd_html(int argc, char **argv) {
  static const struct option options[] = {
      {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *out_path = NULL;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
    switch (c) {
      case 'o': out_path = optarg; break;
      case 'h': fputs(rtt_help_html, stdout); return RTT_EXIT_OK;
      default: return rtt_option_error("html", c, argv);
    }
  }
  if (optind >= argc) return rtt_usage_error("html", "no FILE given");
  if (argc - optind > 1)
    return rtt_usage_error("html", "unexpected argument '%s'", argv[optind + 1]);
  const char *path = argv[optind];
  rtt_model *m = load("html", path);
  if (!m) return RTT_EXIT_FAIL;
  bool to_stdout = !out_path || strcmp(out_path, "-") == 0;
  FILE *out = to_stdout ? stdout : fopen(out_path, "w");
  if (!out) {
    fprintf(stderr, "rpctrace html: cannot write %s: %s\n", out_path, strerror(errno));
    rtt_model_del(m);
    return RTT_EXIT_FAIL;
  }
  /* The page is titled by the file's name, not by the path given. */
  const char *slash = strrchr(path, '/');
  rtt_html_write(out, m, slash && slash[1] ? slash + 1 : path);
  rtt_model_del(m);
  bool failed = ferror(out) != 0;
  if (to_stdout)
    failed |= fflush(out) != 0;
  else
    failed |= fclose(out) != 0;
  if (failed) {
    fprintf(stderr, "rpctrace html: writing %s failed: %s\n", to_stdout ? "stdout" : out_path,
            strerror(errno));
    return RTT_EXIT_FAIL;
  }
  return RTT_EXIT_OK;
}
