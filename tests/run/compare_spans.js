// Checks for run.same_spans_as_linked (compare_run.sh runs the programs and
// writes the files; this reads them and decides).
//
//   node compare_spans.js WORK_DIR N_CLIENT_RUNS N_GET_USER
//
// WORK_DIR holds, for each mode (linked: user_server/user_client linked
// with rpctrace::wrap; run: the *_untraced programs under `rpctrace run`):
//   MODE_server.jsonl, MODE_client.jsonl   OTLP/JSON lines the exporters wrote
//   MODE_server.out, .err, .rc             the server's output and exit status
//   MODE_client_I.out, .err, .rc           each client run's, I = 1..N_CLIENT_RUNS
//
// Checks, each printed as "ok" or "FAIL" with what differs:
//   - every file parses; the spans carry the service names given
//     (user-service, user-client), CLIENT spans come from the client and
//     SERVER spans from the server;
//   - in each mode, one CLIENT span per client run, each a root, and the
//     RPCs pair up: every SERVER span's parent is a CLIENT span of the same
//     trace and name, and every CLIENT span has exactly one SERVER child;
//   - between modes, the multisets of CLIENT spans and of SERVER spans are
//     equal, a span being (kind, name, status code, rpc.grpc.status_code,
//     rpc.system, rpc.service, rpc.method); so are their attribute keys;
//   - INTERNAL spans: the linked server has one users.lookup per GetUser
//     call, each a child of a SERVER span of its trace; the run mode has
//     none (the untraced build makes no rpctrace call);
//   - the programs behave alike: same client output and exit statuses, and
//     the same server output once ports and trace ids are masked.
// Prints "N passed, M failed"; exits 1 when anything failed.
'use strict';

const fs = require('fs');
const path = require('path');

const [dir, nRunsArg, nGetArg] = process.argv.slice(2);
if (!dir || !nRunsArg || !nGetArg) {
  console.error('usage: node compare_spans.js WORK_DIR N_CLIENT_RUNS N_GET_USER');
  process.exit(2);
}
const nRuns = Number(nRunsArg);
const nGetUser = Number(nGetArg);

const MODES = {linked: 'linked build (rpctrace::wrap)', run: 'rpctrace run (LD_PRELOAD)'};
const SERVICE = {server: 'user-service', client: 'user-client'};

let passed = 0;
let failed = 0;
function check(ok, what, details) {
  if (ok) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}`);
    for (const line of [].concat(details || [])) console.log(`       ${line}`);
  }
}

// ---- reading OTLP/JSON ----

const KIND_NAMES = {
  SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5,
};
const KIND_LABEL = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS_NAMES = {STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2};

function enumValue(v, names) {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (v in names) return names[v];
  return Number(v);
}

function attrValue(v) {
  if (!v) return undefined;
  for (const k of ['stringValue', 'intValue', 'boolValue', 'doubleValue']) {
    if (k in v) return String(v[k]);
  }
  return JSON.stringify(v);
}

function attrMap(list) {
  const m = new Map();
  for (const a of list || []) m.set(a.key, attrValue(a.value));
  return m;
}

// The spans of one file as plain records; problems go to `errors`.
function readSpans(file, errors) {
  const spans = [];
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    errors.push(`${path.basename(file)}: ${e.message}`);
    return spans;
  }
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      errors.push(`${path.basename(file)}:${i + 1}: not JSON (${e.message})`);
      return;
    }
    for (const rs of req.resourceSpans || []) {
      const service = attrMap(rs.resource && rs.resource.attributes).get('service.name');
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          const attrs = attrMap(s.attributes);
          spans.push({
            file: path.basename(file),
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || '',
            name: s.name,
            kind: enumValue(s.kind, KIND_NAMES),
            status: enumValue(s.status && s.status.code, STATUS_NAMES),
            attrs,
          });
        }
      }
    }
  });
  return spans;
}

// What must be equal between the two modes.
function spanKey(s) {
  const a = (k) => (s.attrs.has(k) ? s.attrs.get(k) : '-');
  return `${KIND_LABEL[s.kind] || s.kind} ${s.name} status=${s.status}` +
      ` rpc.grpc.status_code=${a('rpc.grpc.status_code')} rpc.system=${a('rpc.system')}` +
      ` rpc.service=${a('rpc.service')} rpc.method=${a('rpc.method')}`;
}

function keysKey(s) {
  return `${KIND_LABEL[s.kind] || s.kind} ${s.name}: ${[...s.attrs.keys()].sort().join(',')}`;
}

function multiset(items) {
  const m = new Map();
  for (const k of items) m.set(k, (m.get(k) || 0) + 1);
  return m;
}

// Lines telling how two multisets differ; empty when equal.
function multisetDiff(a, b, nameA, nameB) {
  const lines = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(k) || 0;
    const y = b.get(k) || 0;
    if (x !== y) lines.push(`${nameA} ${x}x, ${nameB} ${y}x: ${k}`);
  }
  return lines;
}

// ---- spans of each mode ----

const runs = {};
for (const mode of Object.keys(MODES)) {
  const errors = [];
  const server = readSpans(path.join(dir, `${mode}_server.jsonl`), errors);
  const client = readSpans(path.join(dir, `${mode}_client.jsonl`), errors);
  check(errors.length === 0 && server.length > 0 && client.length > 0,
        `${MODES[mode]}: both span files parse and hold spans ` +
        `(server ${server.length}, client ${client.length})`, errors);
  const wrongService = [];
  for (const [side, spans] of [['server', server], ['client', client]]) {
    for (const s of spans) {
      if (s.service !== SERVICE[side])
        wrongService.push(`${s.file}: ${s.name} has service.name ${s.service}, not ${SERVICE[side]}`);
      const expectKind = side === 'server' ? [1, 2] : [3];
      if (!expectKind.includes(s.kind))
        wrongService.push(`${s.file}: ${KIND_LABEL[s.kind] || s.kind} span ${s.name} in the ${side}'s file`);
    }
  }
  check(wrongService.length === 0,
        `${MODES[mode]}: server spans are user-service's SERVER/INTERNAL spans, client spans user-client's CLIENT spans`,
        wrongService);
  runs[mode] = {server, client, all: server.concat(client)};
}

// ---- pairs within each mode ----

for (const mode of Object.keys(MODES)) {
  const {all} = runs[mode];
  const clients = all.filter((s) => s.kind === 3);
  const servers = all.filter((s) => s.kind === 2);
  const byId = new Map(all.map((s) => [`${s.traceId}/${s.spanId}`, s]));

  check(clients.length === nRuns && clients.every((s) => !s.parentSpanId),
        `${MODES[mode]}: ${nRuns} CLIENT spans, one per client run, each the root of its trace`,
        clients.length !== nRuns ? `found ${clients.length} CLIENT spans`
                                 : clients.filter((s) => s.parentSpanId)
                                       .map((s) => `${s.name} has parent ${s.parentSpanId}`));

  const problems = [];
  const children = new Map(clients.map((c) => [c, 0]));
  for (const s of servers) {
    const parent = byId.get(`${s.traceId}/${s.parentSpanId}`);
    if (!parent) {
      problems.push(`SERVER ${s.name} (trace ${s.traceId}): parent ${s.parentSpanId || '(none)'} is no span of this trace`);
    } else if (parent.kind !== 3) {
      problems.push(`SERVER ${s.name}: parent is a ${KIND_LABEL[parent.kind]} span (${parent.name}), not a CLIENT span`);
    } else if (parent.name !== s.name) {
      problems.push(`SERVER ${s.name}: parent is the CLIENT span of ${parent.name}`);
    } else {
      children.set(parent, children.get(parent) + 1);
    }
  }
  for (const [c, n] of children) {
    if (n !== 1) problems.push(`CLIENT ${c.name} (trace ${c.traceId}) has ${n} SERVER children`);
  }
  check(problems.length === 0 && servers.length === clients.length,
        `${MODES[mode]}: ${servers.length} SERVER spans pair with the ${clients.length} CLIENT spans ` +
        '(parent: the CLIENT span of the same trace and method, one each)',
        problems.length ? problems : [`${servers.length} SERVER spans for ${clients.length} CLIENT spans`]);
}

// ---- the same spans in both modes ----

for (const [kind, label] of [[3, 'CLIENT'], [2, 'SERVER']]) {
  const a = multiset(runs.linked.all.filter((s) => s.kind === kind).map(spanKey));
  const b = multiset(runs.run.all.filter((s) => s.kind === kind).map(spanKey));
  const diff = multisetDiff(a, b, 'linked', 'run');
  check(diff.length === 0,
        `same ${label} spans in both modes (kind, name, status, rpc.grpc.status_code, rpc.system, rpc.service, rpc.method)`,
        diff);
  if (diff.length === 0) for (const [k, n] of a) console.log(`       ${n}x ${k}`);
}

{
  const rpcSpans = (mode) => runs[mode].all.filter((s) => s.kind === 2 || s.kind === 3).map(keysKey);
  const diff = multisetDiff(multiset(rpcSpans('linked')), multiset(rpcSpans('run')), 'linked', 'run');
  check(diff.length === 0, 'same attribute keys on the CLIENT and SERVER spans of both modes', diff);
}

// ---- INTERNAL spans: the linked build's own ----

{
  const internal = runs.linked.all.filter((s) => s.kind === 1);
  const problems = [];
  const byId = new Map(runs.linked.all.map((s) => [`${s.traceId}/${s.spanId}`, s]));
  for (const s of internal) {
    const parent = byId.get(`${s.traceId}/${s.parentSpanId}`);
    if (s.name !== 'users.lookup') problems.push(`unexpected INTERNAL span ${s.name}`);
    else if (!parent || parent.kind !== 2 || parent.name !== 'user.v1.UserService/GetUser')
      problems.push(`users.lookup (trace ${s.traceId}) is not a child of a GetUser SERVER span`);
  }
  check(internal.length === nGetUser && problems.length === 0,
        `linked build: ${nGetUser} INTERNAL users.lookup spans (the GetUser handler's rpct_span_*), ` +
        'each a child of its SERVER span', problems.length ? problems : [`found ${internal.length}`]);
  const runInternal = runs.run.all.filter((s) => s.kind === 1);
  check(runInternal.length === 0,
        'rpctrace run: no INTERNAL span (the untraced build calls no rpctrace API; only the RPCs are traced)',
        runInternal.map((s) => `INTERNAL ${s.name}`));
}

// ---- the programs behave alike ----

function read(name) {
  try {
    return fs.readFileSync(path.join(dir, name), 'utf8');
  } catch (e) {
    return `(cannot read ${name}: ${e.code || e.message})`;
  }
}

function textDiff(a, b, what) {
  if (a === b) return [];
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) {
      return [`${what}, first difference at line ${i + 1}:`,
              `  linked: ${JSON.stringify(la[i])}`, `  run:    ${JSON.stringify(lb[i])}`];
    }
  }
  return [`${what} differ`];
}

{
  const diff = [];
  for (let i = 1; i <= nRuns; i++) {
    for (const ext of ['out', 'err', 'rc']) {
      const name = `client_${i}.${ext}`;
      diff.push(...textDiff(read(`linked_${name}`), read(`run_${name}`), name));
    }
  }
  check(diff.length === 0, `the client runs print the same and exit alike in both modes (${nRuns} runs)`, diff);
}

{
  // The ids in the linked server's log lines are real, the untraced
  // server's all zeros; the port is a free one each time.
  const mask = (t) => t.replace(/\b(trace_id|span_id|trace_flags)=[0-9a-f]+/g, '$1=<id>')
                       .replace(/(listening on [^\s:]+):\d+/g, '$1:<port>');
  const diff = [];
  for (const ext of ['out', 'err', 'rc']) {
    diff.push(...textDiff(mask(read(`linked_server.${ext}`)), mask(read(`run_server.${ext}`)),
                          `server.${ext}`));
  }
  const rcs = ['linked', 'run'].map((m) => read(`${m}_server.rc`).trim());
  if (rcs.some((rc) => rc !== '0')) diff.push(`server exit status after SIGTERM: linked ${rcs[0]}, run ${rcs[1]}`);
  check(diff.length === 0,
        'the server prints the same in both modes (ports and trace ids masked) and exits 0 on SIGTERM', diff);
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
