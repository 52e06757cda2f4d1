/*
 * `rpctrace run`: the zero-code route, like opentelemetry-instrument. Sets
 * the OTEL_* variables asked for, puts librpctrace_preload.so first in
 * LD_PRELOAD and replaces itself with the program, which then traces its
 * gRPC calls without a rebuild (see README.md, "Tracing a gRPC core
 * program").
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define PRELOAD_NAME "librpctrace_preload.so"

#ifndef RTT_INSTALL_LIBDIR
#define RTT_INSTALL_LIBDIR "lib"
#endif
#ifndef RTT_LIBRARY_ARCH
#define RTT_LIBRARY_ARCH ""
#endif

const char rtt_help_run[] =
    "Usage: rpctrace run [options] -- PROGRAM [ARGS...]\n"
    "\n"
    "Run PROGRAM with rpctrace preloaded: every gRPC call it makes through a\n"
    "dynamically linked libgrpc (C, the C++ client API, Ruby, PHP) is traced,\n"
    "without rebuilding it. The options set the standard variables; options\n"
    "not given leave the environment as it is.\n"
    "\n"
    "Options:\n"
    "  --service NAME     OTEL_SERVICE_NAME=NAME\n"
    "  --exporter KIND    OTEL_TRACES_EXPORTER=KIND: otlp, otlp_file, console, none\n"
    "  --endpoint URL     OTEL_EXPORTER_OTLP_ENDPOINT=URL (e.g. http://localhost:4317)\n"
    "  --file PATH        RPCTRACE_OTLP_FILE_PATH=PATH (made absolute), and\n"
    "                     OTEL_TRACES_EXPORTER=otlp_file unless --exporter is given\n"
    "  --preload PATH     the preload library to use\n"
    "  -h, --help         show this help\n"
    "\n"
    "The preload library is, in this order: --preload, $RPCTRACE_PRELOAD,\n"
    "../" PRELOAD_NAME
    " next to the rpctrace executable (a build tree),\n"
    "then <prefix>/lib*/" PRELOAD_NAME
    " of the installation rpctrace runs from.\n"
    "It is put first in LD_PRELOAD, ahead of what is there already.\n"
    "\n"
    "Exit status: the program's; 126 when it cannot be executed, 127 when it\n"
    "is not found; 1 when the preload library is not found; 2 usage error.\n"
    "\n"
    "Example:\n"
    "  rpctrace run --service users --exporter console -- ./users-server --port 50051\n";

/* ---- finding the preload library ---- */

/* A list of paths looked at, for the error message. */
typedef struct tried {
  char paths[8][PATH_MAX];
  size_t n;
} tried;

static bool is_file(const char *path) { return access(path, R_OK) == 0; }

/* Copy `src` into dst[PATH_MAX]; false when it does not fit. */
static bool copy_path(char *dst, const char *src) {
  size_t n = strlen(src);
  if (n >= PATH_MAX) return false;
  memcpy(dst, src, n + 1);
  return true;
}

/* dir/rel into dst[PATH_MAX]; false when it does not fit. */
static bool join_path(char *dst, const char *dir, const char *rel) {
  int n = snprintf(dst, PATH_MAX, "%s/%s", dir, rel);
  return n > 0 && n < PATH_MAX;
}

/* Try dir/rel; on success *out (PATH_MAX) is its absolute path. */
static bool try_candidate(tried *t, const char *dir, const char *rel, char *out) {
  char path[PATH_MAX];
  if (!join_path(path, dir, rel)) return false;
  char resolved[PATH_MAX];
  const char *shown = realpath(path, resolved) ? resolved : path;
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->paths[i], shown) == 0) return false; /* already tried */
  if (t->n < sizeof t->paths / sizeof t->paths[0]) copy_path(t->paths[t->n++], shown);
  return is_file(shown) && copy_path(out, shown);
}

/* An absolute path for `path` in out[PATH_MAX] (`path` itself when the
 * current directory is unknown); false when it does not fit. */
static bool absolute(const char *path, char *out) {
  if (realpath(path, out)) return true;
  char cwd[PATH_MAX];
  if (path[0] != '/' && getcwd(cwd, sizeof cwd)) return join_path(out, cwd, path);
  return copy_path(out, path);
}

/* The preload library: 0 and its absolute path in `out`, or 1 with the
 * error reported. */
static int find_preload(const char *option, char *out) {
  if (option) {
    if (!is_file(option)) {
      fprintf(stderr, "rpctrace run: --preload %s: %s\n", option, strerror(errno));
      return RTT_EXIT_FAIL;
    }
    if (!absolute(option, out)) {
      fprintf(stderr, "rpctrace run: --preload %s: path too long\n", option);
      return RTT_EXIT_FAIL;
    }
    return 0;
  }
  const char *env = getenv("RPCTRACE_PRELOAD");
  if (env && *env) {
    if (!is_file(env)) {
      fprintf(stderr, "rpctrace run: RPCTRACE_PRELOAD=%s: %s\n", env, strerror(errno));
      return RTT_EXIT_FAIL;
    }
    if (!absolute(env, out)) {
      fprintf(stderr, "rpctrace run: RPCTRACE_PRELOAD=%s: path too long\n", env);
      return RTT_EXIT_FAIL;
    }
    return 0;
  }
  tried t = {.n = 0};
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    /* exe is canonical: its directory's parent is the build tree (with
     * tools/rpctrace) or the installation prefix (with bin/rpctrace). */
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
      char *slash = strrchr(exe, '/');
      if (slash) *slash = '\0';
    }
    const char *top = exe;
    if (try_candidate(&t, top, PRELOAD_NAME, out)) return 0;
    if (try_candidate(&t, top, RTT_INSTALL_LIBDIR "/" PRELOAD_NAME, out)) return 0;
    if (try_candidate(&t, top, "lib/" PRELOAD_NAME, out)) return 0;
    if (RTT_LIBRARY_ARCH[0] &&
        try_candidate(&t, top, "lib/" RTT_LIBRARY_ARCH "/" PRELOAD_NAME, out))
      return 0;
    if (try_candidate(&t, top, "lib64/" PRELOAD_NAME, out)) return 0;
  }
  fprintf(stderr, "rpctrace run: cannot find " PRELOAD_NAME "; looked in:\n");
  for (size_t i = 0; i < t.n; i++) fprintf(stderr, "  %s\n", t.paths[i]);
  if (n <= 0) fprintf(stderr, "  (the rpctrace executable's place is unknown)\n");
  fprintf(stderr, "Give it with --preload PATH or RPCTRACE_PRELOAD=PATH.\n");
  return RTT_EXIT_FAIL;
}

/* LD_PRELOAD with `lib` first (once). */
static int prepend_preload(const char *lib) {
  const char *old = getenv("LD_PRELOAD");
  if (!old || !*old) return setenv("LD_PRELOAD", lib, 1);
  /* Already listed (a nested `rpctrace run`): leave the list alone. The
   * loader accepts ':' and ' ' as separators. */
  size_t len = strlen(lib);
  for (const char *p = old; *p;) {
    size_t n = strcspn(p, ": ");
    if (n == len && strncmp(p, lib, len) == 0) return 0;
    p += n;
    if (*p) p++;
  }
  size_t total = len + 1 + strlen(old) + 1;
  char *list = malloc(total);
  if (!list) return -1;
  snprintf(list, total, "%s:%s", lib, old);
  int r = setenv("LD_PRELOAD", list, 1);
  free(list);
  return r;
}

static bool valid_exporter(const char *s) {
  static const char *const kinds[] = {"otlp", "otlp_file", "console", "none"};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(s, kinds[i]) == 0) return true;
  return false;
}

int rtt_cmd_run(int argc, char **argv) {
  enum { O_SERVICE = 1000, O_EXPORTER, O_ENDPOINT, O_FILE, O_PRELOAD };
  static const struct option options[] = {
      {"service", required_argument, NULL, O_SERVICE},
      {"exporter", required_argument, NULL, O_EXPORTER},
      {"endpoint", required_argument, NULL, O_ENDPOINT},
      {"file", required_argument, NULL, O_FILE},
      {"preload", required_argument, NULL, O_PRELOAD},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *service = NULL, *exporter = NULL, *endpoint = NULL, *file = NULL, *preload = NULL;
  opterr = 0;
  optind = 1;
  int c;
  /* '+': stop at the program's name, so its own options stay its own. */
  while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
    switch (c) {
      case O_SERVICE: service = optarg; break;
      case O_EXPORTER: exporter = optarg; break;
      case O_ENDPOINT: endpoint = optarg; break;
      case O_FILE: file = optarg; break;
      case O_PRELOAD: preload = optarg; break;
      case 'h': fputs(rtt_help_run, stdout); return RTT_EXIT_OK;
      default: return rtt_option_error("run", c, argv);
    }
  }
  if (optind >= argc)
    return rtt_usage_error("run", "no program given (rpctrace run [options] -- PROGRAM [ARGS...])");
  if (exporter && !valid_exporter(exporter))
    return rtt_usage_error("run", "--exporter %s: not one of otlp, otlp_file, console, none",
                           exporter);
  if (service && !*service) return rtt_usage_error("run", "--service needs a non-empty name");

  char lib[PATH_MAX];
  int r = find_preload(preload, lib);
  if (r != 0) return r;

  bool ok = true;
  if (service) ok &= setenv("OTEL_SERVICE_NAME", service, 1) == 0;
  if (exporter) ok &= setenv("OTEL_TRACES_EXPORTER", exporter, 1) == 0;
  if (endpoint) ok &= setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1) == 0;
  if (file) {
    char path[PATH_MAX];
    if (!absolute(file, path)) return rtt_usage_error("run", "--file %s: path too long", file);
    ok &= setenv("RPCTRACE_OTLP_FILE_PATH", path, 1) == 0;
    if (!exporter) ok &= setenv("OTEL_TRACES_EXPORTER", "otlp_file", 1) == 0;
  }
  ok &= prepend_preload(lib) == 0;
  if (!ok) {
    fprintf(stderr, "rpctrace run: cannot set the environment: %s\n", strerror(errno));
    return RTT_EXIT_FAIL;
  }
  fflush(stdout);
  execvp(argv[optind], argv + optind);
  int err = errno;
  fprintf(stderr, "rpctrace run: cannot run %s: %s\n", argv[optind], strerror(err));
  return err == ENOENT ? 127 : 126;
}
