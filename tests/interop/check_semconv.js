#!/usr/bin/env node
'use strict';
// Semantic-conventions interop check: are rpctrace's RPC span attributes the
// ones the OpenTelemetry semantic conventions v1.45 define, in each mode of
// OTEL_SEMCONV_STABILITY_OPT_IN?
//
// Every attribute key comes from the exported constants of
// @opentelemetry/semantic-conventions 1.45.0 (pinned in node/package.json):
// the stable ones from the package root, the old (deprecated, incubating)
// ones from '@opentelemetry/semantic-conventions/incubating'. No key is
// typed here; the gRPC status names are the suffixes of the package's
// RPC_GRPC_STATUS_CODE_VALUE_* constants. The one key without a constant,
// "rpc.method.deprecated" (rpc/dup: where the old short method name goes,
// since the stable rpc.method takes the key), is ATTR_RPC_METHOD + '.deprecated'.
//
// For each mode it runs semconv_rpcs (a traced C client and C server over
// loopback, tests/interop/semconv_rpcs.c), which makes three unary RPCs to
// test.Echo/Unary that end with OK, NOT_FOUND and INTERNAL from the server and
// writes their spans as OTLP/JSON lines (OTEL_TRACES_EXPORTER=otlp_file). The
// lines are read with JSON.parse (otlp_model.js). The C program prints each
// RPC's client span ids; the server span is the one whose parent is that
// client span. Then, for the CLIENT and the SERVER span of every RPC:
//
//   every mode  name "test.Echo/Unary", kind CLIENT / SERVER;
//               client: server.address "127.0.0.1" and server.port from the
//               channel target 127.0.0.1:<port>, network.peer.address
//               "127.0.0.1" and network.peer.port <port>;
//               server: network.peer.address "127.0.0.1" and a
//               network.peer.port; server.address/server.port are only
//               Recommended there, so they are checked when present (the
//               host and port of :authority, here 127.0.0.1:<port>);
//               span status: client ERROR with the status message for any
//               non-OK code; server ERROR with the message only for
//               UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
//               UNAVAILABLE, DATA_LOSS; otherwise UNSET with no message.
//   default     (variable unset) the old set: rpc.system "grpc",
//               rpc.service "test.Echo", rpc.method "Unary", rpc.grpc.status_code
//               the int code; no rpc.system.name, rpc.status_code, error.type
//               (new in the stable set).
//   rpc         rpc.system.name "grpc", rpc.method "test.Echo/Unary",
//               rpc.status_code the code's name ("OK", "NOT_FOUND", ...),
//               error.type the code's name iff the span is an error (rules
//               above); no rpc.system, rpc.service, rpc.grpc.status_code.
//   rpc/dup     both, with rpc.method "test.Echo/Unary" and the old short name
//               under rpc.method.deprecated.
//   all modes   rpc.response.status_code (deprecated, renamed rpc.status_code
//               in v1.45) absent, and no rpc.* key beyond the mode's set.
//
// NOT_FOUND is the case where the two sides disagree (an error for the client,
// not for the server); INTERNAL is an error on both, so the server's error
// branch is covered too.
//
// Every failure names the mode, the RPC, the side and the attribute, with
// what was expected and what was seen; the last line is "N passed, N failed";
// the exit status is 1 on any failure.
//
// Usage: node check_semconv.js PROGRAM [--mode default|rpc|rpc/dup|all]
//                              [--timeout-ms N] [--keep] [--verbose]
//   PROGRAM  path of the semconv_rpcs program
//   --mode   which OTEL_SEMCONV_STABILITY_OPT_IN mode to run (default: all)
//   --keep   keep the scratch folder (JSON lines, program output) even on success

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const model = require('./otlp_model.js');

// ---- arguments ----

const MODES = {
  // name: value of OTEL_SEMCONV_STABILITY_OPT_IN (null: unset), sets emitted
  default: { env: null, old: true, stable: false },
  rpc: { env: 'rpc', old: false, stable: true },
  'rpc/dup': { env: 'rpc/dup', old: true, stable: true },
};
const USAGE = 'usage: node check_semconv.js PROGRAM [--mode default|rpc|rpc/dup|all] ' +
  '[--timeout-ms N] [--keep] [--verbose]\n';

const args = process.argv.slice(2);
let programPath = null;
let modeArg = 'all';
let timeoutMs = 60000;
let keep = false;
let verbose = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--mode' && i + 1 < args.length) modeArg = args[++i];
  else if (a === '--timeout-ms' && i + 1 < args.length) timeoutMs = Number(args[++i]);
  else if (a === '--keep') keep = true;
  else if (a === '--verbose') verbose = true;
  else if (!a.startsWith('-') && programPath === null) programPath = a;
  else {
    process.stderr.write(`check_semconv: unknown argument ${a}\n${USAGE}`);
    process.exit(64);
  }
}
if (!programPath || !Number.isInteger(timeoutMs) || timeoutMs <= 0 ||
    !(modeArg === 'all' || Object.hasOwn(MODES, modeArg))) {
  process.stderr.write(USAGE);
  process.exit(64);
}
const modes = modeArg === 'all' ? Object.keys(MODES) : [modeArg];

// ---- the packages: semantic conventions, and the OTLP enums ----

function loadSemconv() {
  const opts = { paths: [model.NODE_DIR] };
  let stable;
  let incubating;
  try {
    stable = require(require.resolve('@opentelemetry/semantic-conventions', opts));
    incubating = require(require.resolve('@opentelemetry/semantic-conventions/incubating', opts));
  } catch (e) {
    const err = new Error(`cannot load @opentelemetry/semantic-conventions from ` +
      `${path.join(model.NODE_DIR, 'node_modules')}: ${e.message}; the interop npm packages are ` +
      'not installed: run scripts/npm-install.sh (make test and make npm run it)');
    err.code = 'RPCT_NPM_MISSING';
    throw err;
  }
  return { stable, incubating };
}

let S;
let I;
let OTLP;
try {
  ({ stable: S, incubating: I } = loadSemconv());
  OTLP = model.loadRoot().opentelemetry.proto.trace.v1;
} catch (e) {
  console.log(`FAIL setup: ${e.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// Fails the run at once when a constant this file names is not exported:
// an `undefined` key would otherwise make "absent" checks pass vacuously.
function need(mod, modName, name) {
  const v = mod[name];
  if (typeof v !== 'string' && typeof v !== 'number') {
    console.log(`FAIL setup: ${modName} does not export ${name} (got ${typeof v})`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  return v;
}
const ROOT = '@opentelemetry/semantic-conventions';
const INC = '@opentelemetry/semantic-conventions/incubating';
const K = {
  // stable set (package root)
  systemName: need(S, ROOT, 'ATTR_RPC_SYSTEM_NAME'),
  method: need(S, ROOT, 'ATTR_RPC_METHOD'),
  statusCode: need(S, ROOT, 'ATTR_RPC_STATUS_CODE'),
  errorType: need(S, ROOT, 'ATTR_ERROR_TYPE'),
  serverAddress: need(S, ROOT, 'ATTR_SERVER_ADDRESS'),
  serverPort: need(S, ROOT, 'ATTR_SERVER_PORT'),
  peerAddress: need(S, ROOT, 'ATTR_NETWORK_PEER_ADDRESS'),
  peerPort: need(S, ROOT, 'ATTR_NETWORK_PEER_PORT'),
  // old set (incubating, deprecated)
  system: need(I, INC, 'ATTR_RPC_SYSTEM'),
  service: need(I, INC, 'ATTR_RPC_SERVICE'),
  grpcStatusCode: need(I, INC, 'ATTR_RPC_GRPC_STATUS_CODE'),
  responseStatusCode: need(I, INC, 'ATTR_RPC_RESPONSE_STATUS_CODE'),
};
// rpc/dup: the old short method name, moved aside by the stable rpc.method.
K.methodDeprecated = `${K.method}.deprecated`;
const GRPC_NEW = need(S, ROOT, 'RPC_SYSTEM_NAME_VALUE_GRPC');
const GRPC_OLD = need(I, INC, 'RPC_SYSTEM_VALUE_GRPC');
// The rpc.* namespace: any key in it that the mode does not define is wrong.
const RPC_NS = K.method.slice(0, K.method.indexOf('.') + 1);

// gRPC status code number -> name, from RPC_GRPC_STATUS_CODE_VALUE_<NAME> = n.
const CODE_PREFIX = 'RPC_GRPC_STATUS_CODE_VALUE_';
const CODE_NAMES = new Map();
for (const [name, v] of Object.entries(I)) {
  if (name.startsWith(CODE_PREFIX) && typeof v === 'number') CODE_NAMES.set(v, name.slice(CODE_PREFIX.length));
}
function codeName(code) {
  const n = CODE_NAMES.get(code);
  if (n === undefined) throw new Error(`${INC} has no ${CODE_PREFIX}* constant for code ${code}`);
  return n;
}
// docs/rpc/grpc.md, server span, note on rpc.status_code: the codes that
// make a server span an error. Every other code (NOT_FOUND among them) is not.
const SERVER_ERROR_CODES = new Set(['UNKNOWN', 'DEADLINE_EXCEEDED', 'UNIMPLEMENTED', 'INTERNAL',
  'UNAVAILABLE', 'DATA_LOSS'].map((n) => need(I, INC, CODE_PREFIX + n)));
const CODE_OK = need(I, INC, `${CODE_PREFIX}OK`);

const KIND = { client: OTLP.Span.SpanKind.SPAN_KIND_CLIENT, server: OTLP.Span.SpanKind.SPAN_KIND_SERVER };
const STATUS = OTLP.Status.StatusCode;

// What semconv_rpcs calls, and the RPCs it must report (code and message).
const SERVICE = 'test.Echo';
const METHOD = 'Unary';
const RPCS = [
  { code: CODE_OK, message: '' },
  { code: need(I, INC, `${CODE_PREFIX}NOT_FOUND`), message: 'no user 42' },
  { code: need(I, INC, `${CODE_PREFIX}INTERNAL`), message: 'database unreachable' },
];
const LOOPBACK = '127.0.0.1';

// ---- results ----

let passed = 0;
let failed = 0;

function check(ok, where, message) {
  if (ok) {
    passed++;
    if (verbose) console.log(`ok   ${where}`);
  } else {
    failed++;
    console.log(`FAIL ${where}: ${message}`);
  }
  return ok;
}

function showAttr(a) {
  return a === undefined ? 'absent' : `${a.type} ${JSON.stringify(a.value)}`;
}

// ---- children, scratch space and the overall deadline ----

const children = new Set();
let scratch = null;
let finished = false;

function killChildren() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGKILL'); } catch (_) { /* already gone */ }
    }
  }
}

function finish() {
  if (finished) return;
  finished = true;
  killChildren();
  if (scratch) {
    if (failed === 0 && !keep) fs.rmSync(scratch, { recursive: true, force: true });
    else console.log(`check_semconv: scratch files kept in ${scratch}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

const overall = setTimeout(() => {
  check(false, 'timeout', `the whole check took more than ${timeoutMs} ms`);
  finish();
}, timeoutMs);

process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    check(false, 'signal', `interrupted by ${sig}`);
    finish();
  });
}

// ---- the C program ----

function programEnv(mode, jsonlPath) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing from the caller's OpenTelemetry setup; no proxy on loopback.
    if (k.startsWith('OTEL_') || k.startsWith('RPCTRACE_')) continue;
    if (/^(https?_proxy|grpc_proxy|all_proxy|no_proxy)$/i.test(k)) continue;
    env[k] = v;
  }
  env.OTEL_TRACES_EXPORTER = 'otlp_file';
  env.RPCTRACE_OTLP_FILE_PATH = jsonlPath;
  env.OTEL_BSP_SCHEDULE_DELAY = '50';
  env.OTEL_SERVICE_NAME = 'semconv-interop';
  if (MODES[mode].env !== null) env.OTEL_SEMCONV_STABILITY_OPT_IN = MODES[mode].env;
  return env;
}

// Runs the program; resolves { code, signal, out } or { error, out }.
function runProgram(mode, jsonlPath, ms) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(programPath, [], { stdio: ['ignore', 'pipe', 'pipe'], env: programEnv(mode, jsonlPath) });
    } catch (e) {
      resolve({ error: e.message, out: '' });
      return;
    }
    children.add(child);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ error: `did not exit within ${ms} ms (killed)`, out });
    }, ms);
    child.once('error', (e) => {
      clearTimeout(t);
      resolve({ error: e.message, out });
    });
    child.once('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out });
    });
  });
}

// "port N" and "rpc CODE TRACE SPAN MESSAGE..." lines.
function parseProgramOutput(out) {
  let port = null;
  const rpcs = [];
  for (const line of out.split('\n')) {
    let m = /^port ([0-9]+)$/.exec(line);
    if (m) port = Number(m[1]);
    m = /^rpc (-?[0-9]+) ([0-9a-f]{32}|none) ([0-9a-f]{16}|none) ?(.*)$/.exec(line);
    if (m) rpcs.push({ code: Number(m[1]), traceId: m[2], spanId: m[3], message: m[4] });
  }
  return { port, rpcs };
}

function readSpans(jsonlPath, where) {
  let text;
  try {
    text = fs.readFileSync(jsonlPath, 'utf8');
  } catch (e) {
    check(false, where, `cannot read ${jsonlPath}: ${e.message}`);
    return null;
  }
  const requests = [];
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    try {
      requests.push(model.fromOtlpJson(JSON.parse(line), `${where} line ${i + 1}`));
    } catch (e) {
      check(false, `${where} line ${i + 1}`, `not OTLP/JSON: ${e.message}`);
    }
  });
  return model.flattenSpans(requests, where).map((e) => e.span);
}

// ---- the conventions ----

function isError(side, code) {
  return side === 'client' ? code !== CODE_OK : SERVER_ERROR_CODES.has(code);
}

const str = (value) => ({ type: 'string', value });
const int = (value) => ({ type: 'int', value: String(value) });
const ABSENT = undefined;

// The rpc.* attributes (and error.type) a span must carry in `mode`: a Map
// key -> {type, value} or ABSENT.
function expectedRpcAttributes(mode, side, code) {
  const { old, stable } = MODES[mode];
  const name = codeName(code);
  const error = isError(side, code);
  const want = new Map();
  want.set(K.system, old ? str(GRPC_OLD) : ABSENT);
  want.set(K.service, old ? str(SERVICE) : ABSENT);
  want.set(K.grpcStatusCode, old ? int(code) : ABSENT);
  want.set(K.systemName, stable ? str(GRPC_NEW) : ABSENT);
  want.set(K.statusCode, stable ? str(name) : ABSENT);
  want.set(K.errorType, stable && error ? str(name) : ABSENT);
  want.set(K.method, str(stable ? `${SERVICE}/${METHOD}` : METHOD));
  want.set(K.methodDeprecated, old && stable ? str(METHOD) : ABSENT);
  want.set(K.responseStatusCode, ABSENT);
  return want;
}

function attrMap(span, where) {
  const m = new Map();
  for (const a of span.attributes) {
    if (m.has(a.key)) check(false, `${where} ${a.key}`, 'key appears more than once');
    m.set(a.key, a);
  }
  return m;
}

function expectAttr(got, key, want, where) {
  const g = got.get(key);
  const same = want === undefined ? g === undefined
    : g !== undefined && g.type === want.type && g.value === want.value;
  return check(same, `${where} ${key}`, `expected ${showAttr(want)}, seen ${showAttr(g)}`);
}

function checkSpan(span, mode, side, rpc, port, where) {
  check(span.name === `${SERVICE}/${METHOD}`, `${where} span name`,
    `expected ${JSON.stringify(`${SERVICE}/${METHOD}`)}, seen ${JSON.stringify(span.name)}`);
  check(span.kind === KIND[side], `${where} span kind`, `expected ${KIND[side]}, seen ${span.kind}`);

  const got = attrMap(span, where);
  const want = expectedRpcAttributes(mode, side, rpc.code);
  for (const [key, w] of want) expectAttr(got, key, w, where);
  for (const [key, g] of got) {
    if (key.startsWith(RPC_NS) && !want.has(key)) {
      check(false, `${where} ${key}`, `expected absent (not in the ${mode} set), seen ${showAttr(g)}`);
    }
  }

  // server.address/server.port: the client's from the channel target
  // (Required / Conditionally Required), the server's from :authority
  // (Recommended: checked when present). Here both say 127.0.0.1:<port>.
  if (side === 'client' || got.has(K.serverAddress)) expectAttr(got, K.serverAddress, str(LOOPBACK), where);
  if (side === 'client' || got.has(K.serverPort)) expectAttr(got, K.serverPort, int(port), where);
  expectAttr(got, K.peerAddress, str(LOOPBACK), where);
  if (side === 'client') {
    expectAttr(got, K.peerPort, int(port), where);
  } else {
    const p = got.get(K.peerPort);
    check(p !== undefined && p.type === 'int' && Number(p.value) >= 1 && Number(p.value) <= 65535,
      `${where} ${K.peerPort}`, `expected an int port of the client's connection, seen ${showAttr(p)}`);
  }

  const error = isError(side, rpc.code);
  const wantStatus = error ? { code: STATUS.STATUS_CODE_ERROR, message: rpc.message }
    : { code: STATUS.STATUS_CODE_UNSET, message: '' };
  const statusName = (c) => Object.keys(STATUS).find((k) => STATUS[k] === c) || String(c);
  check(span.status.code === wantStatus.code && span.status.message === wantStatus.message,
    `${where} span status`,
    `expected ${statusName(wantStatus.code)} ${JSON.stringify(wantStatus.message)}, ` +
    `seen ${statusName(span.status.code)} ${JSON.stringify(span.status.message)}`);
}

// ---- one mode ----

async function runMode(mode, deadline) {
  const label = `[mode=${mode}]`;
  const dir = path.join(scratch, mode.replace('/', '_'));
  fs.mkdirSync(dir);
  const jsonl = path.join(dir, 'spans.jsonl');
  const r = await runProgram(mode, jsonl, Math.max(1000, deadline - Date.now()));
  fs.writeFileSync(path.join(dir, 'program.out'), r.out);
  if (r.out) process.stdout.write(r.out.replace(/^(?=.)/gm, `${label} semconv_rpcs: `));
  if (!check(r.error === undefined && r.code === 0, `${label} semconv_rpcs`,
    r.error !== undefined ? r.error : `exit status ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}`)) {
    return;
  }
  const { port, rpcs } = parseProgramOutput(r.out);
  if (!check(port !== null, `${label} semconv_rpcs output`, 'no "port N" line')) return;
  if (!check(rpcs.length === RPCS.length, `${label} semconv_rpcs output`,
    `expected ${RPCS.length} "rpc" lines, seen ${rpcs.length}`)) return;

  const spans = readSpans(jsonl, `${label} ${path.basename(jsonl)}`);
  if (!spans) return;
  check(spans.length === 2 * RPCS.length, `${label} spans`,
    `expected ${2 * RPCS.length} spans (a client and a server span per RPC), seen ${spans.length}`);

  RPCS.forEach((want, i) => {
    const rpc = rpcs[i];
    const what = `${label} rpc ${codeName(want.code)}`;
    if (!check(rpc.code === want.code && rpc.message === want.message, `${what} status`,
      `the program reports ${rpc.code} ${JSON.stringify(rpc.message)}`)) return;
    const clients = spans.filter((s) => s.spanId === rpc.spanId);
    if (!check(clients.length === 1, `${what} client span`,
      `expected one span with id ${rpc.spanId} (the call's span context), seen ${clients.length}`)) return;
    const client = clients[0];
    check(client.traceId === rpc.traceId, `${what} client span traceId`,
      `expected ${rpc.traceId}, seen ${client.traceId}`);
    checkSpan(client, mode, 'client', rpc, port, `${what} client`);

    const servers = spans.filter((s) => s.parentSpanId === rpc.spanId);
    if (!check(servers.length === 1, `${what} server span`,
      `expected one span whose parent is the client span ${rpc.spanId}, seen ${servers.length}`)) return;
    const server = servers[0];
    check(server.traceId === rpc.traceId, `${what} server span traceId`,
      `expected ${rpc.traceId}, seen ${server.traceId}`);
    checkSpan(server, mode, 'server', rpc, port, `${what} server`);
  });
}

// ---- main ----

async function main() {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rpct-semconv-'));
  const deadline = Date.now() + timeoutMs - 2000;
  for (const mode of modes) await runMode(mode, deadline);
  clearTimeout(overall);
  finish();
}

main().catch((e) => {
  check(false, 'internal error', e && e.stack ? e.stack : String(e));
  finish();
});
