/*
 * Lifecycle: what happens to tracing when a program shuts it down, exits or
 * forks with spans still open. One program, linked with rpctrace::wrap and
 * the filter test harness, one scenario per run (ctest runs each):
 *
 *   lifecycle end_after_shutdown   spans of the global tracer that end after
 *                                  rpct_shutdown() are dropped and counted;
 *                                  the tracer is still there (issue 9 #1)
 *   lifecycle exit_in_flight       a zero-code program (auto-init at its
 *                                  first RPC) calls exit() with RPCs in
 *                                  flight; they complete after rpctrace's
 *                                  exit handler: dropped and counted, no
 *                                  memory touched after free (issue 9 #1)
 *   lifecycle fork_exit            a child forked after tracing started ends
 *                                  spans and calls exit(): it exits at once,
 *                                  exports nothing, and the parent still
 *                                  exports its own spans once (issue 9 #2)
 *   lifecycle fork_exec_fail       a child whose exec fails calls exit(127):
 *                                  it exits at once (issue 9 #2)
 *   lifecycle init_flush_at_exit   after rpct_init(), a span queued when main
 *                                  returns is exported (issue 9 #7)
 *   lifecycle shutdown_then_exit   rpct_init(), rpct_shutdown(), a span after
 *                                  it, then main returns: the exit handler's
 *                                  second shutdown neither frees twice nor
 *                                  hangs (issue 9 #7)
 *   lifecycle user_tracer_then_exit  rpct_init(own tracer), rpct_shutdown(),
 *                                  rpct_tracer_del(), main returns: the exit
 *                                  handler leaves the deleted tracer alone
 *
 * The exit scenarios run in a child process (this program again, through
 * /proc/self/exe, so that its main really returns) that the scenario waits
 * for at most CHILD_LIMIT_MS, killing it past that: a hang is a failure, not
 * a stuck test. Exported spans go to an OTLP JSON lines file (otlp_file)
 * with a schedule delay far longer than any run, so a span in the file was
 * put there by a flush. Exit status 0 when every check held; each failed
 * check is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "harness.h"
#include "rpctrace/rpctrace.h"

#define CHILD_LIMIT_MS 10000 /* a child still running after this hangs */
/* A forked child must exit this fast: rpctrace's exit handler waited 5 s
 * (its shutdown timeout) and then forever before issue 9 #2. */
#define FORK_EXIT_LIMIT_MS 3000
#define IN_FLIGHT 4         /* exit_in_flight: calls in flight at exit() */
#define IN_FLIGHT_MS 600    /* ... each answered this long after it arrived */
#define LONG_DELAY "600000" /* OTEL_BSP_SCHEDULE_DELAY: never reached */

static const char *self_path = "/proc/self/exe";
static int failures;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "lifecycle: FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fputc('\n', stderr);                                            \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- the span file ---- */

static char span_file[256];

static void use_span_file(const char *scenario) {
  snprintf(span_file, sizeof span_file, "%s/rpct-lifecycle-%s-%ld.jsonl",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", scenario, (long)getpid());
  unlink(span_file);
  setenv("OTEL_TRACES_EXPORTER", "otlp_file", 1);
  setenv("RPCTRACE_OTLP_FILE_PATH", span_file, 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", LONG_DELAY, 1);
  setenv("OTEL_SERVICE_NAME", "lifecycle", 1);
}

/* How many spans named `name` the file holds (0 when there is no file). */
static int spans_named(const char *name) {
  FILE *f = fopen(span_file, "r");
  if (!f) return 0;
  char pattern[256];
  snprintf(pattern, sizeof pattern, "\"name\":\"%s\"", name);
  int n = 0;
  static char line[1 << 20];
  while (fgets(line, sizeof line, f))
    for (const char *p = strstr(line, pattern); p; p = strstr(p + 1, pattern)) n++;
  fclose(f);
  return n;
}

/* ---- child processes ---- */

/* Wait for `pid` at most `limit_ms`; kill it past that. Returns its wait
 * status, or -1 when it had to be killed; *took_ms how long it ran. */
static int wait_bounded(pid_t pid, long long limit_ms, long long *took_ms) {
  long long start = now_ms();
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      *took_ms = now_ms() - start;
      return status;
    }
    if (r < 0 && errno != EINTR) {
      *took_ms = now_ms() - start;
      return -2;
    }
    if (now_ms() - start > limit_ms) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *took_ms = now_ms() - start;
      return -1;
    }
    sleep_ms(2);
  }
}

/* Run this program as `lifecycle <child_mode> <span file>` and check that
 * it exits with 0 within CHILD_LIMIT_MS. */
static void run_child(const char *child_mode) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(self_path, self_path, child_mode, span_file, (char *)NULL);
    _exit(126);
  }
  CHECK(pid > 0, "fork failed");
  if (pid <= 0) return;
  long long took;
  int status = wait_bounded(pid, CHILD_LIMIT_MS, &took);
  CHECK(status != -1, "%s: still running after %d ms: killed", child_mode, CHILD_LIMIT_MS);
  CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "%s: ended with wait status %#x, not exit status 0", child_mode, status);
  printf("lifecycle: %s exited in %lld ms\n", child_mode, took);
}

/* ---- spans through the API ---- */

static rpct_span spans[8]; /* static: an rpct_span is 4 KiB */

static void start_span(int i, const char *name) {
  rpct_span_start(&spans[i], NULL, name, RPCT_SPAN_KIND_INTERNAL, NULL);
  CHECK(rpct_span_is_recording(&spans[i]), "span %s does not record", name);
}

static rpct_tracer_stats stats_of_global(void) {
  rpct_tracer_stats s;
  rpct_tracer_get_stats(rpct_tracer_global(), &s);
  return s;
}

/* started = accepted + dropped, accepted = exported + rejected + failed +
 * queued, once every span has ended. */
static void check_counters_add_up(const rpct_tracer_stats *s) {
  const rpct_processor_stats *p = &s->processor;
  CHECK(s->spans_started == s->spans_ended, "started %llu, ended %llu",
        (unsigned long long)s->spans_started, (unsigned long long)s->spans_ended);
  CHECK(s->spans_started == p->accepted + p->dropped_full + p->dropped_shutdown,
        "started %llu != accepted %llu + dropped %llu + %llu", (unsigned long long)s->spans_started,
        (unsigned long long)p->accepted, (unsigned long long)p->dropped_full,
        (unsigned long long)p->dropped_shutdown);
  CHECK(p->accepted == p->exported + p->rejected + p->failed + p->queued,
        "accepted %llu != exported %llu + rejected %llu + failed %llu + queued %llu",
        (unsigned long long)p->accepted, (unsigned long long)p->exported,
        (unsigned long long)p->rejected, (unsigned long long)p->failed,
        (unsigned long long)p->queued);
}

/* ==== end_after_shutdown (issue 9 #1, through the API) ==== */

static void end_after_shutdown(void) {
  use_span_file("end_after_shutdown");
  CHECK(rpct_init(NULL) == RPCT_OK, "rpct_init");
  rpct_tracer *t = rpct_tracer_global();
  start_span(0, "lifecycle/before");
  start_span(1, "lifecycle/open1");
  start_span(2, "lifecycle/open2");
  rpct_span_end(&spans[0], 0);
  rpct_shutdown(5000);
  /* What a call in flight does when its status arrives: status, then end,
   * both through the span's tracer pointer. */
  rpct_span_set_status(&spans[1], RPCT_STATUS_ERROR, "late");
  rpct_span_set_int(&spans[1], "late", 1);
  rpct_span_end(&spans[1], 0);
  rpct_span_end(&spans[2], 0);
  CHECK(rpct_tracer_global() == t, "the global tracer changed or was freed by rpct_shutdown");
  rpct_tracer_stats s = stats_of_global();
  CHECK(s.spans_started == 3 && s.spans_ended == 3, "started %llu ended %llu, want 3 and 3",
        (unsigned long long)s.spans_started, (unsigned long long)s.spans_ended);
  CHECK(s.processor.accepted == 1 && s.processor.exported == 1,
        "accepted %llu exported %llu, want 1 and 1", (unsigned long long)s.processor.accepted,
        (unsigned long long)s.processor.exported);
  CHECK(s.processor.dropped_shutdown == 2, "dropped_shutdown %llu, want 2",
        (unsigned long long)s.processor.dropped_shutdown);
  check_counters_add_up(&s);
  /* A span started after the shutdown is dropped the same way. */
  start_span(3, "lifecycle/after");
  rpct_span_end(&spans[3], 0);
  s = stats_of_global();
  CHECK(s.processor.dropped_shutdown == 3, "dropped_shutdown %llu, want 3",
        (unsigned long long)s.processor.dropped_shutdown);
  rpct_shutdown(5000); /* again: nothing happens */
  CHECK(spans_named("lifecycle/before") == 1, "the span ended before shutdown was not exported");
  CHECK(spans_named("lifecycle/open1") == 0 && spans_named("lifecycle/after") == 0,
        "a span ended after shutdown was exported");
  unlink(span_file);
}

/* ==== exit_in_flight (issue 9 #1, zero-code, real RPCs) ==== */

static th_server *server;
static grpc_channel *channel;
static pthread_t callers[IN_FLIGHT];
static th_result results[IN_FLIGHT];
static long long exit_called_ms;

static void *call_slowly(void *arg) {
  th_result *out = arg;
  char request[64];
  snprintf(request, sizeof request, "sleep_ms=%d", IN_FLIGHT_MS);
  th_call_opts o = {.deadline_ms = 20000};
  th_unary(channel, "/test.Echo/Unary", request, &o, out);
  return NULL;
}

/* Registered before the first RPC, so it runs after rpctrace's exit handler
 * (atexit handlers run last registered first): by then the tracer is shut
 * down, and the calls in flight end now. */
static void after_rpctrace_exit_handler(void) {
  long long until = now_ms() + CHILD_LIMIT_MS / 2;
  for (int i = 0; i < IN_FLIGHT; i++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (until - now_ms()) / 1000 + 1;
    CHECK(pthread_timedjoin_np(callers[i], NULL, &ts) == 0, "caller %d did not finish", i);
    CHECK(results[i].status == GRPC_STATUS_OK, "call %d ended with status %d", i,
          (int)results[i].status);
  }
  CHECK(th_server_wait_idle(server, CHILD_LIMIT_MS / 2), "the server still has calls");
  rpct_tracer *t = rpct_tracer_global();
  CHECK(t != NULL, "no global tracer after rpctrace's exit handler");
  if (t) {
    rpct_tracer_stats s = stats_of_global();
    /* The first call's two spans were flushed at exit; those of the calls
     * in flight, a client and a server span each, were dropped. */
    CHECK(s.processor.exported == 2, "exported %llu, want 2",
          (unsigned long long)s.processor.exported);
    CHECK(s.processor.dropped_shutdown == 2 * IN_FLIGHT, "dropped_shutdown %llu, want %d",
          (unsigned long long)s.processor.dropped_shutdown, 2 * IN_FLIGHT);
    check_counters_add_up(&s);
  }
  CHECK(spans_named("test.Echo/Unary") == 2, "the file holds %d call spans, want 2",
        spans_named("test.Echo/Unary"));
  unlink(span_file);
  th_server_shutdown(server); /* joins its threads, for ThreadSanitizer */
  if (!failures)
    printf("lifecycle: exit_in_flight: ok (%d calls ended %lld ms after exit() began)\n", IN_FLIGHT,
           now_ms() - exit_called_ms);
  fflush(NULL);
  /* The harness's server and channel are still running: leave without the
   * rest of exit (and without leak reports about them). */
  _exit(failures ? 1 : 0);
}

static void exit_in_flight(void) {
  use_span_file("exit_in_flight");
  atexit(after_rpctrace_exit_handler);
  th_server_options so = {.threads = 2, .requests = IN_FLIGHT + 2};
  if (th_server_start(&server, &so) != 0) {
    fprintf(stderr, "lifecycle: cannot start the server\n");
    _exit(2);
  }
  channel = th_channel(th_server_port(server));
  th_result first;
  th_call_opts o = {0};
  CHECK(
      th_unary(channel, "/test.Echo/Unary", "x", &o, &first) == 0 && first.status == GRPC_STATUS_OK,
      "the first call failed");
  for (int i = 0; i < IN_FLIGHT; i++) pthread_create(&callers[i], NULL, call_slowly, &results[i]);
  long long until = now_ms() + CHILD_LIMIT_MS;
  while (th_server_served_count(server) < 1 + IN_FLIGHT && now_ms() < until) sleep_ms(2);
  CHECK(th_server_served_count(server) == 1 + IN_FLIGHT, "the calls did not reach the server");
  exit_called_ms = now_ms();
  exit(0); /* with IN_FLIGHT calls in flight */
}

/* ==== fork_exit and fork_exec_fail (issue 9 #2) ==== */

/* Tracing started (the export thread runs and waits), a span queued, one
 * open; then fork. The child ends the open span and a new one and calls
 * exit() (or fails an exec and calls exit(127)). */
static void fork_scenario(bool exec_fail) {
  use_span_file(exec_fail ? "fork_exec_fail" : "fork_exit");
  CHECK(rpct_init(NULL) == RPCT_OK, "rpct_init");
  start_span(0, "lifecycle/parent-flushed");
  rpct_span_end(&spans[0], 0);
  CHECK(rpct_tracer_force_flush(rpct_tracer_global(), 5000) == RPCT_OK, "flush");
  start_span(1, "lifecycle/parent-queued");
  rpct_span_end(&spans[1], 0); /* queued at fork */
  start_span(2, "lifecycle/open-at-fork");
  fflush(NULL);

  pid_t pid = fork();
  if (pid == 0) {
    rpct_span_end(&spans[2], 0);
    start_span(3, "lifecycle/child");
    rpct_span_end(&spans[3], 0);
    rpct_tracer_stats s = stats_of_global();
    /* Inherited counters: 2 accepted by the parent (1 exported, 1 queued),
     * then the child's 2 dropped. */
    bool ok = s.processor.dropped_shutdown == 2 && s.processor.accepted == 2 &&
              s.processor.exported == 1 && s.processor.queued == 1;
    if (!ok)
      fprintf(stderr,
              "lifecycle: FAIL child stats: accepted %llu exported %llu queued %llu "
              "dropped_shutdown %llu\n",
              (unsigned long long)s.processor.accepted, (unsigned long long)s.processor.exported,
              (unsigned long long)s.processor.queued,
              (unsigned long long)s.processor.dropped_shutdown);
    if (exec_fail) {
      execl("/nonexistent/rpctrace-lifecycle-no-such-program", "x", (char *)NULL);
      exit(ok ? 127 : 3); /* what a shell or posix helper does when exec fails */
    }
    exit(ok ? 0 : 3);
  }
  CHECK(pid > 0, "fork failed");
  long long took;
  int status = wait_bounded(pid, CHILD_LIMIT_MS, &took);
  CHECK(status != -1, "the child still ran after %d ms: killed", CHILD_LIMIT_MS);
  int want = exec_fail ? 127 : 0;
  CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == want,
        "the child ended with wait status %#x, not exit status %d", status, want);
  CHECK(took < FORK_EXIT_LIMIT_MS, "the child took %lld ms to exit (limit %d)", took,
        FORK_EXIT_LIMIT_MS);
  printf("lifecycle: forked child %s in %lld ms\n",
         exec_fail ? "failed exec and exited 127" : "exited", took);

  /* The child exported nothing: not the parent's queued span (a second
   * copy), not its own. The parent's export goes on. */
  CHECK(spans_named("lifecycle/parent-queued") == 0, "the child exported the parent's queue");
  CHECK(spans_named("lifecycle/child") == 0, "the child exported its span");
  rpct_span_end(&spans[2], 0);
  CHECK(rpct_tracer_force_flush(rpct_tracer_global(), 5000) == RPCT_OK, "flush after fork");
  CHECK(spans_named("lifecycle/parent-flushed") == 1 &&
            spans_named("lifecycle/parent-queued") == 1 &&
            spans_named("lifecycle/open-at-fork") == 1,
        "the parent's spans are not each in the file once");
  rpct_tracer_stats s = stats_of_global();
  CHECK(s.processor.exported == 3 && s.processor.dropped_shutdown == 0,
        "parent: exported %llu dropped_shutdown %llu, want 3 and 0",
        (unsigned long long)s.processor.exported, (unsigned long long)s.processor.dropped_shutdown);
  check_counters_add_up(&s);
  rpct_shutdown(5000);
  unlink(span_file);
}

/* ==== exit scenarios, run in a child whose main returns ==== */

/* init_flush_at_exit's child: a span queued, then main returns. */
static int child_init_then_return(void) {
  if (rpct_init(NULL) != RPCT_OK) return 2;
  start_span(0, "lifecycle/queued-at-exit");
  rpct_span_end(&spans[0], 0);
  return failures ? 1 : 0;
}

static void init_flush_at_exit(void) {
  use_span_file("init_flush_at_exit");
  run_child("child_init_then_return");
  CHECK(spans_named("lifecycle/queued-at-exit") == 1,
        "the span queued when main returned is not in the file (%d)",
        spans_named("lifecycle/queued-at-exit"));
  unlink(span_file);
}

/* shutdown_then_exit's child. */
static int child_shutdown_then_return(void) {
  if (rpct_init(NULL) != RPCT_OK) return 2;
  start_span(0, "lifecycle/before-shutdown");
  rpct_span_end(&spans[0], 0);
  rpct_shutdown(5000);
  start_span(1, "lifecycle/after-shutdown");
  rpct_span_end(&spans[1], 0);
  rpct_tracer_stats s = stats_of_global();
  CHECK(s.processor.exported == 1 && s.processor.dropped_shutdown == 1,
        "exported %llu dropped_shutdown %llu, want 1 and 1",
        (unsigned long long)s.processor.exported, (unsigned long long)s.processor.dropped_shutdown);
  return failures ? 1 : 0; /* the exit handler shuts down a second time */
}

static void shutdown_then_exit(void) {
  use_span_file("shutdown_then_exit");
  run_child("child_shutdown_then_return");
  CHECK(spans_named("lifecycle/before-shutdown") == 1, "the span before shutdown is missing");
  CHECK(spans_named("lifecycle/after-shutdown") == 0, "the span after shutdown was exported");
  unlink(span_file);
}

/* user_tracer_then_exit's child. */
static int child_user_tracer_then_return(void) {
  rpct_tracer *t = NULL;
  if (rpct_tracer_new(&t, NULL) != RPCT_OK || rpct_init(t) != RPCT_OK) return 2;
  start_span(0, "lifecycle/user-tracer");
  rpct_span_end(&spans[0], 0);
  rpct_shutdown(5000);
  rpct_tracer_del(t);
  CHECK(rpct_tracer_global() == NULL, "the deleted tracer is still the global one");
  return failures ? 1 : 0; /* the exit handler finds no tracer */
}

static void user_tracer_then_exit(void) {
  use_span_file("user_tracer_then_exit");
  run_child("child_user_tracer_then_return");
  CHECK(spans_named("lifecycle/user-tracer") == 1, "the span is missing");
  unlink(span_file);
}

int main(int argc, char **argv) {
  if (argc == 3) {
    /* A child of an exit scenario: the span file is the parent's. */
    snprintf(span_file, sizeof span_file, "%s", argv[2]);
    if (strcmp(argv[1], "child_init_then_return") == 0) return child_init_then_return();
    if (strcmp(argv[1], "child_shutdown_then_return") == 0) return child_shutdown_then_return();
    if (strcmp(argv[1], "child_user_tracer_then_return") == 0)
      return child_user_tracer_then_return();
  }
  if (argc != 2) {
    fprintf(stderr, "usage: %s SCENARIO (see the top of lifecycle.c)\n", argv[0]);
    return 2;
  }
  const char *m = argv[1];
  if (strcmp(m, "end_after_shutdown") == 0)
    end_after_shutdown();
  else if (strcmp(m, "exit_in_flight") == 0)
    exit_in_flight();
  else if (strcmp(m, "fork_exit") == 0)
    fork_scenario(false);
  else if (strcmp(m, "fork_exec_fail") == 0)
    fork_scenario(true);
  else if (strcmp(m, "init_flush_at_exit") == 0)
    init_flush_at_exit();
  else if (strcmp(m, "shutdown_then_exit") == 0)
    shutdown_then_exit();
  else if (strcmp(m, "user_tracer_then_exit") == 0)
    user_tracer_then_exit();
  else {
    fprintf(stderr, "lifecycle: unknown scenario %s\n", m);
    return 2;
  }
  if (!failures) printf("lifecycle: %s: ok\n", m);
  fflush(NULL);
  /* Leave now: exit handlers would shut the tracer down a second time and
   * the scenarios checked what they wanted already. */
  _exit(failures ? 1 : 0);
}
