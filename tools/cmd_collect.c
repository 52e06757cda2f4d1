/*
 * `rpctrace collect`: a local OTLP/gRPC trace receiver on gRPC core. Each
 * Export request is checked and converted from its protobuf bytes as they
 * lie (otlp_wire_json.h) into one OTLP/JSON line (the encoding of our
 * otlp_file exporter) appended to the output file, and answered with an
 * empty ExportTraceServiceResponse.
 *
 * Threads. The main thread owns the completion queue, so gRPC's I/O, and
 * never waits on anything else: it serves up to SLOTS calls at a time,
 * each slot a small state machine (requested -> receiving -> converting
 * -> sending -> requested again) whose tag is the slot itself, and hands
 * each received request to WORKERS threads that convert it, write its
 * line and start the answer. So a large request delays no other: calls
 * are accepted, refused and answered meanwhile, and up to WORKERS
 * requests are converted at once.
 *
 * Memory, per request being converted: its bytes, twice while our copy
 * is made from gRPC's and once after, and a line buffer of LINE_BUDGET:
 * 4 times the request plus 128 KiB. About 6 times the request in all: a
 * 16 MiB request of empty spans peaks at 111 MB of RSS, 12 of them idle.
 *
 * Lines. One that fits its buffer is written with one write(2) under the
 * output lock. A longer one (only requests of nearly empty spans grow that
 * much: 2 bytes on the wire, 100 in JSON) goes, as it is made, to an
 * unlinked temporary file next to the output, and is copied to the output
 * under the lock once whole: other requests' lines wait only for that
 * copy, and lines never interleave. When no temporary file can be made
 * there, the line is written to the output as it is made, the lock held
 * throughout.
 *
 * Requests over --max-request-mib are refused by gRPC with
 * RESOURCE_EXHAUSTED, after it has read them: gRPC core 1.51 checks the
 * size of a whole message, so a larger one still costs its size once.
 *
 * Stopping (SIGINT, SIGTERM, --for): the server is shut down, which lets
 * the calls in progress finish and refuses new ones; a second signal, or
 * GRACE_MS without the calls finishing, cancels them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "cli.h"
#include "otlp_wire_json.h"

#define DEFAULT_LISTEN "127.0.0.1:4317"
#define EXPORT_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define SLOTS 8
#define WORKERS 4
#define POLL_MS 100
#define GRACE_MS 5000
#define DEFAULT_MAX_REQUEST_MIB 16
#define MAX_REQUEST_MIB_LIMIT 2047 /* gRPC takes the size as an int */
/* The line buffer of a request of n bytes (see the header comment). */
#define LINE_BUDGET(n) (4 * (size_t)(n) + (size_t)64 * 1024)

/* The help text spells out DEFAULT_MAX_REQUEST_MIB, MAX_REQUEST_MIB_LIMIT
 * and WORKERS. */
const char rtt_help_collect[] =
    "Usage: rpctrace collect [--listen ADDR] --out FILE [--for SECONDS]\n"
    "                        [--max-request-mib N]\n"
    "\n"
    "Receive spans over OTLP/gRPC (plaintext) and append each Export request\n"
    "to FILE as one line of OTLP/JSON, the format of the otlp_file exporter\n"
    "and of the OpenTelemetry Collector's file exporter: `rpctrace view FILE`\n"
    "shows them.\n"
    "\n"
    "Options:\n"
    "  --listen ADDR    HOST:PORT to listen on (default " DEFAULT_LISTEN
    ");\n"
    "                   port 0 picks a free port; no host means 127.0.0.1\n"
    "  --out FILE       file to append to (created if missing)\n"
    "  --for SECONDS    stop after this long (default: until SIGINT/SIGTERM)\n"
    "  --max-request-mib N\n"
    "                   refuse requests larger than N MiB (default 16, at\n"
    "                   most 2047)\n"
    "  -h, --help       show this help\n"
    "\n"
    "Once listening it prints 'rpctrace collect: listening on HOST:PORT' on\n"
    "stdout. SIGINT or SIGTERM stops it after the requests in progress are\n"
    "answered (a second signal cancels them). Requests are converted 4 at a\n"
    "time, each in memory of at most about 6 times its size. One over\n"
    "--max-request-mib is answered RESOURCE_EXHAUSTED (with no RetryInfo: not\n"
    "to be retried), one that does not decode INVALID_ARGUMENT, both reported\n"
    "on stderr; a line that cannot be written, UNAVAILABLE (the exporter\n"
    "retries). gRPC's own log lines are shown only when GRPC_VERBOSITY is set.\n"
    "\n"
    "Exit status: 0 stopped normally, 1 cannot open FILE or listen, 2 usage.\n"
    "\n"
    "Example:\n"
    "  rpctrace collect --listen 127.0.0.1:4317 --out traces.jsonl\n";

/* Set by the signal handler, read by the serving loop: lock-free atomics
 * are what a handler may touch. */
static atomic_int signals_seen;

static void on_signal(int sig) {
  (void)sig;
  atomic_fetch_add(&signals_seen, 1);
}

typedef enum slot_state {
  S_IDLE,
  S_REQUESTED,
  S_RECEIVING,
  S_CONVERTING, /* queued for a worker, or with one */
  S_SENDING
} slot_state;

/* A slot belongs to one thread at a time: the main thread while it waits
 * for gRPC, a worker while converting. */
typedef struct slot {
  slot_state state;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array request_md;
  grpc_byte_buffer *request;
  grpc_byte_buffer *response;
  grpc_slice status_details;
  int cancelled;
  /* Bumped (release) before the slot goes to gRPC, read (acquire) when its
   * event comes back. gRPC core is not built with ThreadSanitizer, so
   * TSan cannot see that the completion queue orders a worker's writes to
   * the slot before the main thread's reads; this pair says so. */
  atomic_uint handoff;
} slot;

typedef struct collector {
  grpc_server *server;
  grpc_completion_queue *cq;
  const char *path; /* for messages */
  slot slots[SLOTS];
  atomic_int busy;      /* slots not idle */
  atomic_bool stopping; /* written by the main thread only */
  size_t max_request;

  /* Received requests waiting for a worker: a ring of slots. */
  pthread_mutex_t work_mu;
  pthread_cond_t work_cv;
  slot *queue[SLOTS];
  size_t queue_head, queue_len; /* under work_mu */
  bool quit;                    /* under work_mu: workers exit when the queue is empty */
  pthread_t workers[WORKERS];
  size_t n_workers;

  /* The output file (O_APPEND): a line is written whole under out_mu. */
  pthread_mutex_t out_mu;
  int fd;
  bool write_error_reported; /* under out_mu */
  char spill_dir[PATH_MAX];  /* the output's directory, for long lines */

  atomic_ulong requests, spans, rejected;
} collector;

static char shutdown_tag; /* its address is the server-shutdown tag */

/* gRPC's own log lines (e.g. the bind error behind "address in use")
 * repeat what this command reports in one line; they are shown only when
 * GRPC_VERBOSITY asks for them. */
static void quiet_log(gpr_log_func_args *args) { (void)args; }

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- slots ---- */

static void to_grpc(slot *s) { atomic_fetch_add_explicit(&s->handoff, 1, memory_order_release); }

static void slot_release(collector *c, slot *s) {
  if (s->state == S_IDLE) return;
  if (s->call) grpc_call_unref(s->call);
  grpc_call_details_destroy(&s->details);
  grpc_metadata_array_destroy(&s->request_md);
  if (s->request) grpc_byte_buffer_destroy(s->request);
  if (s->response) grpc_byte_buffer_destroy(s->response);
  grpc_slice_unref(s->status_details);
  s->state = S_IDLE;
  s->call = NULL;
  s->request = NULL;
  s->response = NULL;
  s->cancelled = 0;
  atomic_fetch_sub(&c->busy, 1);
}

/* Ask the server for the next call into `s`, unless stopping. */
static void slot_request(collector *c, slot *s) {
  slot_release(c, s);
  if (atomic_load(&c->stopping)) return;
  grpc_call_details_init(&s->details);
  grpc_metadata_array_init(&s->request_md);
  s->status_details = grpc_empty_slice();
  s->state = S_REQUESTED;
  atomic_fetch_add(&c->busy, 1);
  to_grpc(s);
  if (grpc_server_request_call(c->server, &s->call, &s->details, &s->request_md, c->cq, c->cq, s) !=
      GRPC_CALL_OK)
    slot_release(c, s);
}

/* Start the one-op batch or answer below. The slot is gRPC's, then the
 * main thread's, from to_grpc on: nothing of it is read or written after
 * (but on failure, when no event will come). */
static bool slot_start(slot *s, slot_state next, const grpc_op *ops, size_t n) {
  slot_state was = s->state;
  grpc_call *call = s->call;
  s->state = next;
  to_grpc(s);
  if (grpc_call_start_batch(call, ops, n, s, NULL) == GRPC_CALL_OK) return true;
  s->state = was;
  return false;
}

static bool slot_start_recv(slot *s) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &s->request;
  return slot_start(s, S_RECEIVING, &op, 1);
}

/* Answer with `status` (and an empty response message when OK). */
static bool slot_answer(slot *s, grpc_status_code status, const char *message) {
  if (status == GRPC_STATUS_OK) {
    /* An empty ExportTraceServiceResponse packs to zero bytes. */
    grpc_slice empty = grpc_empty_slice();
    s->response = grpc_raw_byte_buffer_create(&empty, 1);
  }
  grpc_slice_unref(s->status_details);
  s->status_details = grpc_slice_from_copied_string(message);
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (s->response) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = s->response;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = status;
  ops[n++].data.send_status_from_server.status_details = &s->status_details;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &s->cancelled;
  return slot_start(s, S_SENDING, ops, n);
}

/* ---- one request (on a worker) ---- */

static void report_peer(slot *s, const char *what) {
  char *peer = grpc_call_get_peer(s->call);
  fprintf(stderr, "rpctrace collect: request from %s: %s\n", peer ? peer : "?", what);
  gpr_free(peer);
}

/* The line of one request on its way to the file. */
typedef struct line_writer {
  collector *c;
  int spill;               /* the temporary file holding the line so far, or -1 */
  bool tried;              /* a temporary file was tried */
  bool locked;             /* holds c->out_mu: part of the line is written, or about to be */
  bool written;            /* some of it reached the output */
  int error;               /* errno of a failed write */
  const char *failed_path; /* where it failed */
} line_writer;

static bool write_fd(int fd, const char *buf, size_t len, int *error, bool *written) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = n < 0 ? errno : EIO;
      return false;
    }
    off += (size_t)n;
    if (written) *written = true;
  }
  return true;
}

/* Append to the output, taking the lock for the rest of the line. */
static bool write_out(line_writer *w, const char *buf, size_t len) {
  if (!w->locked) {
    pthread_mutex_lock(&w->c->out_mu);
    w->locked = true;
  }
  if (write_fd(w->c->fd, buf, len, &w->error, &w->written)) return true;
  w->failed_path = w->c->path;
  return false;
}

/* An unlinked file in the output's directory (same file system, not
 * /tmp, which may be memory); -1 when none can be made. */
static int spill_open(const collector *c) {
  int fd = open(c->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/.rpctrace-collect-XXXXXX", c->spill_dir);
  fd = mkostemp(path, O_CLOEXEC);
  if (fd >= 0) unlink(path);
  return fd;
}

/* The sink's flush: the line outgrew its budget. */
static bool flush_line(void *ctx, const char *data, size_t len) {
  line_writer *w = ctx;
  if (!w->tried && !w->locked) {
    w->tried = true;
    w->spill = spill_open(w->c);
  }
  if (w->spill < 0) return write_out(w, data, len);
  if (write_fd(w->spill, data, len, &w->error, NULL)) return true;
  w->failed_path = w->c->spill_dir;
  return false;
}

/* The whole line: what went to the temporary file, then `tail`. */
static bool finish_line(line_writer *w, const char *tail, size_t len) {
  if (w->spill >= 0) {
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf || lseek(w->spill, 0, SEEK_SET) != 0) {
      w->error = buf ? errno : ENOMEM;
      w->failed_path = w->c->spill_dir;
      free(buf);
      return false;
    }
    bool ok = true;
    for (;;) {
      ssize_t n = read(w->spill, buf, CHUNK);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        w->error = errno;
        w->failed_path = w->c->spill_dir;
        ok = false;
        break;
      }
      if (n == 0) break;
      if (!write_out(w, buf, (size_t)n)) {
        ok = false;
        break;
      }
    }
    free(buf);
    if (!ok) return false;
  }
  return write_out(w, tail, len);
}

/* Check, convert and write; returns the answer's status and message. */
static grpc_status_code convert_request(collector *c, slot *s, const char **message) {
  *message = "";
  if (!s->request) {
    report_peer(s, "no request message; answered INVALID_ARGUMENT");
    *message = "rpctrace collect: no request message";
    return GRPC_STATUS_INVALID_ARGUMENT;
  }
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, s->request)) {
    report_peer(s, "unreadable request message; answered INVALID_ARGUMENT");
    *message = "rpctrace collect: unreadable request message";
    return GRPC_STATUS_INVALID_ARGUMENT;
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  /* One copy of the request is enough from here on. */
  grpc_byte_buffer_destroy(s->request);
  s->request = NULL;
  const uint8_t *data = GRPC_SLICE_START_PTR(all);
  size_t len = GRPC_SLICE_LENGTH(all);
  size_t spans = 0;
  rtt_otlp_wire_status st = rtt_otlp_wire_check(data, len, &spans);
  if (st != RTT_OTLP_WIRE_OK) {
    grpc_slice_unref(all);
    char what[160];
    snprintf(what, sizeof what,
             "cannot decode ExportTraceServiceRequest (%zu bytes%s); answered INVALID_ARGUMENT",
             len, st == RTT_OTLP_WIRE_TOO_DEEP ? ", nested too deep" : "");
    report_peer(s, what);
    *message = "rpctrace collect: cannot decode ExportTraceServiceRequest";
    return GRPC_STATUS_INVALID_ARGUMENT;
  }

  line_writer w = {c, -1, false, false, false, 0, NULL};
  rtt_json_sink sink;
  rtt_json_sink_init(&sink, LINE_BUDGET(len), flush_line, &w);
  bool converted = rtt_otlp_wire_to_json(&sink, data, len);
  grpc_slice_unref(all);
  bool oom = sink.buf.oom;
  if (converted) {
    rpct__json_char(&sink.buf, '\n');
    oom = sink.buf.oom;
    converted = !oom && finish_line(&w, sink.buf.buf, sink.buf.len);
  }
  rtt_json_sink_release(&sink);
  if (w.spill >= 0) close(w.spill);
  grpc_status_code status = GRPC_STATUS_OK;
  if (!converted) {
    /* End a partial line so the next one starts on its own line. */
    if (w.written) (void)!write(c->fd, "\n", 1);
    if (oom) {
      report_peer(s, "out of memory writing the request as JSON; answered RESOURCE_EXHAUSTED");
      *message = "rpctrace collect: out of memory";
      status = GRPC_STATUS_RESOURCE_EXHAUSTED;
    } else {
      if (!w.locked) {
        pthread_mutex_lock(&c->out_mu);
        w.locked = true;
      }
      if (!c->write_error_reported) {
        fprintf(stderr, "rpctrace collect: writing to %s failed: %s; answering UNAVAILABLE\n",
                w.failed_path ? w.failed_path : c->path, strerror(w.error));
        c->write_error_reported = true;
      }
      *message = "rpctrace collect: cannot write the file";
      status = GRPC_STATUS_UNAVAILABLE;
    }
  } else {
    c->write_error_reported = false;
    atomic_fetch_add(&c->requests, 1);
    atomic_fetch_add(&c->spans, spans);
  }
  if (w.locked) pthread_mutex_unlock(&c->out_mu);
  return status;
}

static void handle_request(collector *c, slot *s) {
  const char *message;
  grpc_status_code status = convert_request(c, s, &message);
  if (status == GRPC_STATUS_INVALID_ARGUMENT) atomic_fetch_add(&c->rejected, 1);
  if (!slot_answer(s, status, message)) slot_request(c, s);
}

static void *worker_main(void *arg) {
  collector *c = arg;
  pthread_mutex_lock(&c->work_mu);
  for (;;) {
    while (c->queue_len == 0 && !c->quit) pthread_cond_wait(&c->work_cv, &c->work_mu);
    if (c->queue_len == 0) break;
    slot *s = c->queue[c->queue_head];
    c->queue_head = (c->queue_head + 1) % SLOTS;
    c->queue_len--;
    pthread_mutex_unlock(&c->work_mu);
    handle_request(c, s);
    pthread_mutex_lock(&c->work_mu);
  }
  pthread_mutex_unlock(&c->work_mu);
  return NULL;
}

/* Hand a received request to the workers (each slot is queued at most
 * once, so the ring never overflows). */
static void enqueue(collector *c, slot *s) {
  s->state = S_CONVERTING;
  if (c->n_workers == 0) { /* no thread could be started: convert here */
    handle_request(c, s);
    return;
  }
  pthread_mutex_lock(&c->work_mu);
  c->queue[(c->queue_head + c->queue_len) % SLOTS] = s;
  c->queue_len++;
  pthread_cond_signal(&c->work_cv);
  pthread_mutex_unlock(&c->work_mu);
}

/* The event for slot `s` came (success `ok`): move it on. */
static void on_slot_event(collector *c, slot *s, bool ok) {
  (void)atomic_load_explicit(&s->handoff, memory_order_acquire);
  bool next = false;
  switch (s->state) {
    case S_REQUESTED:
      if (!ok) break; /* the server is shutting down */
      if (grpc_slice_str_cmp(s->details.method, EXPORT_METHOD) == 0)
        next = slot_start_recv(s);
      else
        next = slot_answer(s, GRPC_STATUS_UNIMPLEMENTED,
                           "rpctrace collect serves only TraceService/Export");
      break;
    case S_RECEIVING:
      if (!ok) {
        /* gRPC says no more than that the message did not come: the limit
         * (it then answers RESOURCE_EXHAUSTED itself) or a cancel. */
        char what[160];
        snprintf(what, sizeof what,
                 "not received: larger than %zu MiB (answered RESOURCE_EXHAUSTED) or "
                 "cancelled by the client",
                 c->max_request >> 20);
        report_peer(s, what);
        break;
      }
      enqueue(c, s);
      return;
    case S_CONVERTING:
    case S_SENDING:
    case S_IDLE: break;
  }
  if (!next) slot_request(c, s);
}

/* ---- setup ---- */

/* Split ADDR into the address to bind and the host to print. Returns false
 * when it is malformed. */
static bool parse_listen(const char *addr, char *bind_addr, size_t bind_size, char *host,
                         size_t host_size) {
  const char *port = NULL;
  size_t host_len;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close) return false;
    host_len = (size_t)(close - addr) + 1;
    if (close[1] == ':')
      port = close + 2;
    else if (close[1] != '\0')
      return false;
  } else {
    const char *colon = strrchr(addr, ':');
    if (colon) {
      host_len = (size_t)(colon - addr);
      port = colon + 1;
      if (memchr(addr, ':', host_len)) return false; /* IPv6 needs brackets */
    } else if (addr[0] && strspn(addr, "0123456789") == strlen(addr)) {
      host_len = 0;
      port = addr;
    } else {
      host_len = strlen(addr);
    }
  }
  long port_num = 4317;
  if (port) {
    if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5) return false;
    port_num = strtol(port, NULL, 10);
    if (port_num > 65535) return false;
  }
  if (host_len == 0) {
    snprintf(host, host_size, "127.0.0.1");
  } else {
    if (host_len >= host_size) return false;
    memcpy(host, addr, host_len);
    host[host_len] = '\0';
  }
  snprintf(bind_addr, bind_size, "%s:%ld", host, port_num);
  return true;
}

static grpc_server *make_server(grpc_completion_queue *cq, size_t max_request) {
  grpc_arg args[2];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_ALLOW_REUSEPORT; /* a port in use must fail */
  args[0].value.integer = 0;
  /* gRPC answers a larger request RESOURCE_EXHAUSTED itself. */
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[1].value.integer = (int)max_request;
  grpc_channel_args channel_args = {2, args};
  grpc_server *server = grpc_server_create(&channel_args, NULL);
  grpc_server_register_completion_queue(server, cq, NULL);
  return server;
}

static void drain_and_destroy_cq(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}

/* Start the workers with SIGINT and SIGTERM blocked, so the handler runs
 * on the main thread. Fewer than WORKERS is fine; none means the main
 * thread converts (enqueue). */
static void start_workers(collector *c) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  for (size_t i = 0; i < WORKERS; i++) {
    if (pthread_create(&c->workers[c->n_workers], NULL, worker_main, c) != 0) break;
    c->n_workers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (c->n_workers < WORKERS)
    fprintf(stderr, "rpctrace collect: %zu of %d worker threads started\n", c->n_workers, WORKERS);
}

static void stop_workers(collector *c) {
  pthread_mutex_lock(&c->work_mu);
  c->quit = true;
  pthread_cond_broadcast(&c->work_cv);
  pthread_mutex_unlock(&c->work_mu);
  for (size_t i = 0; i < c->n_workers; i++) pthread_join(c->workers[i], NULL);
}

/* Serve until stopped; returns when every call has ended (no slot is
 * waiting for gRPC or a worker). */
static void serve(collector *c, double for_seconds) {
  uint64_t start = now_ms();
  uint64_t stop_at = for_seconds > 0 ? start + (uint64_t)(for_seconds * 1000.0) : 0;
  uint64_t shutdown_at = 0;
  bool shutdown_done = false, cancelled = false;
  for (size_t i = 0; i < SLOTS; i++) slot_request(c, &c->slots[i]);
  while (!(shutdown_done && atomic_load(&c->busy) == 0)) {
    grpc_event ev = grpc_completion_queue_next(
        c->cq,
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(POLL_MS, GPR_TIMESPAN)),
        NULL);
    uint64_t now = now_ms();
    int sigs = atomic_load(&signals_seen);
    bool stopping = atomic_load(&c->stopping);
    if (!stopping && (sigs > 0 || (stop_at && now >= stop_at))) {
      atomic_store(&c->stopping, true);
      stopping = true;
      shutdown_at = now;
      grpc_server_shutdown_and_notify(c->server, c->cq, &shutdown_tag);
    }
    if (stopping && !cancelled && (sigs > 1 || now - shutdown_at >= GRACE_MS)) {
      grpc_server_cancel_all_calls(c->server);
      cancelled = true;
    }
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &shutdown_tag) {
      shutdown_done = true;
      continue;
    }
    on_slot_event(c, ev.tag, ev.success != 0);
  }
}

int rtt_cmd_collect(int argc, char **argv) {
  enum { O_LISTEN = 1000, O_OUT, O_FOR, O_MAX_REQUEST };
  static const struct option options[] = {
      {"listen", required_argument, NULL, O_LISTEN},
      {"out", required_argument, NULL, O_OUT},
      {"for", required_argument, NULL, O_FOR},
      {"max-request-mib", required_argument, NULL, O_MAX_REQUEST},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *listen_addr = DEFAULT_LISTEN, *out = NULL;
  double for_seconds = 0;
  long max_request_mib = DEFAULT_MAX_REQUEST_MIB;
  opterr = 0;
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
    switch (ch) {
      case O_LISTEN: listen_addr = optarg; break;
      case O_OUT: out = optarg; break;
      case O_FOR: {
        char *end;
        errno = 0;
        for_seconds = strtod(optarg, &end);
        if (errno || end == optarg || *end || !(for_seconds > 0) || for_seconds > 1e7)
          return rtt_usage_error("collect", "--for %s: not a number of seconds above 0", optarg);
        break;
      }
      case O_MAX_REQUEST: {
        char *end;
        errno = 0;
        max_request_mib = strtol(optarg, &end, 10);
        if (errno || end == optarg || *end || max_request_mib < 1 ||
            max_request_mib > MAX_REQUEST_MIB_LIMIT)
          return rtt_usage_error("collect", "--max-request-mib %s: not a whole number from 1 to %d",
                                 optarg, MAX_REQUEST_MIB_LIMIT);
        break;
      }
      case 'h': fputs(rtt_help_collect, stdout); return RTT_EXIT_OK;
      default: return rtt_option_error("collect", ch, argv);
    }
  }
  if (optind < argc) return rtt_usage_error("collect", "unexpected argument '%s'", argv[optind]);
  if (!out) return rtt_usage_error("collect", "--out FILE is required");
  char bind_addr[300], host[256];
  if (!parse_listen(listen_addr, bind_addr, sizeof bind_addr, host, sizeof host))
    return rtt_usage_error("collect", "--listen %s: not HOST:PORT", listen_addr);

  /* Large (the slots): static, as there is one collector per process. */
  static collector c;
  memset(&c, 0, sizeof c);
  for (size_t i = 0; i < SLOTS; i++) atomic_init(&c.slots[i].handoff, 0);
  atomic_init(&c.busy, 0);
  atomic_init(&c.stopping, false);
  atomic_init(&c.requests, 0);
  atomic_init(&c.spans, 0);
  atomic_init(&c.rejected, 0);
  c.path = out;
  c.max_request = (size_t)max_request_mib << 20;
  const char *slash = strrchr(out, '/');
  if (!slash)
    snprintf(c.spill_dir, sizeof c.spill_dir, ".");
  else if (slash == out)
    snprintf(c.spill_dir, sizeof c.spill_dir, "/");
  else
    snprintf(c.spill_dir, sizeof c.spill_dir, "%.*s", (int)(slash - out), out);
  c.fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (c.fd < 0) {
    fprintf(stderr, "rpctrace collect: cannot open %s: %s\n", out, strerror(errno));
    return RTT_EXIT_FAIL;
  }
  pthread_mutex_init(&c.work_mu, NULL);
  pthread_cond_init(&c.work_cv, NULL);
  pthread_mutex_init(&c.out_mu, NULL);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (!getenv("GRPC_VERBOSITY")) gpr_set_log_function(quiet_log);
  grpc_init();
  c.cq = grpc_completion_queue_create_for_next(NULL);
  c.server = make_server(c.cq, c.max_request);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(c.server, bind_addr, creds);
  grpc_server_credentials_release(creds);
  int rc = RTT_EXIT_OK;
  if (port <= 0) {
    fprintf(stderr, "rpctrace collect: cannot listen on %s (address in use?)\n", listen_addr);
    grpc_server_destroy(c.server); /* never started: no shutdown needed */
    drain_and_destroy_cq(c.cq);
    rc = RTT_EXIT_FAIL;
  } else {
    grpc_server_start(c.server);
    start_workers(&c);
    printf("rpctrace collect: listening on %s:%d\n", host, port);
    fflush(stdout);
    serve(&c, for_seconds);
    stop_workers(&c);
    grpc_server_destroy(c.server);
    drain_and_destroy_cq(c.cq);
    unsigned long requests = atomic_load(&c.requests), spans = atomic_load(&c.spans),
                  rejected = atomic_load(&c.rejected);
    fprintf(stderr, "rpctrace collect: stopped; %lu request%s, %lu span%s written to %s", requests,
            requests == 1 ? "" : "s", spans, spans == 1 ? "" : "s", out);
    if (rejected) fprintf(stderr, " (%lu rejected)", rejected);
    fputc('\n', stderr);
  }
  grpc_shutdown();
  pthread_mutex_destroy(&c.out_mu);
  pthread_cond_destroy(&c.work_cv);
  pthread_mutex_destroy(&c.work_mu);
  if (close(c.fd) != 0 && rc == RTT_EXIT_OK) {
    fprintf(stderr, "rpctrace collect: closing %s: %s\n", out, strerror(errno));
    rc = RTT_EXIT_FAIL;
  }
  return rc;
}
