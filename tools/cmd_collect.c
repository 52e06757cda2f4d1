/*
 * `rpctrace collect`: a local OTLP/gRPC trace receiver on gRPC core. Each
 * Export request is decoded with protobuf-c, written as one OTLP/JSON line
 * (otlp_pb_json.c, the encoding of our otlp_file exporter) appended to the
 * output file, and answered with an empty ExportTraceServiceResponse.
 *
 * One thread owns the completion queue and serves up to SLOTS calls at a
 * time; each slot is a small state machine (requested -> receiving ->
 * sending -> requested again) whose tag is the slot itself. Lines are
 * written by that one thread, so they never interleave.
 *
 * Stopping (SIGINT, SIGTERM, --for): the server is shut down, which lets
 * the calls in progress finish and refuses new ones; a second signal, or
 * GRACE_MS without the calls finishing, cancels them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "otlp_pb_json.h"

#define DEFAULT_LISTEN "127.0.0.1:4317"
#define EXPORT_METHOD "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define SLOTS 8
#define POLL_MS 100
#define GRACE_MS 5000
#define MAX_MESSAGE_BYTES (64 * 1024 * 1024)

const char rtt_help_collect[] =
    "Usage: rpctrace collect [--listen ADDR] --out FILE [--for SECONDS]\n"
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
    "  -h, --help       show this help\n"
    "\n"
    "Once listening it prints 'rpctrace collect: listening on HOST:PORT' on\n"
    "stdout. SIGINT or SIGTERM stops it after the requests in progress are\n"
    "answered (a second signal cancels them). A request that does not decode\n"
    "is answered INVALID_ARGUMENT and reported on stderr; a line that cannot\n"
    "be written, UNAVAILABLE (the exporter retries). gRPC's own log lines\n"
    "are shown only when GRPC_VERBOSITY is set.\n"
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

typedef enum slot_state { S_IDLE, S_REQUESTED, S_RECEIVING, S_SENDING } slot_state;

typedef struct slot {
  slot_state state;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array request_md;
  grpc_byte_buffer *request;
  grpc_byte_buffer *response;
  grpc_slice status_details;
  int cancelled;
} slot;

typedef struct collector {
  grpc_server *server;
  grpc_completion_queue *cq;
  int fd;           /* the output file, O_APPEND */
  const char *path; /* for messages */
  rpct__json_buf line;
  slot slots[SLOTS];
  int busy; /* operations started whose events have not come */
  bool stopping;
  unsigned long requests, spans, rejected;
  bool write_error_reported;
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

static void slot_release(slot *s) {
  if (s->state == S_IDLE) return;
  if (s->call) grpc_call_unref(s->call);
  grpc_call_details_destroy(&s->details);
  grpc_metadata_array_destroy(&s->request_md);
  if (s->request) grpc_byte_buffer_destroy(s->request);
  if (s->response) grpc_byte_buffer_destroy(s->response);
  grpc_slice_unref(s->status_details);
  memset(s, 0, sizeof *s);
}

/* Ask the server for the next call into `s`, unless stopping. */
static void slot_request(collector *c, slot *s) {
  slot_release(s);
  if (c->stopping) return;
  grpc_call_details_init(&s->details);
  grpc_metadata_array_init(&s->request_md);
  s->status_details = grpc_empty_slice();
  s->state = S_REQUESTED;
  if (grpc_server_request_call(c->server, &s->call, &s->details, &s->request_md, c->cq, c->cq, s) !=
      GRPC_CALL_OK) {
    slot_release(s);
    return;
  }
  c->busy++;
}

static bool slot_start_recv(collector *c, slot *s) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &s->request;
  if (grpc_call_start_batch(s->call, &op, 1, s, NULL) != GRPC_CALL_OK) return false;
  s->state = S_RECEIVING;
  c->busy++;
  return true;
}

/* Answer with `status` (and an empty response message when OK). */
static bool slot_answer(collector *c, slot *s, grpc_status_code status, const char *message) {
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
  if (grpc_call_start_batch(s->call, ops, n, s, NULL) != GRPC_CALL_OK) return false;
  s->state = S_SENDING;
  c->busy++;
  return true;
}

/* ---- one request ---- */

static void report_peer(slot *s, const char *what) {
  char *peer = grpc_call_get_peer(s->call);
  fprintf(stderr, "rpctrace collect: request from %s: %s\n", peer ? peer : "?", what);
  gpr_free(peer);
}

/* Write the line in one write(2) on the O_APPEND descriptor. */
static bool write_line(collector *c, const char *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(c->fd, buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = w < 0 ? errno : EIO;
      /* End a partial line so the next one starts on its own line. */
      if (off > 0) (void)!write(c->fd, "\n", 1);
      errno = err;
      return false;
    }
    off += (size_t)w;
  }
  return true;
}

/* Decode, write, answer. */
static bool handle_request(collector *c, slot *s) {
  if (!s->request) {
    report_peer(s, "no request message; answered INVALID_ARGUMENT");
    c->rejected++;
    return slot_answer(c, s, GRPC_STATUS_INVALID_ARGUMENT, "rpctrace collect: no request message");
  }
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, s->request)) {
    report_peer(s, "unreadable request message; answered INVALID_ARGUMENT");
    c->rejected++;
    return slot_answer(c, s, GRPC_STATUS_INVALID_ARGUMENT,
                       "rpctrace collect: unreadable request message");
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  const uint8_t *data = GRPC_SLICE_START_PTR(all);
  size_t len = GRPC_SLICE_LENGTH(all);
  rtt_pb_request *req = NULL;
  bool too_deep = !rtt_otlp_wire_depth_ok(data, len, RTT_OTLP_MAX_DEPTH);
  if (!too_deep)
    req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, len, data);
  grpc_slice_unref(all);
  if (!req) {
    char what[160];
    snprintf(what, sizeof what,
             "cannot decode ExportTraceServiceRequest (%zu bytes%s); answered INVALID_ARGUMENT",
             len, too_deep ? ", nested too deep" : "");
    report_peer(s, what);
    c->rejected++;
    return slot_answer(c, s, GRPC_STATUS_INVALID_ARGUMENT,
                       "rpctrace collect: cannot decode ExportTraceServiceRequest");
  }
  rpct__json_reset(&c->line);
  rtt_otlp_request_to_json(&c->line, req);
  rpct__json_char(&c->line, '\n');
  size_t spans = rtt_otlp_request_span_count(req);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);
  if (c->line.oom) {
    report_peer(s, "out of memory writing the request as JSON; answered RESOURCE_EXHAUSTED");
    rpct__json_release(&c->line);
    return slot_answer(c, s, GRPC_STATUS_RESOURCE_EXHAUSTED, "rpctrace collect: out of memory");
  }
  bool written = write_line(c, c->line.buf, c->line.len);
  /* Keep a small buffer between requests, not the largest ever seen. */
  if (c->line.cap > (size_t)1 << 20) rpct__json_release(&c->line);
  if (!written) {
    if (!c->write_error_reported) {
      fprintf(stderr, "rpctrace collect: writing to %s failed: %s; answering UNAVAILABLE\n",
              c->path, strerror(errno));
      c->write_error_reported = true;
    }
    return slot_answer(c, s, GRPC_STATUS_UNAVAILABLE, "rpctrace collect: cannot write the file");
  }
  c->write_error_reported = false;
  c->requests++;
  c->spans += spans;
  return slot_answer(c, s, GRPC_STATUS_OK, "");
}

/* The event for slot `s` came (success `ok`): move it on. */
static void on_slot_event(collector *c, slot *s, bool ok) {
  bool next = false;
  switch (s->state) {
    case S_REQUESTED:
      if (!ok) break; /* the server is shutting down */
      if (grpc_slice_str_cmp(s->details.method, EXPORT_METHOD) == 0)
        next = slot_start_recv(c, s);
      else
        next = slot_answer(c, s, GRPC_STATUS_UNIMPLEMENTED,
                           "rpctrace collect serves only TraceService/Export");
      break;
    case S_RECEIVING:
      if (!ok) break; /* the client went away */
      next = handle_request(c, s);
      break;
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

static grpc_server *make_server(grpc_completion_queue *cq) {
  grpc_arg args[2];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_ALLOW_REUSEPORT; /* a port in use must fail */
  args[0].value.integer = 0;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[1].value.integer = MAX_MESSAGE_BYTES;
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

/* Serve until stopped; returns when every call has ended. */
static void serve(collector *c, double for_seconds) {
  uint64_t start = now_ms();
  uint64_t stop_at = for_seconds > 0 ? start + (uint64_t)(for_seconds * 1000.0) : 0;
  uint64_t shutdown_at = 0;
  bool shutdown_done = false, cancelled = false;
  for (size_t i = 0; i < SLOTS; i++) slot_request(c, &c->slots[i]);
  while (!(shutdown_done && c->busy == 0)) {
    grpc_event ev = grpc_completion_queue_next(
        c->cq,
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(POLL_MS, GPR_TIMESPAN)),
        NULL);
    uint64_t now = now_ms();
    int sigs = atomic_load(&signals_seen);
    if (!c->stopping && (sigs > 0 || (stop_at && now >= stop_at))) {
      c->stopping = true;
      shutdown_at = now;
      grpc_server_shutdown_and_notify(c->server, c->cq, &shutdown_tag);
    }
    if (c->stopping && !cancelled && (sigs > 1 || now - shutdown_at >= GRACE_MS)) {
      grpc_server_cancel_all_calls(c->server);
      cancelled = true;
    }
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &shutdown_tag) {
      shutdown_done = true;
      continue;
    }
    c->busy--;
    on_slot_event(c, ev.tag, ev.success != 0);
  }
  for (size_t i = 0; i < SLOTS; i++) slot_release(&c->slots[i]);
}

int rtt_cmd_collect(int argc, char **argv) {
  enum { O_LISTEN = 1000, O_OUT, O_FOR };
  static const struct option options[] = {
      {"listen", required_argument, NULL, O_LISTEN},
      {"out", required_argument, NULL, O_OUT},
      {"for", required_argument, NULL, O_FOR},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *listen_addr = DEFAULT_LISTEN, *out = NULL;
  double for_seconds = 0;
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
      case 'h': fputs(rtt_help_collect, stdout); return RTT_EXIT_OK;
      default: return rtt_option_error("collect", ch, argv);
    }
  }
  if (optind < argc) return rtt_usage_error("collect", "unexpected argument '%s'", argv[optind]);
  if (!out) return rtt_usage_error("collect", "--out FILE is required");
  char bind_addr[300], host[256];
  if (!parse_listen(listen_addr, bind_addr, sizeof bind_addr, host, sizeof host))
    return rtt_usage_error("collect", "--listen %s: not HOST:PORT", listen_addr);

  collector c;
  memset(&c, 0, sizeof c);
  c.path = out;
  c.fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (c.fd < 0) {
    fprintf(stderr, "rpctrace collect: cannot open %s: %s\n", out, strerror(errno));
    return RTT_EXIT_FAIL;
  }
  rpct__json_init(&c.line, NULL, 64 * 1024);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (!getenv("GRPC_VERBOSITY")) gpr_set_log_function(quiet_log);
  grpc_init();
  c.cq = grpc_completion_queue_create_for_next(NULL);
  c.server = make_server(c.cq);
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
    printf("rpctrace collect: listening on %s:%d\n", host, port);
    fflush(stdout);
    serve(&c, for_seconds);
    grpc_server_destroy(c.server);
    drain_and_destroy_cq(c.cq);
    fprintf(stderr, "rpctrace collect: stopped; %lu request%s, %lu span%s written to %s",
            c.requests, c.requests == 1 ? "" : "s", c.spans, c.spans == 1 ? "" : "s", out);
    if (c.rejected) fprintf(stderr, " (%lu rejected)", c.rejected);
    fputc('\n', stderr);
  }
  grpc_shutdown();
  rpct__json_release(&c.line);
  if (close(c.fd) != 0 && rc == RTT_EXIT_OK) {
    fprintf(stderr, "rpctrace collect: closing %s: %s\n", out, strerror(errno));
    rc = RTT_EXIT_FAIL;
  }
  return rc;
}
