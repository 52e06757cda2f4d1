// Draws the per-RPC latency distributions of a bench_rpc.sh session
// (the merged histograms latency-KEY-VARIANT.txt it writes with -l) as an
// SVG page, and has headless Chromium (Debian's chromium) take a PNG of it.
// No npm package: Node's standard library and the SVG written by hand.
//
//   node tests/bench/plot_latency.js --dir DIR [--key c1] --out OUT.png
//        [--note TEXT] [--chromium /usr/bin/chromium]
//
// Left: the share of RPCs per histogram bucket (log-spaced buckets, 1/16 of
// an octave wide, so the curves are densities on a log axis). Right: the
// latency at each percentile, HdrHistogram style (x = 1/(1 - p), so the
// tail is spread out). Writes OUT.html beside OUT.png.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const opts = { key: 'c1', chromium: 'chromium', note: '' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = () => process.argv[++i];
  if (a === '--dir') opts.dir = v();
  else if (a === '--key') opts.key = v();
  else if (a === '--out') opts.out = v();
  else if (a === '--note') opts.note = v();
  else if (a === '--chromium') opts.chromium = v();
  else { console.error(`plot_latency.js: unknown argument ${a}`); process.exit(2); }
}
if (!opts.dir || !opts.out) {
  console.error('usage: node plot_latency.js --dir DIR [--key c1] --out OUT.png [--note TEXT] [--chromium PATH]');
  process.exit(2);
}

// Variants in drawing order (the two that matter last, on top).
const VARIANTS = [
  { v: 'header', label: 'gRPC alone + own traceparent header', color: '#8c8c8c', dash: '5 4', width: 1.8 },
  { v: 'unsampled', label: 'rpctrace, unsampled (always_off)', color: '#2ca02c', dash: '2 3', width: 2 },
  { v: 'otlp', label: 'rpctrace, sampled, OTLP/gRPC to a sink process', color: '#9467bd', dash: '8 3', width: 1.8 },
  { v: 'plain', label: 'gRPC alone (untraced)', color: '#1f5fb4', dash: '', width: 2.6 },
  { v: 'sampled', label: 'rpctrace, sampled (batch processor, discarding exporter)', color: '#e0520b', dash: '', width: 2.6 },
];

function readHist(file) {
  const rows = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line || line[0] === '#') continue;
    const [lo, hi, n] = line.split(' ').map(Number);
    rows.push({ lo, hi, n });
  }
  rows.sort((a, b) => a.lo - b.lo);
  const total = rows.reduce((s, r) => s + r.n, 0);
  return { rows, total };
}

function quantile(h, q) {
  const rank = Math.min(Math.floor(q * h.total), h.total - 1);
  let seen = 0;
  for (const r of h.rows) {
    seen += r.n;
    if (seen > rank) return (r.lo + r.hi) / 2;
  }
  return 0;
}

const series = [];
for (const s of VARIANTS) {
  const f = path.join(opts.dir, `latency-${opts.key}-${s.v}.txt`);
  if (!fs.existsSync(f)) continue;
  const h = readHist(f);
  if (h.total > 0) series.push({ ...s, h });
}
if (!series.length) {
  console.error(`plot_latency.js: no histograms latency-${opts.key}-*.txt in ${opts.dir}`);
  process.exit(1);
}

// ---- scales ----
const W = 1400, H = 810;
const panel = { top: 120, height: 470 };
const left = { x: 90, w: 560 }, right = { x: 790, w: 560 };
const us = (ns) => ns / 1000;
let xmin = Infinity, xmax = 0, ymaxShare = 0;
for (const s of series) {
  xmin = Math.min(xmin, us(quantile(s.h, 0.0005)));
  xmax = Math.max(xmax, us(quantile(s.h, 0.995)));
  for (const r of s.h.rows) ymaxShare = Math.max(ymaxShare, r.n / s.h.total);
}
const lx0 = Math.log10(Math.max(1, xmin * 0.8)), lx1 = Math.log10(xmax * 1.25);
const X = (u) => left.x + ((Math.log10(u) - lx0) / (lx1 - lx0)) * left.w;
const Y = (share) => panel.top + panel.height - (share / (ymaxShare * 1.08)) * panel.height;
const PMAX = 99.99;
const px0 = 0, px1 = Math.log10(1 / (1 - PMAX / 100));
const PX = (p) => right.x + ((Math.log10(1 / (1 - p / 100)) - px0) / (px1 - px0)) * right.w;
let lmin = Infinity, lmax = 0;
for (const s of series) {
  lmin = Math.min(lmin, us(quantile(s.h, 0)));
  lmax = Math.max(lmax, us(quantile(s.h, PMAX / 100)));
}
const ly0 = Math.log10(Math.max(1, lmin * 0.8)), ly1 = Math.log10(lmax * 1.25);
const PY = (u) => panel.top + panel.height - ((Math.log10(u) - ly0) / (ly1 - ly0)) * panel.height;

const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const el = [];
const text = (x, y, t, attrs = '') => el.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(t)}</text>`);
const line = (x1, y1, x2, y2, attrs) =>
  el.push(`<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" ${attrs}/>`);

// Log-axis ticks: 1, 2, 5 x 10^k inside [a, b] (values in us).
function ticks(a, b) {
  const out = [];
  for (let e = Math.floor(Math.log10(a)); e <= Math.ceil(Math.log10(b)); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= a && v <= b) out.push(v);
    }
  return out;
}
const fmtUs = (v) => (v >= 1000 ? `${v / 1000} ms` : `${v} µs`);

// ---- left panel: distribution ----
const bottom = panel.top + panel.height;
el.push(`<rect x="${left.x}" y="${panel.top}" width="${left.w}" height="${panel.height}" class="frame"/>`);
for (const v of ticks(10 ** lx0, 10 ** lx1)) {
  line(X(v), panel.top, X(v), bottom, 'class="grid"');
  text(X(v), bottom + 20, fmtUs(v), 'class="tick" text-anchor="middle"');
}
const shareStep = ymaxShare > 0.2 ? 0.05 : ymaxShare > 0.08 ? 0.02 : 0.01;
for (let s = 0; s <= ymaxShare * 1.08; s += shareStep) {
  line(left.x, Y(s), left.x + left.w, Y(s), 'class="grid"');
  text(left.x - 8, Y(s) + 4, `${(s * 100).toFixed(0)}%`, 'class="tick" text-anchor="end"');
}
text(left.x + left.w / 2, bottom + 48, 'latency of one unary RPC (log scale)', 'class="axis" text-anchor="middle"');
text(left.x - 62, panel.top + panel.height / 2, 'share of RPCs per bucket (6% wide)',
  `class="axis" text-anchor="middle" transform="rotate(-90 ${left.x - 62} ${panel.top + panel.height / 2})"`);
text(left.x, panel.top - 14, 'Distribution (up to the slowest p99.5)', 'class="ptitle"');

for (const s of series) {
  const pts = [];
  for (const r of s.h.rows) {
    const a = us(Math.max(r.lo, 1)), b = us(r.hi);
    if (b < 10 ** lx0 || a > 10 ** lx1) continue;
    const y = Y(r.n / s.h.total);
    pts.push(`${X(Math.max(a, 10 ** lx0)).toFixed(1)},${y.toFixed(1)}`, `${X(Math.min(b, 10 ** lx1)).toFixed(1)},${y.toFixed(1)}`);
  }
  el.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width}"` +
    `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} stroke-linejoin="round"/>`);
}

// ---- right panel: latency by percentile ----
el.push(`<rect x="${right.x}" y="${panel.top}" width="${right.w}" height="${panel.height}" class="frame"/>`);
for (const p of [50, 90, 99, 99.9, 99.99]) {
  line(PX(p), panel.top, PX(p), bottom, 'class="grid"');
  text(PX(p), bottom + 20, `p${p}`, 'class="tick" text-anchor="middle"');
}
for (const v of ticks(10 ** ly0, 10 ** ly1)) {
  line(right.x, PY(v), right.x + right.w, PY(v), 'class="grid"');
  text(right.x - 8, PY(v) + 4, fmtUs(v), 'class="tick" text-anchor="end"');
}
text(right.x + right.w / 2, bottom + 48, 'percentile (spread as 1 / (1 - p))', 'class="axis" text-anchor="middle"');
text(right.x - 72, panel.top + panel.height / 2, 'latency',
  `class="axis" text-anchor="middle" transform="rotate(-90 ${right.x - 72} ${panel.top + panel.height / 2})"`);
text(right.x, panel.top - 14, 'Latency by percentile (log scales)', 'class="ptitle"');
for (const s of series) {
  const pts = [];
  for (let i = 0; i <= 400; i++) {
    const p = 100 * (1 - 10 ** (-(i / 400) * px1));
    pts.push(`${PX(p).toFixed(1)},${PY(us(quantile(s.h, p / 100))).toFixed(1)}`);
  }
  el.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width}"` +
    `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} stroke-linejoin="round"/>`);
}

// ---- legend and titles ----
let ly = bottom + 82;
const order = series.slice().reverse();
order.forEach((s, i) => {
  const x = left.x, y = ly + i * 24;
  el.push(`<line x1="${x}" y1="${y - 5}" x2="${x + 40}" y2="${y - 5}" stroke="${s.color}" stroke-width="${s.width + 0.6}"` +
    `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
  const q = (p) => (us(quantile(s.h, p))).toFixed(0);
  text(x + 50, y, `${s.label}: p50 ${q(0.5)} µs, p99 ${q(0.99)} µs, p99.9 ${q(0.999)} µs (${s.h.total.toLocaleString('en-US')} RPCs)`,
    'class="legend"');
});
const title = `Unary RPC latency over loopback, 1 outstanding RPC (${opts.key}): untraced gRPC core vs rpctrace`;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<style>
  text { font-family: 'DejaVu Sans', sans-serif; fill: #222; }
  .title { font-size: 22px; font-weight: bold; }
  .sub { font-size: 14px; fill: #555; }
  .ptitle { font-size: 16px; font-weight: bold; }
  .tick { font-size: 12px; fill: #444; }
  .axis { font-size: 13px; fill: #333; }
  .legend { font-size: 13px; }
  .frame { fill: #fff; stroke: #999; }
  .grid { stroke: #e4e4e4; }
</style>
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${left.x}" y="40" class="title">${esc(title)}</text>
<text x="${left.x}" y="66" class="sub">${esc(opts.note)}</text>
<text x="${left.x}" y="86" class="sub">${esc('Every RPC of the measured windows of all repetitions, timed by the client from creating the call to releasing it; histogram buckets 1/16 octave wide.')}</text>
${el.join('\n')}
</svg>`;

const html = path.resolve(opts.out.replace(/\.png$/, '') + '.html');
fs.writeFileSync(html, `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>html,body{margin:0;padding:0;background:#fff}</style></head><body>${svg}</body></html>\n`);

const profile = fs.mkdtempSync(path.join(require('os').tmpdir(), 'plot-latency-'));
const r = spawnSync('timeout', ['60', opts.chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-extensions', '--host-resolver-rules=MAP * ~NOTFOUND', `--user-data-dir=${profile}`,
  '--hide-scrollbars', '--force-device-scale-factor=1', `--window-size=${W},${H}`,
  `--screenshot=${path.resolve(opts.out)}`, 'file://' + html], {
  encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: profile },
});
fs.rmSync(profile, { recursive: true, force: true });
if (r.error || r.status !== 0 || !fs.existsSync(opts.out)) {
  console.error((r.stderr || '').split('\n').slice(-10).join('\n'));
  console.error(`plot_latency.js: chromium failed (${r.error ? r.error.message : `exit ${r.status}`}); the page is ${html}`);
  process.exit(1);
}
console.log(`plot_latency.js: ${opts.out} (${fs.statSync(opts.out).size} bytes), page ${html}`);
