// The Node.js peer of bench_rpc.c: a @grpc/grpc-js unary ping-pong over
// loopback in one process (server and clients on one event loop), without
// and with the OpenTelemetry gRPC instrumentation, so rpctrace's ratio can
// be printed beside the one of the instrumentation users of Node get.
//
//   node bench_grpc.js [--traced] [--outstanding N] [--duration S]
//                      [--warmup S] [--payload BYTES]
//
// --outstanding N: N clients (a channel each, own subchannel pool, as
// bench_rpc's client threads have a channel each), each with one RPC
// outstanding at a time: the next starts from the previous one's callback.
// --traced: before @grpc/grpc-js is loaded, @opentelemetry/instrumentation-grpc
// is registered with a NodeTracerProvider (default sampler,
// parentbased_always_on) whose BatchSpanProcessor (the SDK's defaults:
// queue 2048, batch 512, 5 s delay) hands batches to an exporter that
// counts the spans and discards them. At the end the spans are flushed and
// checked: 2 per RPC (a CLIENT and a SERVER span of the same trace), or
// fewer when the processor dropped some (printed; the run then did less
// tracing work than asked).
//
// Prints the same lines as bench_rpc.c ("RPC/s: ...", "CPU us/RPC: ...")
// so tests/bench/bench_node.sh reads both the same way. Exit status 0, or
// 1 when an RPC failed or spans are missing for another reason than drops.
'use strict';

function parseArgs(argv) {
  const o = { traced: false, outstanding: 1, duration: 3, warmup: 1, payload: 32 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) usage();
      return v;
    };
    if (a === '--traced') o.traced = true;
    else if (a === '--outstanding') o.outstanding = Math.floor(num());
    else if (a === '--duration') o.duration = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--payload') o.payload = Math.floor(num());
    else usage();
  }
  return o;
}

function usage() {
  console.error('usage: node bench_grpc.js [--traced] [--outstanding N] [--duration S] [--warmup S] [--payload BYTES]');
  process.exit(2);
}

const opts = parseArgs(process.argv);

// Tracing first: the instrumentation patches @grpc/grpc-js when it is loaded.
const spans = { total: 0, client: 0, server: 0, linked: 0 };
let provider = null;
let versions = '';
if (opts.traced) {
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc');
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { SpanKind } = require('@opentelemetry/api');
  const discard = {
    export(batch, done) {
      for (const s of batch) {
        spans.total++;
        if (s.kind === SpanKind.CLIENT) spans.client++;
        if (s.kind === SpanKind.SERVER) {
          spans.server++;
          const parent = s.parentSpanContext || (s.parentSpanId ? { spanId: s.parentSpanId } : null);
          if (parent && parent.spanId) spans.linked++;
        }
      }
      done({ code: 0 });
    },
    shutdown() { return Promise.resolve(); },
    forceFlush() { return Promise.resolve(); },
  };
  provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] });
  provider.register();
  registerInstrumentations({ instrumentations: [new GrpcInstrumentation()] });
  versions = `@opentelemetry/instrumentation-grpc ${require('@opentelemetry/instrumentation-grpc/package.json').version}, ` +
    `@opentelemetry/sdk-trace-node ${require('@opentelemetry/sdk-trace-node/package.json').version}, `;
}

const grpc = require('@grpc/grpc-js');

const identity = (b) => b;
const service = {
  Unary: {
    path: '/bench.Echo/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function main() {
  console.log(`bench_grpc.js: Node ${process.version}, @grpc/grpc-js ${require('@grpc/grpc-js/package.json').version}` +
    (opts.traced ? `; traced: ${versions}default sampler, BatchSpanProcessor, an exporter that discards` : '; untraced'));
  const server = new grpc.Server();
  server.addService(service, { Unary: (call, cb) => cb(null, call.request) });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  const body = Buffer.alloc(opts.payload, 'x');
  let done = 0, failed = 0, stopping = false;
  const clients = [];
  const finished = [];
  for (let i = 0; i < opts.outstanding; i++) {
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(),
      { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(c);
    finished.push(new Promise((resolve) => {
      const next = () => {
        if (stopping) return resolve();
        c.Unary(body, { deadline: Date.now() + 10000 }, (err, reply) => {
          if (err || !reply || reply.length !== opts.payload) {
            if (failed++ < 3) console.error(`bench_grpc.js: an RPC failed: ${err ? err.message : 'bad reply'}`);
          }
          done++;
          // Not recursion: the callback runs from the event loop.
          next();
        });
      };
      next();
    }));
  }
  console.log(`${opts.outstanding} client(s) with 1 RPC outstanding each, ${opts.payload}-byte messages, ` +
    `${opts.warmup} s warm-up, ${opts.duration} s measured`);
  await new Promise((r) => setTimeout(r, opts.warmup * 1000));
  const n0 = done, t0 = process.hrtime.bigint(), c0 = cpuSeconds();
  await new Promise((r) => setTimeout(r, opts.duration * 1000));
  const n1 = done, t1 = process.hrtime.bigint(), c1 = cpuSeconds();
  stopping = true;
  await Promise.all(finished);
  const secs = Number(t1 - t0) / 1e9, n = n1 - n0;
  console.log(`RPC/s: ${(n / secs).toFixed(1)} (${n} RPCs in ${secs.toFixed(3)} s; ${done} RPCs in all, ${failed} failed)`);
  console.log(`CPU us/RPC: ${n ? ((c1 - c0) * 1e6 / n).toFixed(2) : 0} (${(c1 - c0).toFixed(3)} s of process CPU time in the window)`);
  for (const c of clients) c.close();
  await new Promise((r) => server.tryShutdown(() => r()));
  let ok = failed === 0 && n > 0;
  if (provider) {
    await provider.forceFlush();
    const want = 2 * done;
    const dropped = want - spans.total;
    const linkedOk = spans.linked === spans.server;
    const good = dropped >= 0 && linkedOk && spans.client + spans.server === spans.total;
    console.log(`spans received by the exporter: ${spans.total} (${spans.client} CLIENT, ${spans.server} SERVER ` +
      `of which ${spans.linked} with a parent) + ${dropped} dropped; want ${want}: ${good ? 'ok' : 'MISMATCH'}`);
    if (dropped > 0) console.log(`WARNING: ${dropped} spans dropped (queue full): this run did less tracing work than asked`);
    ok = ok && good;
    await provider.shutdown();
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`bench_grpc.js: ${e.stack || e}`);
  process.exit(1);
});
