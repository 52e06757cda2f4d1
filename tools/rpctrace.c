/*
 * rpctrace — the command line: run a program traced, receive spans, look
 * at traces. This file only dispatches to the sub-commands (cmd_*.c).
 */
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "cli.h"
#include "rpctrace/common.h"

static const char help_main[] =
    "Usage: rpctrace <command> [options] [arguments]\n"
    "\n"
    "Distributed tracing for gRPC core programs: run them traced, receive\n"
    "their spans, look at the traces.\n"
    "\n"
    "Commands:\n"
    "  run      run a program with rpctrace preloaded (no code change, no rebuild)\n"
    "  collect  receive spans over OTLP/gRPC and append them to a JSON lines file\n"
    "  view     show the traces of a JSON lines file as waterfalls\n"
    "  html     write the traces of a JSON lines file as a self-contained HTML page\n"
    "  help     show the help of a command\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help\n"
    "  -V, --version  show the version\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error; `run` exits with the\n"
    "program's own status.\n"
    "\n"
    "Example:\n"
    "  rpctrace collect --out traces.jsonl &\n"
    "  rpctrace run --service checkout -- ./checkout-server\n"
    "  rpctrace view traces.jsonl\n"
    "\n"
    "Run 'rpctrace help <command>' for a command's options.\n";

int rtt_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "rpctrace%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'rpctrace %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
  return RTT_EXIT_USAGE;
}

int rtt_option_error(const char *cmd, int c, char **argv) {
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  if (c == ':') return rtt_usage_error(cmd, "option '%s' needs a value", arg);
  if (optopt && optopt != '?') return rtt_usage_error(cmd, "unknown option '-%c'", optopt);
  return rtt_usage_error(cmd, "unknown option '%s'", arg);
}

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
    {"run", rtt_cmd_run, rtt_help_run},
    {"collect", rtt_cmd_collect, rtt_help_collect},
    {"view", rtt_cmd_view, rtt_help_view},
    {"html", rtt_cmd_html, rtt_help_html},
};

static const command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static void print_version(void) {
  printf("rpctrace %s (gRPC core %s, protobuf-c %s)\n", RPCT_VERSION_STRING, grpc_version_string(),
         protobuf_c_version());
}

int main(int argc, char **argv) {
  /* Character classes only (is the terminal UTF-8?). LC_NUMERIC stays "C":
   * the JSON reader and writer convert numbers with strtod/printf. */
  setlocale(LC_CTYPE, "");
  if (argc < 2) {
    fputs(help_main, stderr);
    return RTT_EXIT_USAGE;
  }
  const char *first = argv[1];
  if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
    fputs(help_main, stdout);
    return RTT_EXIT_OK;
  }
  if (strcmp(first, "-V") == 0 || strcmp(first, "--version") == 0) {
    print_version();
    return RTT_EXIT_OK;
  }
  if (strcmp(first, "help") == 0) {
    if (argc < 3) {
      fputs(help_main, stdout);
      return RTT_EXIT_OK;
    }
    const command *c = find_command(argv[2]);
    if (!c) return rtt_usage_error(NULL, "unknown command '%s'", argv[2]);
    fputs(c->help, stdout);
    return RTT_EXIT_OK;
  }
  if (first[0] == '-') return rtt_usage_error(NULL, "unknown option '%s'", first);
  const command *c = find_command(first);
  if (!c) return rtt_usage_error(NULL, "unknown command '%s'", first);
  return c->run(argc - 1, argv + 1);
}
