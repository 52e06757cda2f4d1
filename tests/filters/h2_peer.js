// A peer that is not gRPC core, to see what a traced gRPC core client puts
// on the wire: gRPC core 1.51 never hands grpc-trace-bin to a server
// application, so no C server can tell whether the client sent it.
//
//   node h2_peer.js CLIENT_PROGRAM
//
// Listens with Node's own http2 module (h2c, prior knowledge) on 127.0.0.1,
// runs `CLIENT_PROGRAM --h2-peer PORT`, which makes one unary call traced
// with OTEL_PROPAGATORS=tracecontext,grpc-trace-bin and prints
// "client <trace id> <span id> <traceparent>" (its client span's context),
// and
// answers that call with OK. Then checks that the request carried exactly
// one grpc-trace-bin, in the OpenCensus binary format (version 0; field 0:
// the trace id, 1: the span id, 2: the options, sampled), naming the
// client's span, and a traceparent naming the same. Exit status 0 when all
// held; each failure is printed as "FAIL ...".
'use strict';
const http2 = require('http2');
const { spawn } = require('child_process');

const client = process.argv[2];
if (!client) {
  console.error('usage: node h2_peer.js CLIENT_PROGRAM');
  process.exit(2);
}

let failures = 0;
function fail(msg) {
  console.log('FAIL ' + msg);
  failures++;
}

const seen = [];
const server = http2.createServer();
server.on('stream', (stream, headers, flags, rawHeaders) => {
  const bins = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i] === 'grpc-trace-bin') bins.push(rawHeaders[i + 1]);
  seen.push({ path: headers[':path'], bins, traceparent: headers['traceparent'] });
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' },
                   { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end();
  });
});

const timer = setTimeout(() => {
  fail('no result within 60 s');
  process.exit(1);
}, 60000);

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const child = spawn(client, ['--h2-peer', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.on('exit', (code) => {
    clearTimeout(timer);
    server.close();
    if (code !== 0) fail(`the client exited with ${code}`);
    check(out);
    console.log(failures ? `${failures} failed` : 'ok: grpc-trace-bin reached the peer');
    process.exit(failures ? 1 : 0);
  });
});

// grpc-trace-bin as gRPC core sends it: base64 without padding (the peer
// did not offer binary metadata). Returns {traceId, spanId, options} hex.
function parseTraceBin(text) {
  const b = Buffer.from(text, 'base64');
  if (b.length !== 29) return { error: `${b.length} bytes, want 29` };
  if (b[0] !== 0 || b[1] !== 0 || b[18] !== 1 || b[27] !== 2)
    return { error: `layout ${b.toString('hex')}` };
  return {
    traceId: b.subarray(2, 18).toString('hex'),
    spanId: b.subarray(19, 27).toString('hex'),
    options: b[28],
  };
}

function check(out) {
  const m = /^client ([0-9a-f]{32}) ([0-9a-f]{16}) (\S+)$/m.exec(out);
  if (!m) return fail(`the client printed no span context: ${JSON.stringify(out)}`);
  const [, traceId, spanId, want] = m;
  if (seen.length !== 1) return fail(`${seen.length} requests seen, want 1`);
  const r = seen[0];
  if (r.path !== '/test.Echo/Unary') fail(`path ${r.path}`);
  if (r.bins.length !== 1) return fail(`${r.bins.length} grpc-trace-bin headers, want 1`);
  const t = parseTraceBin(r.bins[0]);
  if (t.error) return fail(`grpc-trace-bin: ${t.error}`);
  if (t.traceId !== traceId) fail(`grpc-trace-bin trace id ${t.traceId}, the client's ${traceId}`);
  if (t.spanId !== spanId) fail(`grpc-trace-bin span id ${t.spanId}, the client's ${spanId}`);
  if (t.options !== 1) fail(`grpc-trace-bin options ${t.options}, want 1 (sampled)`);
  if (r.traceparent !== want) fail(`traceparent ${r.traceparent}, want ${want}`);
}
