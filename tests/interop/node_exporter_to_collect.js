#!/usr/bin/env node
'use strict';
// interop.node_exporter_to_collect: `rpctrace collect` receives spans from
// the OpenTelemetry JS SDK's OTLP/gRPC exporter
// (@opentelemetry/exporter-trace-otlp-grpc) and from rpctrace's own
// OTLP/gRPC exporter into one file, and `rpctrace view` shows both.
//
//   1. starts `rpctrace collect --listen 127.0.0.1:0 --out FILE` and reads
//      the port from its "rpctrace collect: listening on 127.0.0.1:PORT";
//   2. Node side, in this process: a BasicTracerProvider (resource
//      service.name=node-client) with a BatchSpanProcessor over
//      OTLPTraceExporter({ url: 'http://127.0.0.1:PORT' }) records a SERVER
//      span "node.handle_order" and its INTERNAL child "node.reserve_stock"
//      (attributes on both; the child fails with "out of stock"), then
//      flushes and shuts down; every export must report SUCCESS;
//   3. C side: otlp_interop_client (service interop-client; three spans
//      through our OTLP/gRPC exporter, with a simple processor) against the
//      same port; it writes what it recorded to an expectations file;
//   4. SIGTERM to the collector, which must exit 0;
//   5. FILE, read with JSON.parse, holds exactly those five spans, under
//      their two services, with their ids, parents and names;
//   6. `rpctrace view FILE` exits 0 and shows both: the Node trace's header
//      (its id, both services' names where they belong, ERROR), a line per
//      span with its service and name (the child indented under its parent,
//      the failure's message shown), and every C span the same way;
//      `rpctrace view FILE --trace ID` shows each trace alone.
//
// Every mismatch is printed; the last line is "N passed, N failed"; exit
// status 1 on any failure. Everything runs on loopback, bounded by
// --timeout-ms (60 s); children are killed on every way out.
//
// Usage:
//   node node_exporter_to_collect.js RPCTRACE CLIENT [--timeout-ms N] [--keep]
//     RPCTRACE  the rpctrace command (build/tools/rpctrace)
//     CLIENT    otlp_interop_client (build/tests/interop/otlp_interop_client)
//     --keep    keep the scratch folder (collected file, logs) on success
//   node node_exporter_to_collect.js --export-only URL
//     only step 2, against an OTLP/gRPC receiver at URL (http://HOST:PORT);
//     prints what it sent as one JSON line.
//
// The npm packages are pinned in node/package-lock.json and installed by
// scripts/npm-install.sh.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { createRequire } = require('node:module');

const NODE_DIR = path.join(__dirname, 'node');
// Every package from tests/interop/node/node_modules, so the SDK and this
// script share one @opentelemetry/api.
const nodeRequire = createRequire(path.join(NODE_DIR, 'package.json'));

const SERVICE = 'node-client';
const PARENT_NAME = 'node.handle_order';
const CHILD_NAME = 'node.reserve_stock';
const CHILD_ERROR = 'out of stock';

// Nothing from the caller's OpenTelemetry setup, and no proxy between the
// exporters and the loopback collector (grpc-js and gRPC core both honour
// the proxy variables).
function cleanEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('OTEL_') || k.startsWith('RPCTRACE_')) continue;
    if (/^(https?_proxy|grpc_proxy|all_proxy|no_proxy)$/i.test(k)) continue;
    out[k] = v;
  }
  return out;
}

// ---- the Node side: OpenTelemetry JS SDK + OTLP/gRPC exporter ----

// Records the two spans and exports them to `url`. Resolves with what was
// sent ({ traceId, spans: [{ spanId, parentSpanId, name }], exports:
// [{ spans, code, error }] }); an export's code 0 is ExportResultCode.SUCCESS.
async function exportNodeSpans(url) {
  const api = nodeRequire('@opentelemetry/api');
  const { BasicTracerProvider, BatchSpanProcessor } = nodeRequire('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = nodeRequire('@opentelemetry/resources');
  const { OTLPTraceExporter } = nodeRequire('@opentelemetry/exporter-trace-otlp-grpc');

  // The SDK reports export failures through its diag logger.
  api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);

  const inner = new OTLPTraceExporter({ url, timeoutMillis: 10000 });
  const exports = [];
  // The processor drops export results; this wrapper keeps them.
  const exporter = {
    export(spans, done) {
      inner.export(spans, (result) => {
        exports.push({ spans: spans.length, code: result.code, error: result.error ? String(result.error) : null });
        done(result);
      });
    },
    shutdown() { return inner.shutdown(); },
    forceFlush() { return inner.forceFlush ? inner.forceFlush() : Promise.resolve(); },
  };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE, 'deployment.environment': 'test' }),
    // One batch, sent by forceFlush below: both spans in one request.
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000 })],
  });
  const tracer = provider.getTracer('rpctrace.interop.node', '0.0.1');

  const parent = tracer.startSpan(PARENT_NAME, {
    kind: api.SpanKind.SERVER,
    attributes: { 'rpc.system': 'grpc', 'node.order_id': 42, 'node.customer': 'ada' },
  });
  // No context manager is registered: the parent is passed explicitly.
  const ctx = api.trace.setSpan(api.ROOT_CONTEXT, parent);
  const child = tracer.startSpan(CHILD_NAME, {
    kind: api.SpanKind.INTERNAL,
    attributes: { 'node.items': 3, 'node.cached': false },
  }, ctx);
  child.addEvent('stock.checked', { 'node.warehouse': 'north' });
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: CHILD_ERROR });
  child.end();
  parent.end();

  await provider.forceFlush();
  await provider.shutdown();

  const p = parent.spanContext();
  const c = child.spanContext();
  return {
    traceId: p.traceId,
    spans: [
      { spanId: p.spanId, parentSpanId: '', name: PARENT_NAME },
      { spanId: c.spanId, parentSpanId: p.spanId, name: CHILD_NAME },
    ],
    exports,
  };
}

if (process.argv[2] === '--export-only') {
  const url = process.argv[3];
  if (!url || process.argv.length > 4) {
    process.stderr.write('usage: node node_exporter_to_collect.js --export-only http://HOST:PORT\n');
    process.exit(64);
  }
  for (const k of Object.keys(process.env)) {
    if (k.startsWith('OTEL_') || /^(https?_proxy|grpc_proxy|all_proxy)$/i.test(k)) delete process.env[k];
  }
  exportNodeSpans(url).then((sent) => {
    console.log(JSON.stringify(sent));
    const ok = sent.exports.length > 0 && sent.exports.every((e) => e.code === 0);
    process.exit(ok ? 0 : 1);
  }, (e) => {
    console.error(`node_exporter_to_collect: ${e.stack || e}`);
    process.exit(1);
  });
  return;
}

// ---- the driver: arguments ----

const USAGE = 'usage: node node_exporter_to_collect.js RPCTRACE CLIENT [--timeout-ms N] [--keep]\n' +
  '       node node_exporter_to_collect.js --export-only http://HOST:PORT\n';
const positional = [];
let timeoutMs = 60000;
let keep = false;
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--timeout-ms' && i + 1 < args.length) timeoutMs = Number(args[++i]);
    else if (a === '--keep') keep = true;
    else if (!a.startsWith('-')) positional.push(a);
    else {
      process.stderr.write(`node_exporter_to_collect: unknown argument ${a}\n${USAGE}`);
      process.exit(64);
    }
  }
}
if (positional.length !== 2 || !Number.isInteger(timeoutMs) || timeoutMs <= 0) {
  process.stderr.write(USAGE);
  process.exit(64);
}
const [rpctrace, clientPath] = positional.map((p) => path.resolve(p));

// The exporter in this process must not see the caller's OTEL_* or proxies.
for (const k of Object.keys(process.env)) {
  if (k.startsWith('OTEL_') || /^(https?_proxy|grpc_proxy|all_proxy)$/i.test(k)) delete process.env[k];
}

// ---- results, children, scratch, deadline ----

let passed = 0;
let failed = 0;

function check(ok, what) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
  return ok;
}

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
    else console.log(`node_exporter_to_collect: scratch files kept in ${scratch}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

const overall = setTimeout(() => {
  check(false, `the whole check took more than ${timeoutMs} ms`);
  finish();
}, timeoutMs);
overall.unref();

process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    check(false, `interrupted by ${sig}`);
    finish();
  });
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

function describeExit(r) {
  if (r === null) return 'did not exit in time';
  return r.code === null ? `killed by ${r.signal}` : `exit status ${r.code}`;
}

// Runs a program to its end (killed after `ms`); resolves with its exit,
// stdout and stderr.
function run(file, argv, ms) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(process.env) });
    } catch (e) {
      resolve({ exit: null, error: e.message, stdout: '', stderr: '' });
      return;
    }
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.once('error', (e) => resolve({ exit: null, error: e.message, stdout, stderr }));
    waitExit(child, ms).then((exit) => {
      if (exit === null) child.kill('SIGKILL');
      // Let the pipes drain.
      setImmediate(() => resolve({ exit, error: null, stdout, stderr }));
    });
  });
}

// ---- the collector ----

function startCollector(out) {
  const child = spawn(rpctrace, ['collect', '--listen', '127.0.0.1:0', '--out', out],
    { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(process.env) });
  children.add(child);
  const state = { child, stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  state.port = new Promise((resolve) => {
    const t = setTimeout(() => resolve({ error: 'printed no "listening on" line within 10 s' }), 10000);
    child.stdout.on('data', (c) => {
      state.stdout += c;
      const m = /^rpctrace collect: listening on 127\.0\.0\.1:([0-9]+)$/m.exec(state.stdout);
      if (m) {
        clearTimeout(t);
        resolve({ port: Number(m[1]) });
      }
    });
    child.once('error', (e) => { clearTimeout(t); resolve({ error: e.message }); });
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ error: `exited (${describeExit({ code, signal })}) before listening: ${state.stderr.trim()}` });
    });
  });
  child.stderr.on('data', (c) => { state.stderr += c; });
  return state;
}

// ---- the collected file ----

// Every span of the OTLP/JSON lines file: { service, traceId, spanId,
// parentSpanId, name, statusCode, statusMessage }.
function readCollected(file) {
  const spans = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      check(false, `${path.basename(file)}:${i + 1} is not JSON: ${e.message}`);
      return;
    }
    for (const rs of req.resourceSpans || []) {
      const attrs = (rs.resource && rs.resource.attributes) || [];
      const svc = attrs.find((a) => a.key === 'service.name');
      const service = svc && svc.value ? svc.value.stringValue : undefined;
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          spans.push({
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || '',
            name: s.name,
            statusCode: (s.status && s.status.code) || 0,
            statusMessage: (s.status && s.status.message) || '',
          });
        }
      }
    }
  });
  return spans;
}

// ---- checks of `rpctrace view`'s text ----

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// The line showing span `name` of `service`: "<indent><service> <name>".
// Returns { line, indent } or null.
function spanLine(text, service, name) {
  const re = new RegExp(`^(\\s*)(?:\\S+\\s+)?${escapeRe(service)} ${escapeRe(name)}(?:\\s|$)`, 'm');
  const m = re.exec(text);
  if (!m) return null;
  const end = text.indexOf('\n', m.index);
  return { line: text.slice(m.index, end < 0 ? undefined : end), indent: m[1].length };
}

// ---- main ----

async function main() {
  try {
    for (const p of ['@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/resources',
      '@opentelemetry/exporter-trace-otlp-grpc']) {
      nodeRequire.resolve(p);
    }
  } catch (e) {
    check(false, `npm packages: ${e.message.split('\n')[0]}; run scripts/npm-install.sh ` +
      '(make test and make npm run it)');
    finish();
    return;
  }
  for (const [what, p] of [['rpctrace', rpctrace], ['client', clientPath]]) {
    if (!check(fs.existsSync(p), `${what}: no such program: ${p}`)) {
      finish();
      return;
    }
  }

  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rpct-node-collect-'));
  const collected = path.join(scratch, 'collected.jsonl');

  // 1. The collector.
  const col = startCollector(collected);
  const listening = await col.port;
  if (!check(!listening.error, `rpctrace collect ${listening.error}`)) {
    finish();
    return;
  }
  const url = `http://127.0.0.1:${listening.port}`;
  console.log(`node_exporter_to_collect: rpctrace collect on ${url}`);

  // 2. The Node SDK's OTLP/gRPC exporter.
  let sent = null;
  try {
    sent = await exportNodeSpans(url);
  } catch (e) {
    check(false, `the Node SDK failed: ${e.stack || e}`);
  }
  if (sent) {
    console.log(`node_exporter_to_collect: node-client trace ${sent.traceId}: ` +
      `${sent.exports.length} export(s): ${JSON.stringify(sent.exports)}`);
    check(sent.exports.length > 0, 'the Node exporter made no export');
    for (const e of sent.exports) {
      check(e.code === 0, `a Node export of ${e.spans} span(s) failed (code ${e.code}): ${e.error}`);
    }
    check(sent.exports.reduce((n, e) => n + e.spans, 0) === 2,
      'the Node exporter did not export exactly 2 spans');
  }

  // 3. Our OTLP/gRPC exporter (otlp_interop_client).
  const expectPath = path.join(scratch, 'client-expect.json');
  const client = await run(clientPath,
    [`127.0.0.1:${listening.port}`, path.join(scratch, 'client.jsonl'), expectPath, 'none'], 30000);
  fs.writeFileSync(path.join(scratch, 'client.log'), client.stdout + client.stderr);
  let expect = null;
  if (check(client.exit && client.exit.code === 0,
    `otlp_interop_client ${client.error || describeExit(client.exit)}: ${client.stderr.trim()}`)) {
    try {
      expect = JSON.parse(fs.readFileSync(expectPath, 'utf8'));
    } catch (e) {
      check(false, `otlp_interop_client's expectations: ${e.message}`);
    }
  }
  let cService = null;
  if (expect) {
    const a = (expect.resource.attributes || []).find((x) => x.key === 'service.name');
    cService = a ? a.value : null;
    check(cService === 'interop-client', `otlp_interop_client's service.name: ${cService}`);
  }

  // 4. Stop the collector: SIGTERM, clean exit.
  col.child.kill('SIGTERM');
  const colExit = await waitExit(col.child, 10000);
  fs.writeFileSync(path.join(scratch, 'collect.log'), col.stdout + col.stderr);
  check(colExit !== null && colExit.code === 0,
    `rpctrace collect after SIGTERM: ${describeExit(colExit)}: ${col.stderr.trim()}`);
  if (!check(fs.existsSync(collected), `rpctrace collect wrote no ${collected}`)) {
    finish();
    return;
  }

  // 5. The file: both services' spans, nothing else.
  const spans = readCollected(collected);
  const want = [];
  if (sent) {
    for (const s of sent.spans) want.push({ service: SERVICE, traceId: sent.traceId, ...s });
  }
  if (expect && cService) {
    for (const s of expect.spans) {
      want.push({ service: cService, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId,
        name: s.name, statusCode: s.status.code, statusMessage: s.status.message });
    }
  }
  check(spans.length === want.length,
    `the collected file has ${spans.length} spans, want ${want.length} (2 from Node, ${want.length - 2} from C)`);
  for (const w of want) {
    const got = spans.filter((s) => s.spanId === w.spanId && s.traceId === w.traceId);
    const where = `${w.service} span ${w.name} ${w.spanId}`;
    if (!check(got.length === 1, `${where}: ${got.length} copies in the collected file, want 1`)) continue;
    const g = got[0];
    check(g.service === w.service, `${where}: service.name ${g.service} in the file`);
    check(g.name === w.name, `${where}: named ${g.name} in the file`);
    check(g.parentSpanId === w.parentSpanId, `${where}: parent ${g.parentSpanId} in the file, want ${w.parentSpanId}`);
  }
  if (sent) {
    const c = spans.find((s) => s.spanId === sent.spans[1].spanId);
    check(c && c.statusCode === 2 && c.statusMessage === CHILD_ERROR,
      `the Node child's status in the file: ${c ? `${c.statusCode} ${c.statusMessage}` : 'missing'}`);
  }

  // 6. `rpctrace view` shows both.
  const view = await run(rpctrace, ['view', collected, '--ascii'], 30000);
  fs.writeFileSync(path.join(scratch, 'view.txt'), view.stdout + view.stderr);
  if (!check(view.exit && view.exit.code === 0,
    `rpctrace view ${view.error || describeExit(view.exit)}: ${view.stderr.trim()}`)) {
    finish();
    return;
  }
  process.stdout.write(view.stdout.replace(/^(?=.)/gm, 'view: '));
  check(view.stderr === '', `rpctrace view reported: ${view.stderr.trim()}`);
  const text = view.stdout;
  for (const w of want) {
    const where = `rpctrace view: ${w.service} ${w.name}`;
    check(text.includes(w.traceId), `${where}: its trace ${w.traceId} is not shown`);
    check(spanLine(text, w.service, w.name) !== null, `${where}: no line shows it`);
  }
  if (sent) {
    const p = spanLine(text, SERVICE, PARENT_NAME);
    const c = spanLine(text, SERVICE, CHILD_NAME);
    if (p && c) {
      check(c.indent > p.indent, `rpctrace view: ${CHILD_NAME} is not indented under ${PARENT_NAME}:\n${p.line}\n${c.line}`);
      check(c.line.includes(CHILD_ERROR), `rpctrace view: the failed ${CHILD_NAME} does not show "${CHILD_ERROR}": ${c.line}`);
    }
  }

  // Each trace alone, with --trace: its own spans and no other.
  const traces = [...new Set(want.map((w) => w.traceId))];
  for (const t of traces) {
    const one = await run(rpctrace, ['view', collected, '--trace', t, '--ascii'], 30000);
    if (!check(one.exit && one.exit.code === 0,
      `rpctrace view --trace ${t}: ${one.error || describeExit(one.exit)}: ${one.stderr.trim()}`)) continue;
    for (const w of want) {
      const shown = spanLine(one.stdout, w.service, w.name) !== null;
      // Two C spans share a name (client and server GetUser) but not a trace.
      const sameNameElsewhere = w.traceId !== t &&
        want.some((x) => x.traceId === t && x.service === w.service && x.name === w.name);
      if (w.traceId === t) check(shown, `rpctrace view --trace ${t}: ${w.service} ${w.name} is not shown`);
      else if (!sameNameElsewhere) check(!shown, `rpctrace view --trace ${t}: shows ${w.service} ${w.name} of trace ${w.traceId}`);
    }
  }

  finish();
}

main().catch((e) => {
  check(false, `unexpected error: ${e.stack || e}`);
  finish();
});
