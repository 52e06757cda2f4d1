'use strict';
// One canonical, plain-JSON shape for OTLP trace requests, reached from two
// encodings: a message decoded by the OpenTelemetry JS project's generated
// protobuf code (protobufjs: Buffers, Longs, nulls for absent fields) and an
// OTLP/JSON object (hex ids, 64-bit integers as decimal strings, enums as
// integers). Both are turned into the same shape so they can be compared
// with each other and with what the C side says it recorded.
//
// Canonical shape (absent proto3 fields become their defaults):
//   request  { resourceSpans: [ { resource, schemaUrl, scopeSpans: [ { scope, schemaUrl, spans } ] } ] }
//   resource { attributes, droppedAttributesCount }
//   scope    { name, version, attributes, droppedAttributesCount }
//   span     { traceId, spanId, traceState, parentSpanId, flags, name, kind,
//              startTimeUnixNano, endTimeUnixNano, attributes,
//              droppedAttributesCount, events, droppedEventsCount, links,
//              droppedLinksCount, status: { code, message } }
//   event    { timeUnixNano, name, attributes, droppedAttributesCount }
//   link     { traceId, spanId, traceState, attributes, droppedAttributesCount, flags }
//   attributes: [ { key, type, value } ] in wire order, type one of
//     string | bool | int | double | bytes | array | kvlist | empty; int values
//     are decimal strings, bytes lowercase hex, arrays lists of {type, value},
//     kvlists attribute lists.
// Ids are lowercase hex ("" when absent); 64-bit values decimal strings.
//
// Anything that cannot be represented faithfully (a 64-bit value that
// arrived as an imprecise JS number, a JSON field of the wrong type) throws
// an Error naming the path, so it is reported instead of being smoothed over.

const path = require('node:path');

const NODE_DIR = path.join(__dirname, 'node');
const ROOT_JS = '@opentelemetry/otlp-transformer/build/src/generated/root.js';

// The generated protobufjs module of @opentelemetry/otlp-transformer, loaded
// from tests/interop/node/node_modules. Throws with an instruction when the
// npm packages are not installed.
function loadRoot() {
  let resolved;
  try {
    resolved = require.resolve(ROOT_JS, { paths: [NODE_DIR] });
  } catch (e) {
    const err = new Error(
      `cannot find ${ROOT_JS} under ${path.join(NODE_DIR, 'node_modules')}: ` +
        'the interop npm packages are not installed; run scripts/npm-install.sh ' +
        '(make test and make npm run it)');
    err.code = 'RPCT_NPM_MISSING';
    throw err;
  }
  return require(resolved);
}

// opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
function requestType(root) {
  const t = root && root.opentelemetry && root.opentelemetry.proto &&
    root.opentelemetry.proto.collector && root.opentelemetry.proto.collector.trace &&
    root.opentelemetry.proto.collector.trace.v1 &&
    root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
  if (!t || typeof t.decode !== 'function') {
    throw new Error('root.js has no opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.decode');
  }
  return t;
}

// ---- from a protobufjs-decoded message ----

function hexOf(bytes) {
  if (bytes === null || bytes === undefined) return '';
  return Buffer.from(bytes).toString('hex');
}

// A 64-bit field: Long (with its own signedness), bigint, or a number that
// must be a safe integer.
function dec64(v, where, unsigned) {
  if (v === null || v === undefined) return '0';
  if (typeof v === 'bigint') return v.toString(10);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      throw new Error(`${where}: 64-bit value decoded as the imprecise number ${v} (no Long support)`);
    }
    return String(v);
  }
  if (typeof v === 'object' && typeof v.low === 'number' && typeof v.high === 'number') {
    // A Long: trust the field's declared signedness, not the object's flag.
    const lo = BigInt(v.low >>> 0);
    const hi = BigInt(v.high >>> 0);
    let n = (hi << 32n) | lo;
    if (!unsigned && (v.high & 0x80000000)) n -= 1n << 64n;
    return n.toString(10);
  }
  throw new Error(`${where}: unexpected 64-bit value ${String(v)}`);
}

function num32(v) {
  return v === null || v === undefined ? 0 : v;
}

function str(v) {
  return v === null || v === undefined ? '' : v;
}

function anyFromPb(v, where) {
  if (v === null || v === undefined) return { type: 'empty', value: null };
  const which = v.value; // protobufjs virtual oneof getter
  switch (which) {
    case 'stringValue': return { type: 'string', value: v.stringValue };
    case 'boolValue': return { type: 'bool', value: v.boolValue };
    case 'intValue': return { type: 'int', value: dec64(v.intValue, `${where}.intValue`, false) };
    case 'doubleValue': return { type: 'double', value: v.doubleValue };
    case 'bytesValue': return { type: 'bytes', value: hexOf(v.bytesValue) };
    case 'arrayValue':
      return {
        type: 'array',
        value: (v.arrayValue.values || []).map((x, i) => anyFromPb(x, `${where}.arrayValue.values[${i}]`)),
      };
    case 'kvlistValue':
      return { type: 'kvlist', value: attrsFromPb(v.kvlistValue.values, `${where}.kvlistValue.values`) };
    case undefined:
    case null:
      return { type: 'empty', value: null };
    default:
      throw new Error(`${where}: unknown AnyValue case ${which}`);
  }
}

function attrsFromPb(list, where) {
  return (list || []).map((kv, i) => {
    const w = `${where}[${i}]`;
    const a = anyFromPb(kv.value, `${w}.value`);
    return { key: str(kv.key), type: a.type, value: a.value };
  });
}

function spanFromPb(s, where) {
  const st = s.status || {};
  return {
    traceId: hexOf(s.traceId),
    spanId: hexOf(s.spanId),
    traceState: str(s.traceState),
    parentSpanId: hexOf(s.parentSpanId),
    flags: num32(s.flags),
    name: str(s.name),
    kind: num32(s.kind),
    startTimeUnixNano: dec64(s.startTimeUnixNano, `${where}.startTimeUnixNano`, true),
    endTimeUnixNano: dec64(s.endTimeUnixNano, `${where}.endTimeUnixNano`, true),
    attributes: attrsFromPb(s.attributes, `${where}.attributes`),
    droppedAttributesCount: num32(s.droppedAttributesCount),
    events: (s.events || []).map((e, i) => ({
      timeUnixNano: dec64(e.timeUnixNano, `${where}.events[${i}].timeUnixNano`, true),
      name: str(e.name),
      attributes: attrsFromPb(e.attributes, `${where}.events[${i}].attributes`),
      droppedAttributesCount: num32(e.droppedAttributesCount),
    })),
    droppedEventsCount: num32(s.droppedEventsCount),
    links: (s.links || []).map((l, i) => ({
      traceId: hexOf(l.traceId),
      spanId: hexOf(l.spanId),
      traceState: str(l.traceState),
      attributes: attrsFromPb(l.attributes, `${where}.links[${i}].attributes`),
      droppedAttributesCount: num32(l.droppedAttributesCount),
      flags: num32(l.flags),
    })),
    droppedLinksCount: num32(s.droppedLinksCount),
    status: { code: num32(st.code), message: str(st.message) },
  };
}

// Canonical form of a decoded ExportTraceServiceRequest.
function fromProtobuf(msg) {
  return {
    resourceSpans: (msg.resourceSpans || []).map((rs, i) => {
      const w = `resourceSpans[${i}]`;
      const res = rs.resource || {};
      return {
        resource: {
          attributes: attrsFromPb(res.attributes, `${w}.resource.attributes`),
          droppedAttributesCount: num32(res.droppedAttributesCount),
        },
        schemaUrl: str(rs.schemaUrl),
        scopeSpans: (rs.scopeSpans || []).map((ss, j) => {
          const ws = `${w}.scopeSpans[${j}]`;
          const sc = ss.scope || {};
          return {
            scope: {
              name: str(sc.name),
              version: str(sc.version),
              attributes: attrsFromPb(sc.attributes, `${ws}.scope.attributes`),
              droppedAttributesCount: num32(sc.droppedAttributesCount),
            },
            schemaUrl: str(ss.schemaUrl),
            spans: (ss.spans || []).map((s, k) => spanFromPb(s, `${ws}.spans[${k}]`)),
          };
        }),
      };
    }),
  };
}

// ---- from an OTLP/JSON object (strict about the encoding rpctrace promises:
// lowercase hex ids, 64-bit integers as decimal strings, enums as integers) ----

function isObj(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function jObj(v, where) {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new Error(`${where}: expected an object, got ${JSON.stringify(v)}`);
  return v;
}

function jArr(v, where) {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`${where}: expected an array, got ${JSON.stringify(v)}`);
  return v;
}

function jStr(v, where) {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`${where}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function jU32(v, where) {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new Error(`${where}: expected a uint32 number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function jEnum(v, where) {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new Error(`${where}: expected an enum as an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function jInt64(v, where, unsigned) {
  if (v === undefined || v === null) return '0';
  if (typeof v !== 'string') {
    throw new Error(`${where}: expected a 64-bit integer as a decimal string, got ${JSON.stringify(v)}`);
  }
  if (!(unsigned ? /^(0|[1-9][0-9]*)$/ : /^(0|-?[1-9][0-9]*)$/).test(v)) {
    throw new Error(`${where}: not a canonical decimal integer: ${JSON.stringify(v)}`);
  }
  const n = BigInt(v);
  const lo = unsigned ? 0n : -(1n << 63n);
  const hi = unsigned ? (1n << 64n) - 1n : (1n << 63n) - 1n;
  if (n < lo || n > hi) throw new Error(`${where}: out of range: ${v}`);
  return n.toString(10);
}

function jId(v, where, nbytes) {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${nbytes * 2}}$`).test(v)) {
    throw new Error(`${where}: expected ${nbytes * 2} lowercase hex digits, got ${JSON.stringify(v)}`);
  }
  return v;
}

function jDouble(v, where) {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  throw new Error(`${where}: expected a number, got ${JSON.stringify(v)}`);
}

const ANY_KEYS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'];

function anyFromJson(v, where) {
  if (v === undefined || v === null) return { type: 'empty', value: null };
  v = jObj(v, where);
  const keys = Object.keys(v);
  const unknown = keys.filter((k) => !ANY_KEYS.includes(k));
  if (unknown.length) throw new Error(`${where}: unknown AnyValue field(s) ${unknown.join(', ')}`);
  if (keys.length === 0) return { type: 'empty', value: null };
  if (keys.length > 1) throw new Error(`${where}: AnyValue with several values: ${keys.join(', ')}`);
  const k = keys[0];
  const x = v[k];
  switch (k) {
    case 'stringValue': return { type: 'string', value: jStr(x, `${where}.stringValue`) };
    case 'boolValue':
      if (typeof x !== 'boolean') throw new Error(`${where}.boolValue: expected a boolean, got ${JSON.stringify(x)}`);
      return { type: 'bool', value: x };
    case 'intValue': return { type: 'int', value: jInt64(x, `${where}.intValue`, false) };
    case 'doubleValue': return { type: 'double', value: jDouble(x, `${where}.doubleValue`) };
    case 'bytesValue':
      return { type: 'bytes', value: Buffer.from(jStr(x, `${where}.bytesValue`), 'base64').toString('hex') };
    case 'arrayValue':
      return {
        type: 'array',
        value: jArr(jObj(x, `${where}.arrayValue`).values, `${where}.arrayValue.values`)
          .map((y, i) => anyFromJson(y, `${where}.arrayValue.values[${i}]`)),
      };
    case 'kvlistValue':
      return {
        type: 'kvlist',
        value: attrsFromJson(jObj(x, `${where}.kvlistValue`).values, `${where}.kvlistValue.values`),
      };
    default:
      throw new Error(`${where}: unreachable`);
  }
}

function attrsFromJson(list, where) {
  return jArr(list, where).map((kv, i) => {
    const w = `${where}[${i}]`;
    kv = jObj(kv, w);
    const a = anyFromJson(kv.value, `${w}.value`);
    return { key: jStr(kv.key, `${w}.key`), type: a.type, value: a.value };
  });
}

function spanFromJson(s, where) {
  s = jObj(s, where);
  const st = jObj(s.status, `${where}.status`);
  return {
    traceId: jId(s.traceId, `${where}.traceId`, 16),
    spanId: jId(s.spanId, `${where}.spanId`, 8),
    traceState: jStr(s.traceState, `${where}.traceState`),
    parentSpanId: jId(s.parentSpanId, `${where}.parentSpanId`, 8),
    flags: jU32(s.flags, `${where}.flags`),
    name: jStr(s.name, `${where}.name`),
    kind: jEnum(s.kind, `${where}.kind`),
    startTimeUnixNano: jInt64(s.startTimeUnixNano, `${where}.startTimeUnixNano`, true),
    endTimeUnixNano: jInt64(s.endTimeUnixNano, `${where}.endTimeUnixNano`, true),
    attributes: attrsFromJson(s.attributes, `${where}.attributes`),
    droppedAttributesCount: jU32(s.droppedAttributesCount, `${where}.droppedAttributesCount`),
    events: jArr(s.events, `${where}.events`).map((e, i) => {
      const w = `${where}.events[${i}]`;
      e = jObj(e, w);
      return {
        timeUnixNano: jInt64(e.timeUnixNano, `${w}.timeUnixNano`, true),
        name: jStr(e.name, `${w}.name`),
        attributes: attrsFromJson(e.attributes, `${w}.attributes`),
        droppedAttributesCount: jU32(e.droppedAttributesCount, `${w}.droppedAttributesCount`),
      };
    }),
    droppedEventsCount: jU32(s.droppedEventsCount, `${where}.droppedEventsCount`),
    links: jArr(s.links, `${where}.links`).map((l, i) => {
      const w = `${where}.links[${i}]`;
      l = jObj(l, w);
      return {
        traceId: jId(l.traceId, `${w}.traceId`, 16),
        spanId: jId(l.spanId, `${w}.spanId`, 8),
        traceState: jStr(l.traceState, `${w}.traceState`),
        attributes: attrsFromJson(l.attributes, `${w}.attributes`),
        droppedAttributesCount: jU32(l.droppedAttributesCount, `${w}.droppedAttributesCount`),
        flags: jU32(l.flags, `${w}.flags`),
      };
    }),
    droppedLinksCount: jU32(s.droppedLinksCount, `${where}.droppedLinksCount`),
    status: { code: jEnum(st.code, `${where}.status.code`), message: jStr(st.message, `${where}.status.message`) },
  };
}

// Canonical form of one OTLP/JSON ExportTraceServiceRequest object.
function fromOtlpJson(obj, where = '$') {
  obj = jObj(obj, where);
  return {
    resourceSpans: jArr(obj.resourceSpans, `${where}.resourceSpans`).map((rs, i) => {
      const w = `${where}.resourceSpans[${i}]`;
      rs = jObj(rs, w);
      const res = jObj(rs.resource, `${w}.resource`);
      return {
        resource: {
          attributes: attrsFromJson(res.attributes, `${w}.resource.attributes`),
          droppedAttributesCount: jU32(res.droppedAttributesCount, `${w}.resource.droppedAttributesCount`),
        },
        schemaUrl: jStr(rs.schemaUrl, `${w}.schemaUrl`),
        scopeSpans: jArr(rs.scopeSpans, `${w}.scopeSpans`).map((ss, j) => {
          const ws = `${w}.scopeSpans[${j}]`;
          ss = jObj(ss, ws);
          const sc = jObj(ss.scope, `${ws}.scope`);
          return {
            scope: {
              name: jStr(sc.name, `${ws}.scope.name`),
              version: jStr(sc.version, `${ws}.scope.version`),
              attributes: attrsFromJson(sc.attributes, `${ws}.scope.attributes`),
              droppedAttributesCount: jU32(sc.droppedAttributesCount, `${ws}.scope.droppedAttributesCount`),
            },
            schemaUrl: jStr(ss.schemaUrl, `${ws}.schemaUrl`),
            spans: jArr(ss.spans, `${ws}.spans`).map((s, k) => spanFromJson(s, `${ws}.spans[${k}]`)),
          };
        }),
      };
    }),
  };
}

// Every span of a list of canonical requests with its resource and scope:
// [{ where, resource, resourceSchemaUrl, scope, scopeSchemaUrl, span }].
function flattenSpans(requests, label) {
  const out = [];
  requests.forEach((req, r) => {
    req.resourceSpans.forEach((rs, i) => {
      rs.scopeSpans.forEach((ss, j) => {
        ss.spans.forEach((span, k) => {
          out.push({
            where: `${label}[${r}].resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`,
            resource: rs.resource,
            resourceSchemaUrl: rs.schemaUrl,
            scope: ss.scope,
            scopeSchemaUrl: ss.schemaUrl,
            span,
          });
        });
      });
    });
  });
  return out;
}

module.exports = {
  ROOT_JS,
  NODE_DIR,
  loadRoot,
  requestType,
  fromProtobuf,
  fromOtlpJson,
  flattenSpans,
};
