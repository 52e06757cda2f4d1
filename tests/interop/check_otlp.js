#!/usr/bin/env node
'use strict';
// OTLP interop check: does a third-party decoder read what rpctrace sends?
//
//   1. starts otlp_receiver.js (grpc-js; decodes every Export request with
//      ExportTraceServiceRequest.decode from @opentelemetry/otlp-transformer's
//      generated root.js) on a loopback port;
//   2. runs the C client (otlp_interop_client), which records a fixed set of
//      spans, exports each through the OTLP/gRPC exporter to the receiver and
//      through the OTLP/JSON lines file exporter, and writes what it recorded
//      to an expectations file;
//   3. compares (a) the decoded protobuf with the expectations: ids, parent
//      ids, names, kinds, times, flags, trace state, attributes (type and
//      value), status, events, links, resource and scope; and (b) every JSON
//      line, read with JSON.parse, with the protobuf content, field for field.
//
// Every mismatch is printed with its path; the last line is
// "N passed, N failed"; the exit status is 1 on any failure.
//
// Usage: node check_otlp.js CLIENT [none|gzip] [--timeout-ms N] [--keep] [--verbose]
//   CLIENT  path of the otlp_interop_client program
//   gzip    have the gRPC exporter compress its requests
//   --keep  keep the scratch folder (JSON lines, expectations) even on success

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const model = require('./otlp_model.js');

// ---- arguments ----

const args = process.argv.slice(2);
let clientPath = null;
let compression = 'none';
let timeoutMs = 30000;
let keep = false;
let verbose = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--timeout-ms' && i + 1 < args.length) timeoutMs = Number(args[++i]);
  else if (a === '--keep') keep = true;
  else if (a === '--verbose') verbose = true;
  else if (a === 'none' || a === 'gzip') compression = a;
  else if (!a.startsWith('-') && clientPath === null) clientPath = a;
  else {
    process.stderr.write(`check_otlp: unknown argument ${a}\n` +
      'usage: node check_otlp.js CLIENT [none|gzip] [--timeout-ms N] [--keep] [--verbose]\n');
    process.exit(64);
  }
}
if (!clientPath || !Number.isInteger(timeoutMs) || timeoutMs <= 0) {
  process.stderr.write('usage: node check_otlp.js CLIENT [none|gzip] [--timeout-ms N] [--keep] [--verbose]\n');
  process.exit(64);
}

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

function show(v) {
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return JSON.stringify(v);
}

// `names`: how the two sides are called in a failure message.
function expectEqual(got, want, where, names = ['expected', 'got']) {
  return check(Object.is(got, want), where, `${names[0]} ${show(want)}, ${names[1]} ${show(got)}`);
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
    else console.log(`check_otlp: scratch files kept in ${scratch}`);
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

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves with {code, signal} when `child` exits, or null after `ms`.
function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

// ---- the receiver ----

function startReceiver() {
  const rx = spawn(process.execPath, [path.join(__dirname, 'otlp_receiver.js'), '--deadline-ms', String(timeoutMs)],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(rx);
  const state = { child: rx, port: null, events: [], badLines: [], stderr: '' };
  let buf = '';
  let resolvePort;
  state.portPromise = new Promise((resolve) => { resolvePort = resolve; });
  rx.stdout.setEncoding('utf8');
  rx.stdout.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (state.port === null) {
        state.port = /^[0-9]+$/.test(line) ? Number(line) : NaN;
        resolvePort(state.port);
        continue;
      }
      try {
        state.events.push(JSON.parse(line));
      } catch (e) {
        state.badLines.push(line);
      }
    }
  });
  rx.stderr.setEncoding('utf8');
  rx.stderr.on('data', (chunk) => {
    state.stderr += chunk;
    process.stdout.write(chunk.replace(/^(?=.)/gm, 'receiver: '));
  });
  rx.on('exit', () => resolvePort(state.port === null ? NaN : state.port));
  return state;
}

// ---- the C client ----

function clientEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing from the caller's OpenTelemetry setup, and no proxy between
    // the client and the loopback receiver.
    if (k.startsWith('OTEL_') || k.startsWith('RPCTRACE_')) continue;
    if (/^(https?_proxy|grpc_proxy|all_proxy)$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

async function runClient(port, jsonlPath, expectPath) {
  const argv = [`127.0.0.1:${port}`, jsonlPath, expectPath, compression];
  let child;
  try {
    child = spawn(clientPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: clientEnv() });
  } catch (e) {
    return { error: e.message };
  }
  children.add(child);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const spawnError = new Promise((resolve) => child.once('error', (e) => resolve({ error: e.message })));
  const exit = waitExit(child, Math.max(1000, timeoutMs - 5000));
  const r = await Promise.race([exit, spawnError]);
  if (out) process.stdout.write(out.replace(/^(?=.)/gm, 'client: '));
  if (r === null) {
    child.kill('SIGKILL');
    return { error: 'the client did not exit in time (killed)' };
  }
  return r;
}

// ---- comparisons ----

// Attribute lists as maps: order is not part of OTLP's meaning, but a key
// must not appear twice.
function attrMap(list, where) {
  const m = new Map();
  for (const a of list) {
    if (m.has(a.key)) check(false, `${where}["${a.key}"]`, 'key appears more than once');
    m.set(a.key, a);
  }
  return m;
}

function compareAttributes(got, want, where, names = ['expected', 'got']) {
  const g = attrMap(got, `${where} (${names[1]})`);
  const w = attrMap(want, `${where} (${names[0]})`);
  for (const [key, wa] of w) {
    const ga = g.get(key);
    const p = `${where}["${key}"]`;
    if (!check(ga !== undefined, p, `missing (${names[0]} ${wa.type} ${show(wa.value)})`)) continue;
    expectEqual(ga.type, wa.type, `${p}.type`, names);
    if (ga.type === wa.type) deepCompare(ga.value, wa.value, `${p}.value`, names);
  }
  for (const [key, ga] of g) {
    if (!w.has(key)) check(false, `${where}["${key}"]`, `unexpected attribute (${names[1]} ${ga.type} ${show(ga.value)})`);
  }
  check(got.length === want.length, `${where}.length`,
    `${names[0]} ${want.length} attributes, ${names[1]} ${got.length}`);
}

// Structural comparison of two canonical values; "attributes" lists are
// compared as maps.
function deepCompare(got, want, where, names = ['expected', 'got']) {
  if (Array.isArray(want) && Array.isArray(got)) {
    if (/(^|\.)attributes$/.test(where) || (/\.value$/.test(where) && want.every((x) => x && 'key' in x))) {
      compareAttributes(got, want, where, names);
      return;
    }
    if (!expectEqual(got.length, want.length, `${where}.length`, names)) return;
    for (let i = 0; i < want.length; i++) deepCompare(got[i], want[i], `${where}[${i}]`, names);
    return;
  }
  if (want && got && typeof want === 'object' && typeof got === 'object' &&
      !Array.isArray(want) && !Array.isArray(got)) {
    const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
    for (const k of keys) {
      if (!(k in got)) check(false, `${where}.${k}`, `missing (${names[0]} ${show(want[k])})`);
      else if (!(k in want)) check(false, `${where}.${k}`, `unexpected (${names[1]} ${show(got[k])})`);
      else deepCompare(got[k], want[k], `${where}.${k}`, names);
    }
    return;
  }
  expectEqual(got, want, where, names);
}

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

function hex(n) {
  return `0x${n.toString(16).padStart(3, '0')}`;
}

// OTLP flags: the W3C trace flags in bits 0-7; bit 8 says whether the
// remote-ness is known and bit 9 whether the parent (or linked context) is
// remote. rpctrace knows it for a span's parent, so both bits must be right.
function checkSpanFlags(got, traceFlags, parentRemote, where) {
  const want = traceFlags | HAS_IS_REMOTE | (parentRemote ? IS_REMOTE : 0);
  check(got === want, where, `expected ${hex(want)} (trace flags ${hex(traceFlags)}, parent ` +
    `${parentRemote ? 'remote' : 'local or none'}), got ${hex(got)}`);
}

// For a link, "unknown" (bit 8 clear) is allowed; a stated remote-ness must
// be the true one.
function checkLinkFlags(got, traceFlags, remote, where) {
  const known = traceFlags | HAS_IS_REMOTE | (remote ? IS_REMOTE : 0);
  const unknown = traceFlags;
  check(got === known || got === unknown, where,
    `expected ${hex(known)} (or ${hex(unknown)}: remote-ness unknown) for a ` +
    `${remote ? 'remote' : 'local'} context with trace flags ${hex(traceFlags)}, got ${hex(got)}` +
    ((got & HAS_IS_REMOTE) && Boolean(got & IS_REMOTE) !== remote
      ? ` (says the linked context is ${got & IS_REMOTE ? 'remote' : 'not remote'})` : ''));
}

function compareWithExpectations(entry, exp, where, expected) {
  const s = entry.span;
  expectEqual(s.traceId, exp.traceId, `${where}.traceId`);
  expectEqual(s.spanId, exp.spanId, `${where}.spanId`);
  expectEqual(s.parentSpanId, exp.parentSpanId, `${where}.parentSpanId`);
  expectEqual(s.traceState, exp.traceState, `${where}.traceState`);
  checkSpanFlags(s.flags, exp.traceFlags, exp.parentRemote, `${where}.flags`);
  expectEqual(s.name, exp.name, `${where}.name`);
  expectEqual(s.kind, exp.kind, `${where}.kind`);
  expectEqual(s.startTimeUnixNano, exp.startTimeUnixNano, `${where}.startTimeUnixNano`);
  expectEqual(s.endTimeUnixNano, exp.endTimeUnixNano, `${where}.endTimeUnixNano`);
  compareAttributes(s.attributes, exp.attributes, `${where}.attributes`);
  expectEqual(s.droppedAttributesCount, 0, `${where}.droppedAttributesCount`);
  expectEqual(s.status.code, exp.status.code, `${where}.status.code`);
  expectEqual(s.status.message, exp.status.message, `${where}.status.message`);
  if (expectEqual(s.events.length, exp.events.length, `${where}.events.length`)) {
    exp.events.forEach((e, i) => {
      const g = s.events[i];
      const w = `${where}.events[${i}]`;
      expectEqual(g.timeUnixNano, e.timeUnixNano, `${w}.timeUnixNano`);
      expectEqual(g.name, e.name, `${w}.name`);
      compareAttributes(g.attributes, e.attributes, `${w}.attributes`);
      expectEqual(g.droppedAttributesCount, 0, `${w}.droppedAttributesCount`);
    });
  }
  expectEqual(s.droppedEventsCount, 0, `${where}.droppedEventsCount`);
  if (expectEqual(s.links.length, exp.links.length, `${where}.links.length`)) {
    exp.links.forEach((l, i) => {
      const g = s.links[i];
      const w = `${where}.links[${i}]`;
      expectEqual(g.traceId, l.traceId, `${w}.traceId`);
      expectEqual(g.spanId, l.spanId, `${w}.spanId`);
      expectEqual(g.traceState, l.traceState, `${w}.traceState`);
      checkLinkFlags(g.flags, l.traceFlags, l.remote, `${w}.flags`);
      compareAttributes(g.attributes, l.attributes, `${w}.attributes`);
      expectEqual(g.droppedAttributesCount, 0, `${w}.droppedAttributesCount`);
    });
  }
  expectEqual(s.droppedLinksCount, 0, `${where}.droppedLinksCount`);
  compareAttributes(entry.resource.attributes, expected.resource.attributes, `${where}<resource>.attributes`);
  expectEqual(entry.resource.droppedAttributesCount, 0, `${where}<resource>.droppedAttributesCount`);
  expectEqual(entry.scope.name, expected.scope.name, `${where}<scope>.name`);
  expectEqual(entry.scope.version, expected.scope.version, `${where}<scope>.version`);
}

function bySpanId(entries, label) {
  const m = new Map();
  for (const e of entries) {
    if (m.has(e.span.spanId)) {
      check(false, e.where, `${label}: span id ${e.span.spanId} appears more than once (also at ${m.get(e.span.spanId).where})`);
    } else {
      m.set(e.span.spanId, e);
    }
  }
  return m;
}

// The expectations come from the C client; pin the facts it was built from
// (the W3C example traceparent it parses, the resource it sets), so that a
// C side that lost them cannot make both sides agree on the wrong thing.
const KNOWN_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const KNOWN_PARENT_ID = '00f067aa0ba902b7';
const KNOWN_TRACESTATE = 'congo=t61rcWkgMzE';

function checkExpectations(expected) {
  const byKind = (k) => expected.spans.filter((s) => s.kind === k);
  const [server] = byKind(2);
  const [internal] = byKind(1);
  const [client] = byKind(3);
  if (!check(Boolean(server && internal && client) && expected.spans.length === 3, 'expectations',
    'expected one SERVER, one INTERNAL and one CLIENT span')) return;
  expectEqual(client.name, 'user.v1.UserService/GetUser', 'expectations: CLIENT span name');
  expectEqual(client.parentSpanId, '', 'expectations: CLIENT span is a root');
  expectEqual(server.traceId, KNOWN_TRACE_ID, 'expectations: SERVER span trace id (from the traceparent)');
  expectEqual(server.parentSpanId, KNOWN_PARENT_ID, 'expectations: SERVER span parent (from the traceparent)');
  expectEqual(server.parentRemote, true, 'expectations: SERVER span parent is remote');
  expectEqual(server.traceState, KNOWN_TRACESTATE, 'expectations: SERVER span trace state (inherited)');
  expectEqual(internal.traceId, KNOWN_TRACE_ID, 'expectations: INTERNAL span trace id');
  expectEqual(internal.parentSpanId, server.spanId, 'expectations: INTERNAL span parent is the SERVER span');
  expectEqual(internal.traceState, KNOWN_TRACESTATE, 'expectations: INTERNAL span trace state (inherited)');
  const res = new Map(expected.resource.attributes.map((a) => [a.key, a.value]));
  expectEqual(res.get('service.name'), 'interop-client', 'expectations: resource service.name');
  expectEqual(res.get('deployment.environment'), 'test', 'expectations: resource deployment.environment');
}

// (a) the decoded protobuf against what the C side recorded.
function checkProtobuf(rx, expected) {
  for (const ev of rx.events) {
    if (ev.type === 'decode_error') {
      check(false, `grpc[${ev.index}]`, `ExportTraceServiceRequest.decode failed: ${ev.message} ` +
        `(${ev.size} bytes, base64 ${ev.base64.slice(0, 200)})`);
    }
  }
  check(rx.badLines.length === 0, 'receiver output', `unparsable line(s): ${rx.badLines.join(' | ')}`);
  const requests = rx.events.filter((e) => e.type === 'request');
  check(requests.length === expected.spans.length, 'grpc requests',
    `expected ${expected.spans.length} Export requests (one per span: simple processor), got ${requests.length}`);
  const entries = model.flattenSpans(requests.map((r) => r.request), 'grpc');
  const m = bySpanId(entries, 'grpc');
  const wanted = new Set();
  for (const exp of expected.spans) {
    wanted.add(exp.spanId);
    const e = m.get(exp.spanId);
    const where = `grpc span "${exp.name}" ${exp.spanId}`;
    if (!check(e !== undefined, where, 'not received')) continue;
    compareWithExpectations(e, exp, `${where} (${e.where})`, expected);
  }
  for (const e of entries) {
    if (!wanted.has(e.span.spanId)) check(false, e.where, `unexpected span "${e.span.name}" ${e.span.spanId}`);
  }
  return entries;
}

// (b) the JSON lines against the decoded protobuf.
function checkJsonLines(jsonlPath, pbEntries, expected) {
  let text;
  try {
    text = fs.readFileSync(jsonlPath, 'utf8');
  } catch (e) {
    check(false, 'jsonl', `cannot read ${jsonlPath}: ${e.message}`);
    return;
  }
  check(text.length > 0 && text.endsWith('\n'), 'jsonl', 'the file must end with a newline');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  check(lines.length === expected.spans.length, 'jsonl lines',
    `expected ${expected.spans.length} lines (one per export call), got ${lines.length}`);
  const requests = [];
  lines.forEach((line, i) => {
    const where = `jsonl line ${i + 1}`;
    let obj;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      check(false, where, `JSON.parse: ${e.message}: ${line.slice(0, 300)}`);
      return;
    }
    check(true, `${where} parses`);
    try {
      requests.push(model.fromOtlpJson(obj, where));
      check(true, `${where} is OTLP/JSON`);
    } catch (e) {
      check(false, `${where} is not rpctrace's OTLP/JSON`, e.message);
    }
  });
  const entries = model.flattenSpans(requests, 'jsonl');
  const m = bySpanId(entries, 'jsonl');
  const seen = new Set();
  for (const pb of pbEntries) {
    seen.add(pb.span.spanId);
    const j = m.get(pb.span.spanId);
    const where = `jsonl span "${pb.span.name}" ${pb.span.spanId}`;
    if (!check(j !== undefined, where, 'not in the JSON lines')) continue;
    const want = { resource: pb.resource, resourceSchemaUrl: pb.resourceSchemaUrl, scope: pb.scope,
      scopeSchemaUrl: pb.scopeSchemaUrl, span: pb.span };
    const got = { resource: j.resource, resourceSchemaUrl: j.resourceSchemaUrl, scope: j.scope,
      scopeSchemaUrl: j.scopeSchemaUrl, span: j.span };
    deepCompare(got, want, where, ['protobuf has', 'JSON has']);
  }
  for (const j of entries) {
    if (!seen.has(j.span.spanId)) check(false, j.where, `span "${j.span.name}" ${j.span.spanId} was not received over gRPC`);
  }
}

// ---- main ----

async function main() {
  try {
    model.loadRoot();
    require.resolve('@grpc/grpc-js', { paths: [model.NODE_DIR] });
  } catch (e) {
    check(false, 'npm packages', e.code === 'RPCT_NPM_MISSING' ? e.message
      : `${e.message}; run scripts/npm-install.sh (make test and make npm run it)`);
    finish();
    return;
  }
  if (!check(fs.existsSync(clientPath), 'client', `no such program: ${clientPath}`)) {
    finish();
    return;
  }

  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rpct-otlp-interop-'));
  const jsonlPath = path.join(scratch, 'spans.jsonl');
  const expectPath = path.join(scratch, 'expected.json');

  const rx = startReceiver();
  const port = await rx.portPromise;
  if (!check(Number.isInteger(port) && port > 0, 'receiver', `did not report a port${rx.stderr ? `: ${rx.stderr.trim()}` : ''}`)) {
    finish();
    return;
  }

  const r = await runClient(port, jsonlPath, expectPath);
  if (r.error) check(false, 'client', r.error);
  else check(r.code === 0, 'client exit status', `expected 0, got ${r.code === null ? `signal ${r.signal}` : r.code}`);

  let expected = null;
  try {
    expected = JSON.parse(fs.readFileSync(expectPath, 'utf8'));
  } catch (e) {
    check(false, 'expectations', `cannot read ${expectPath}: ${e.message}`);
  }

  // Each export got its reply after the receiver wrote its line; give the
  // pipe a moment to deliver them all, then stop the receiver.
  const want = expected ? expected.spans.length : 0;
  for (let waited = 0; waited < 3000; waited += 50) {
    const n = rx.events.filter((e) => e.type === 'request' || e.type === 'decode_error').length;
    if (!expected || n >= want) break;
    await sleep(50);
  }
  rx.child.stdin.end();
  rx.child.kill('SIGTERM');
  const rxExit = await waitExit(rx.child, 3000);
  check(rxExit !== null && rxExit.code === 0, 'receiver exit status',
    rxExit === null ? 'did not exit (killed)' : `expected 0, got ${rxExit.code === null ? `signal ${rxExit.signal}` : rxExit.code}`);

  if (expected) {
    checkExpectations(expected);
    const pbEntries = checkProtobuf(rx, expected);
    checkJsonLines(jsonlPath, pbEntries, expected);
  }
  clearTimeout(overall);
  finish();
}

main().catch((e) => {
  check(false, 'check_otlp', e && e.stack ? e.stack : String(e));
  finish();
});
