#!/usr/bin/env node
'use strict';
// A minimal OTLP/gRPC trace receiver for rpctrace's interop tests.
//
// Serves /opentelemetry.proto.collector.trace.v1.TraceService/Export with
// @grpc/grpc-js on 127.0.0.1 (a free port), takes each request as raw bytes
// and decodes it with ExportTraceServiceRequest.decode from the
// OpenTelemetry JS project's generated protobuf module
// (@opentelemetry/otlp-transformer/build/src/generated/root.js).
//
// stdout, one item a line:
//   line 1: the port number
//   then one JSON object per event:
//     {"type":"request","index":N,"size":BYTES,"metadata":{...},"request":<canonical, see otlp_model.js>}
//     {"type":"decode_error","index":N,"size":BYTES,"message":"...","base64":"..."}
//     {"type":"exit","reason":"SIGTERM"|"stdin closed"|"deadline","requests":N}
// A request that does not decode is answered with INVALID_ARGUMENT; one that
// does, with an empty ExportTraceServiceResponse (zero bytes on the wire).
//
// Exits on SIGTERM or SIGINT, when its stdin closes, or after the deadline
// (--deadline-ms, default 20000; exit status 2 then).
//
// Usage: node otlp_receiver.js [--deadline-ms N]

const model = require('./otlp_model.js');

function usage(msg) {
  process.stderr.write(`otlp_receiver: ${msg}\nusage: node otlp_receiver.js [--deadline-ms N]\n`);
  process.exit(64);
}

let deadlineMs = 20000;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--deadline-ms' && i + 1 < process.argv.length) {
    deadlineMs = Number(process.argv[++i]);
    if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) usage(`bad --deadline-ms ${process.argv[i]}`);
  } else {
    usage(`unknown argument ${a}`);
  }
}

let root;
let grpc;
try {
  root = model.loadRoot();
  grpc = require(require.resolve('@grpc/grpc-js', { paths: [model.NODE_DIR] }));
} catch (e) {
  process.stderr.write(`otlp_receiver: ${e.message}\n`);
  process.exit(3);
}
const ExportTraceServiceRequest = model.requestType(root);

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

// Raw bytes in, raw bytes out: the decoding under test is done by hand with
// root.js, not by a grpc-js/proto-loader codec.
const traceService = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (buf) => buf,
    requestDeserialize: (buf) => buf,
    // An empty ExportTraceServiceResponse encodes to zero bytes.
    responseSerialize: () => Buffer.alloc(0),
    responseDeserialize: (buf) => buf,
  },
};

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

let count = 0;

function handleExport(call, callback) {
  const index = count++;
  const buf = call.request;
  const md = call.metadata.getMap();
  const metadata = {};
  for (const k of Object.keys(md)) {
    if (!k.endsWith('-bin')) metadata[k] = String(md[k]);
  }
  let canonical;
  try {
    const msg = ExportTraceServiceRequest.decode(buf);
    canonical = model.fromProtobuf(msg);
  } catch (e) {
    emit({ type: 'decode_error', index, size: buf.length, message: e.message, base64: buf.toString('base64') });
    callback({ code: grpc.status.INVALID_ARGUMENT, details: `ExportTraceServiceRequest.decode: ${e.message}` });
    return;
  }
  // Written (synchronously: stdout is a pipe or a file) before the reply, so
  // a client that got its reply knows the line is out.
  emit({ type: 'request', index, size: buf.length, metadata, request: canonical });
  callback(null, {});
}

const server = new grpc.Server();
server.addService(traceService, { Export: handleExport });

let exiting = false;
function shutdown(reason, status) {
  if (exiting) return;
  exiting = true;
  emit({ type: 'exit', reason, requests: count });
  const force = setTimeout(() => {
    server.forceShutdown();
    process.exit(status);
  }, 1000);
  server.tryShutdown(() => {
    clearTimeout(force);
    process.exit(status);
  });
}

process.on('SIGTERM', () => shutdown('SIGTERM', 0));
process.on('SIGINT', () => shutdown('SIGINT', 0));
process.stdin.on('end', () => shutdown('stdin closed', 0));
process.stdin.on('error', () => shutdown('stdin closed', 0));
process.stdin.resume();
setTimeout(() => shutdown('deadline', 2), deadlineMs);

server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`otlp_receiver: bind failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${port}\n`);
});
