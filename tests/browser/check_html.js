#!/usr/bin/env node
// browser.demo_html: the demo's traces as `rpctrace html` renders them,
// checked in headless Chromium, and the README's screenshot taken.
//
//   node check_html.js --build BUILD_DIR --demo scripts/demo.sh
//        [--chromium /usr/bin/chromium] [--work DIR] [--screenshot OUT.png]
//        [--keep]
//
// 1. Runs the multi-service demo (scripts/demo.sh) against BUILD_DIR's
//    programs, with its output redirected into WORK (a folder whose tools/
//    and examples/ are links to BUILD_DIR's), so BUILD_DIR/demo is left
//    alone. The demo's own checks must pass.
// 2. Reads WORK/demo/traces.jsonl with JSON.parse: every span's trace id,
//    span id, service.name, name and status code.
// 3. `rpctrace html traces.jsonl -o page.html` (run in WORK/demo, so the
//    page's heading says traces.jsonl), then Chromium, headless, with no
//    network (--dump-dom) serialises the page's DOM after it has loaded and
//    run its script. From that DOM:
//      - each trace of the file is one open <details class="trace"
//        data-trace-id=T>, and there is no other;
//      - each span of the file is one <details class="span" data-span-id=S
//        data-trace-id=T> inside the trace container of T, showing its
//        service and name; the DOM has no other span row;
//      - a span carries class "error" and the ✗ mark (title "error" or
//        "error: <status message>") if and only if its status code is 2
//        (ERROR); a trace that holds one says ERROR in its header, and only
//        such a trace does.
//    The demo's own WORK/demo/traces.html must name every span id as well.
// 4. Chromium takes a 1400x900 screenshot of the page (every trace is open
//    by default: the page has no state to pass); the PNG must decode (zlib,
//    filters), be 1400x900, hold enough ink and colours to be a waterfall,
//    not a blank or an error page. It is written to OUT.png; the README's
//    docs/waterfall.png is a copy of it.
//
// Every Chromium run is bounded (timeout 60 s), uses a new empty profile
// and resolves no host name. Without chromium the test fails, saying how
// to install it (scripts/bootstrap.sh). The last line is
// "N passed, N failed".
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');

// ---- arguments ----

function usage(msg) {
  if (msg) console.error(`check_html: ${msg}`);
  console.error(
    'usage: node check_html.js --build BUILD_DIR --demo DEMO_SH [--chromium PATH]\n' +
      '       [--work DIR] [--screenshot OUT.png] [--keep]');
  process.exit(2);
}

const opts = { chromium: 'chromium', keep: false };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--build') opts.build = value();
    else if (a === '--demo') opts.demo = value();
    else if (a === '--chromium') opts.chromium = value();
    else if (a === '--work') opts.work = value();
    else if (a === '--screenshot') opts.screenshot = value();
    else if (a === '--keep') opts.keep = true;
    else usage(`unknown argument '${a}'`);
  }
  if (!opts.build || !opts.demo) usage('--build and --demo are required');
}

// ---- results ----

let passed = 0;
let failed = 0;

function check(ok, what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
  return ok;
}

// A failure after which nothing else can be checked.
function fatal(what) {
  check(false, what);
  finish();
}

function finish() {
  if (failed) {
    console.log(`check_html: work files kept in ${work}`);
  } else if (!opts.keep && !opts.work) {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// ---- the work folder ----

const build = path.resolve(opts.build);
let work;
if (opts.work) {
  work = path.resolve(opts.work);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
} else {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rpct-browser-'));
}

// demo.sh BUILD reads BUILD/tools/rpctrace and BUILD/examples/* and writes
// BUILD/demo/: give it a BUILD of links, so its output lands in WORK/demo.
const demoBuild = path.join(work, 'build');
fs.mkdirSync(demoBuild);
for (const sub of ['tools', 'examples']) {
  fs.symlinkSync(path.join(build, sub), path.join(demoBuild, sub));
}
const rpctrace = path.join(build, 'tools', 'rpctrace');
const demoOut = path.join(demoBuild, 'demo');

// ---- Chromium ----

// The executable: the given path, or the name looked up on PATH.
function findExecutable(name) {
  if (name.includes('/')) return fs.existsSync(name) ? name : null;
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch (e) {
      // not here
    }
  }
  return null;
}

const chromium = findExecutable(opts.chromium) || findExecutable('/usr/bin/chromium');
let chromiumRuns = 0;

// Runs Chromium headless on a file:// URL with `extra` flags; returns its
// stdout. A new empty profile each time, no network of any kind, killed
// after 60 s. Chromium's stderr (dbus complaints and the like) goes to a
// log file, shown only when the run fails.
function runChromium(extra, file, what) {
  const n = ++chromiumRuns;
  const profile = fs.mkdtempSync(path.join(work, `chromium-profile-${n}-`));
  const log = path.join(work, `chromium-${n}.log`);
  const args = [
    '60', chromium,
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-extensions', '--disable-default-apps', '--no-default-browser-check',
    '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`,
    ...extra,
    'file://' + file,
  ];
  const r = spawnSync('timeout', args, {
    cwd: work,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: profile },
  });
  fs.writeFileSync(log, `$ timeout ${args.join(' ')}\n${r.stderr || ''}`);
  fs.rmSync(profile, { recursive: true, force: true });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message :
      r.status === 124 ? 'timed out after 60 s' : `exit status ${r.status}`;
    console.log((r.stderr || '').split('\n').slice(-15).join('\n'));
    fatal(`chromium ${what}: ${why} (log: ${log})`);
  }
  return r.stdout;
}

// ---- HTML text ----

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos|nbsp|middot);/g, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(cp);
    }
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', middot: '\u00b7' }[e];
  });
}

// A tag's text. Chromium serialises attribute values escaping only '&',
// '"' and no-break spaces, so a value (a title with a status message) may
// hold a raw '>': quoted values are skipped whole.
const TAG_BODY = '(?:[^>"\']|"[^"]*"|\'[^\']*\')*';

// The visible text of an HTML fragment.
function textOf(html) {
  return decodeEntities(html.replace(new RegExp(`<${TAG_BODY}>`, 'g'), ''));
}

function attrsOf(tagText) {
  const attrs = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
  let m;
  while ((m = re.exec(tagText))) {
    const v = m[2] !== undefined ? m[2] : m[3] !== undefined ? m[3] : m[4] !== undefined ? m[4] : '';
    attrs[m[1].toLowerCase()] = decodeEntities(v);
  }
  return attrs;
}

// Every <details> element of a serialised DOM, with its attributes, its
// inner HTML and the nearest enclosing <details class="trace">.
function detailsElements(html) {
  const re = new RegExp(`<(/?)details\\b(${TAG_BODY})>`, 'gi');
  const stack = [];
  const all = [];
  let m;
  while ((m = re.exec(html))) {
    if (!m[1]) {
      const attrs = attrsOf(m[2]);
      const classes = (attrs.class || '').split(/\s+/).filter(Boolean);
      const el = { attrs, classes, innerStart: re.lastIndex, inner: null, trace: null };
      for (let i = stack.length - 1; i >= 0; i--) {
        if (stack[i].classes.includes('trace')) {
          el.trace = stack[i];
          break;
        }
      }
      stack.push(el);
      all.push(el);
    } else {
      const el = stack.pop();
      if (!el) return { all, error: 'a </details> closes nothing' };
      el.inner = html.slice(el.innerStart, m.index);
    }
  }
  if (stack.length) return { all, error: `${stack.length} <details> never closed` };
  return { all, error: null };
}

// The <summary> of an element's inner HTML (its first child here).
function summaryOf(inner) {
  const m = /<summary\b[^>]*>([\s\S]*?)<\/summary>/i.exec(inner || '');
  return m ? m[1] : '';
}

// ---- PNG ----

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes):
// { width, height, channels, pixels } with the filters undone.
function decodePng(buf) {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(sig)) throw new Error('no PNG signature');
  let off = 8;
  let ihdr = null;
  const idat = [];
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') ihdr = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (!ihdr) throw new Error('no IHDR chunk');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const depth = ihdr[8];
  const colour = ihdr[9];
  const interlace = ihdr[12];
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
    throw new Error(`unsupported PNG (depth ${depth}, colour type ${colour}, interlace ${interlace})`);
  }
  const channels = colour === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error('image data has the wrong size');
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y ? pixels.subarray((y - 1) * stride, y * stride) : null;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0;
      const b = prev ? prev[x] : 0;
      const c = prev && x >= channels ? prev[x - channels] : 0;
      let v;
      switch (filter) {
        case 0: v = line[x]; break;
        case 1: v = line[x] + a; break;
        case 2: v = line[x] + b; break;
        case 3: v = line[x] + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v = line[x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default: throw new Error(`bad filter type ${filter} on row ${y}`);
      }
      out[x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

// ---- 1. the demo ----

if (!check(chromium !== null,
  `chromium not found (looked for '${opts.chromium}' and /usr/bin/chromium); ` +
  'install it with scripts/bootstrap.sh (Debian package chromium)')) {
  finish();
}

console.log(`check_html: running ${opts.demo} (output in ${demoOut})`);
{
  const r = spawnSync('bash', [opts.demo, demoBuild], {
    cwd: work,
    encoding: 'utf8',
    timeout: 150 * 1000,
    killSignal: 'SIGTERM',
    maxBuffer: 64 * 1024 * 1024,
  });
  fs.writeFileSync(path.join(work, 'demo.out'), (r.stdout || '') + (r.stderr || ''));
  if (r.error || r.status !== 0) {
    console.log((r.stdout || '') + (r.stderr || ''));
    fatal(`the demo failed: ${r.error ? r.error.message : `exit status ${r.status}`}`);
  }
  check(true, 'demo ran');
}

// ---- 2. the spans of the file ----

const jsonl = path.join(demoOut, 'traces.jsonl');
if (!check(fs.existsSync(jsonl), `the demo wrote no ${jsonl}`)) finish();

const spans = []; // { traceId, spanId, service, name, error }
{
  const lines = fs.readFileSync(jsonl, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      check(false, `${jsonl}:${i + 1}: not JSON: ${e.message}`);
      return;
    }
    for (const rs of req.resourceSpans || []) {
      const attrs = (rs.resource && rs.resource.attributes) || [];
      const svc = attrs.find((a) => a.key === 'service.name');
      const service = svc && svc.value ? svc.value.stringValue || '' : '';
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            service,
            name: s.name || '',
            error: !!(s.status && s.status.code === 2),
            message: (s.status && s.status.message) || '',
          });
        }
      }
    }
  });
}
const traceIds = [...new Set(spans.map((s) => s.traceId))];
const errorSpans = spans.filter((s) => s.error);
console.log(`check_html: ${jsonl}: ${spans.length} spans in ${traceIds.length} traces, ` +
  `${errorSpans.length} of them ERROR`);
check(spans.length > 0, 'the demo file has spans');
check(errorSpans.length > 0, 'the demo file has an ERROR span (its failed request)');
check(new Set(spans.map((s) => s.spanId)).size === spans.length, 'span ids in the file are unique');
{
  const bad = spans.filter((s) => !/^[0-9a-f]{32}$/.test(s.traceId) || !/^[0-9a-f]{16}$/.test(s.spanId));
  check(bad.length === 0, `${bad.length} spans with malformed ids in the file`);
}

// The demo's own page names every span too.
{
  const demoHtml = path.join(demoOut, 'traces.html');
  if (check(fs.existsSync(demoHtml), `the demo wrote no ${demoHtml}`)) {
    const text = fs.readFileSync(demoHtml, 'utf8');
    const missing = spans.filter((s) => !text.includes(`data-span-id="${s.spanId}"`));
    check(missing.length === 0,
      `the demo's traces.html lacks ${missing.length} span ids: ${missing.map((s) => s.spanId).join(' ')}`);
  }
}

// ---- 3. the page in Chromium ----

const page = path.join(demoOut, 'page.html');
{
  const r = spawnSync(rpctrace, ['html', 'traces.jsonl', '-o', 'page.html'], {
    cwd: demoOut,
    encoding: 'utf8',
    timeout: 60 * 1000,
  });
  if (r.error || r.status !== 0) {
    console.log(r.stderr || '');
    fatal(`rpctrace html failed: ${r.error ? r.error.message : `exit status ${r.status}`}`);
  }
}
const pageText = fs.readFileSync(page, 'utf8');
check(!/https?:\/\//.test(pageText), 'the page names no http(s) URL (it fetches nothing)');

const dom = runChromium(['--dump-dom'], page, '--dump-dom');
fs.writeFileSync(path.join(work, 'dom.html'), dom);
check(/<\/html>\s*$/i.test(dom), 'chromium dumped a whole document');
check(/<h1>rpctrace: traces\.jsonl<\/h1>/.test(dom), 'the page heading names the file');

const { all: elements, error: domError } = detailsElements(dom);
check(domError === null, `the DOM's <details> nest: ${domError}`);

const traceEls = elements.filter((e) => e.classes.includes('trace'));
const spanEls = elements.filter((e) => e.classes.includes('span'));
console.log(`check_html: DOM: ${traceEls.length} trace containers, ${spanEls.length} span rows`);

// Traces: one open container each, no other.
const traceById = new Map();
for (const t of traceEls) {
  const id = t.attrs['data-trace-id'];
  check(!traceById.has(id), `trace ${id} has more than one container`);
  traceById.set(id, t);
  check(traceIds.includes(id), `the DOM has a trace container for ${id}, which is not in the file`);
  check('open' in t.attrs, `trace ${id} is not open by default (its spans would be hidden)`);
}
for (const id of traceIds) check(traceById.has(id), `trace ${id} has no container in the DOM`);

// Spans: one row each, in its trace's container, showing service and name.
const rowsById = new Map();
for (const e of spanEls) {
  const id = e.attrs['data-span-id'];
  if (!rowsById.has(id)) rowsById.set(id, []);
  rowsById.get(id).push(e);
}
const fileSpanIds = new Set(spans.map((s) => s.spanId));
for (const id of rowsById.keys()) {
  check(fileSpanIds.has(id), `the DOM has a span row ${id}, which is not in the file`);
}
let spansShown = 0;
for (const s of spans) {
  const rows = rowsById.get(s.spanId) || [];
  if (!check(rows.length === 1, `span ${s.spanId} (${s.service} ${s.name}): ${rows.length} rows in the DOM, want 1`)) {
    continue;
  }
  const row = rows[0];
  const where = `span ${s.spanId} (${s.service} ${s.name})`;
  let ok = true;
  ok = check(row.attrs['data-trace-id'] === s.traceId,
    `${where}: data-trace-id ${row.attrs['data-trace-id']}, want ${s.traceId}`) && ok;
  ok = check(row.trace !== null && row.trace.attrs['data-trace-id'] === s.traceId,
    `${where}: not inside the container of trace ${s.traceId}` +
    (row.trace ? ` (inside ${row.trace.attrs['data-trace-id']})` : '')) && ok;
  const summary = summaryOf(row.inner);
  const text = textOf(summary);
  ok = check(text.includes(s.name), `${where}: its row does not show the name: "${text}"`) && ok;
  if (s.service) {
    const svc = /<span class="svc">([\s\S]*?)<\/span>/.exec(summary);
    ok = check(svc !== null && textOf(svc[1]) === s.service,
      `${where}: its row does not show the service: "${text}"`) && ok;
  }
  // An ERROR span: class "error", and the ✗ mark whose title is "error"
  // or "error: <status message>". No other span has either.
  const marked = row.classes.includes('error');
  const markM = /<span class="mark" title="([^"]*)">([\s\S]*?)<\/span>/.exec(summary);
  const mark = markM !== null;
  ok = check(marked === s.error,
    `${where}: status ${s.error ? 'ERROR' : 'not ERROR'} but class "error" ${marked ? 'set' : 'missing'}`) && ok;
  ok = check(mark === s.error,
    `${where}: status ${s.error ? 'ERROR' : 'not ERROR'} but the error mark is ${mark ? 'shown' : 'missing'}`) && ok;
  if (markM && s.error) {
    const title = decodeEntities(markM[1]);
    const want = s.message ? `error: ${s.message}` : 'error';
    ok = check(title === want, `${where}: the error mark's title is "${title}", want "${want}"`) && ok;
    ok = check(textOf(markM[2]) === '\u2717', `${where}: the error mark shows "${textOf(markM[2])}", want \u2717`) && ok;
  }
  if (ok) spansShown++;
}
console.log(`check_html: ${spansShown} of ${spans.length} spans shown in their traces as expected`);

// A trace's header says ERROR exactly when one of its spans failed.
for (const id of traceIds) {
  const t = traceById.get(id);
  if (!t) continue;
  const failedTrace = spans.some((s) => s.traceId === id && s.error);
  const says = /<span class="bad">ERROR<\/span>/.test(summaryOf(t.inner));
  check(says === failedTrace, `trace ${id}: header ${says ? 'says' : 'does not say'} ERROR, ` +
    `but ${failedTrace ? 'a span failed' : 'no span failed'}`);
}

// ---- 4. the screenshot ----

const width = 1400;
const height = 900;
const shot = path.join(work, 'waterfall.png');
runChromium(['--hide-scrollbars', '--force-device-scale-factor=1', `--window-size=${width},${height}`,
  `--screenshot=${shot}`], page, '--screenshot');
if (!check(fs.existsSync(shot), `chromium wrote no screenshot ${shot}`)) finish();
{
  const buf = fs.readFileSync(shot);
  check(buf.length > 20 * 1024, `the screenshot is ${buf.length} bytes: too small to show a waterfall`);
  check(buf.length < 300 * 1024, `the screenshot is ${buf.length} bytes, more than 300 KB`);
  let img = null;
  try {
    img = decodePng(buf);
  } catch (e) {
    check(false, `the screenshot does not decode: ${e.message}`);
  }
  if (img) {
    check(img.width === width && img.height === height,
      `the screenshot is ${img.width}x${img.height}, want ${width}x${height}`);
    // Ink: pixels that are not near-white. Colours: distinct saturated
    // colours, the services' bars (grey text and borders do not count).
    let ink = 0;
    const hues = new Set();
    const n = img.width * img.height;
    for (let i = 0; i < n; i++) {
      const p = i * img.channels;
      const r = img.pixels[p];
      const g = img.pixels[p + 1];
      const b = img.pixels[p + 2];
      if (r < 235 || g < 235 || b < 235) ink++;
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      if (max - min > 60) hues.add(((r >> 5) << 6) | ((g >> 5) << 3) | (b >> 5));
    }
    const inkPct = (100 * ink) / n;
    console.log(`check_html: screenshot ${img.width}x${img.height}, ${buf.length} bytes, ` +
      `${inkPct.toFixed(1)}% ink, ${hues.size} saturated colours`);
    check(inkPct > 2 && inkPct < 60, `the screenshot has ${inkPct.toFixed(1)}% ink: not a page of text and bars`);
    check(hues.size >= 4, `the screenshot has ${hues.size} saturated colours: no coloured bars`);
  }
  if (opts.screenshot) {
    fs.copyFileSync(shot, path.resolve(opts.screenshot));
    console.log(`check_html: screenshot written to ${path.resolve(opts.screenshot)} ` +
      '(the README shows a copy of it: docs/waterfall.png)');
  }
}

finish();
