import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../src/protocol/commands.js';
import { type Frame, FrameDecoder, HEADER_BYTES, encodeFrame } from '../src/protocol/frame.js';
import { ContentTag, ErrorCode, FrameKind, Opcode, SetCondition, errorCodeName } from '../src/protocol/opcodes.js';
import { FrameWriter, setRequestId, type WireValue } from '../src/protocol/payload.js';
import { toWireValue } from '../src/protocol/values.js';
import { ProtocolError } from '../src/errors.js';
import { REPO_ROOT } from './server.js';

interface VectorValue {
  tag: 'raw' | 'utf8' | 'json';
  text?: string;
  hex?: string;
}

interface Vector {
  name: string;
  opcode: string;
  requestId: number;
  kind?: string;
  shape?: string;
  fields: Record<string, unknown>;
  hex: string;
}

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'tests', 'vectors', 'native-v1.json'), 'utf8')) as {
  version: number;
  requests: Vector[];
  replies: Vector[];
  pushes?: Vector[];
};
/** Push vectors; checked for presence by the opcode coverage test, so a missing array fails there, not here. */
const pushes = vectors.pushes ?? [];

const tags = { raw: ContentTag.Raw, utf8: ContentTag.Utf8, json: ContentTag.Json } as const;
const conditions = { always: SetCondition.Always, ifAbsent: SetCondition.IfAbsent, ifPresent: SetCondition.IfPresent };

function wireValue(value: VectorValue): WireValue {
  return { tag: tags[value.tag], data: value.hex === undefined ? (value.text ?? '') : Buffer.from(value.hex, 'hex') };
}

/** The JavaScript value the SDK hands to applications for a vector value. */
function appValue(value: VectorValue | null): unknown {
  if (value === null) return null;
  if (value.tag === 'raw') return Buffer.from(value.hex ?? '', 'hex');
  if (value.tag === 'utf8') return value.text;
  return JSON.parse(value.text ?? '');
}

function encodeRequest(vector: Vector): Buffer {
  // Vector fields are checked against the bytes below, so loose typing here cannot hide a mismatch.
  const f = vector.fields as Record<string, any>;
  switch (vector.opcode) {
    case 'Hello':
      expect(f.version).toBe(vectors.version);
      return encode.hello(f.clientName, f.authToken);
    case 'Ping':
      return encode.ping(Buffer.from(f.payloadHex as string, 'hex'));
    case 'StoreSet':
      return encode.set(f.key, wireValue(f.value), conditions[f.condition as keyof typeof conditions], f.ttlMs);
    case 'StoreGet':
      return encode.get(f.key);
    case 'StoreDel':
      return encode.del(f.keys);
    case 'StoreExists':
      return encode.exists(f.keys);
    case 'StoreExpire':
      return encode.expire(f.key, f.ttlMs);
    case 'StorePersist':
      return encode.persist(f.key);
    case 'StoreTtl':
      return encode.ttl(f.key);
    case 'StoreIncrBy':
      return encode.incrBy(f.key, f.delta);
    case 'StoreMset':
      return encode.mset(
        (f.entries as Array<{ key: string; value: VectorValue }>).map((entry) => [entry.key, wireValue(entry.value)]),
      );
    case 'StoreMget':
      return encode.mget(f.keys);
    case 'StoreScan':
      return encode.scan(BigInt(f.cursor as string), f.pattern, f.count);
    case 'StoreDbsize':
      return encode.dbsize();
    case 'StoreFlushAll':
      return encode.flushAll();
    case 'PubSubSubscribe':
      return encode.subscribe(f.filter, f.subscriptionId);
    case 'PubSubUnsubscribe':
      return encode.unsubscribe(f.filter);
    case 'PubSubPublish':
      return encode.publish(f.topic, wireValue(f.value), f.retain, f.ttlMs);
    case 'PubSubClearRetained':
      return encode.clearRetained(f.topic);
    default:
      throw new Error(`the SDK has no encoder for vector opcode ${vector.opcode}`);
  }
}

function decodeReply(vector: Vector, frame: Frame): unknown {
  switch (vector.shape) {
    case 'hello': {
      const info = decode.hello(frame.payload);
      return {
        version: info.protocolVersion,
        serverVersion: info.serverVersion,
        shardCount: info.shardCount,
        maxFrameBytes: info.maxFrameBytes,
      };
    }
    case 'bytes':
      return { payloadHex: decode.bytes(frame.payload).toString('hex') };
    case 'flag':
      return { flag: decode.flag(frame.payload) };
    case 'value':
      return { value: decode.optionalValue(frame.payload) };
    case 'count':
      return { count: decode.count(frame.payload) };
    case 'integer':
      return { integer: Number(decode.integer(frame.payload)) };
    case 'empty':
      decode.empty(frame.payload);
      return {};
    case 'values':
      return { values: decode.values(frame.payload) };
    case 'scanPage': {
      const page = decode.scanPage(frame.payload);
      return { cursor: page.cursor.toString(), keys: page.keys };
    }
    case 'error': {
      const error = decode.error(frame.payload);
      return { code: error.code, codeName: errorCodeName(error.code), message: error.message };
    }
    default:
      throw new Error(`the SDK has no decoder for reply shape ${vector.shape}`);
  }
}

/** The push fields with vector values turned into what the SDK hands to applications. */
function expectedPush(vector: Vector): unknown {
  const fields = vector.fields as Record<string, unknown>;
  return { ...fields, value: appValue(fields.value as VectorValue) };
}

/** The reply fields with vector values turned into what the SDK hands to applications. */
function expectedReply(vector: Vector): unknown {
  const fields = vector.fields as Record<string, unknown>;
  if (vector.shape === 'value') return { value: appValue(fields.value as VectorValue | null) };
  if (vector.shape === 'values') return { values: (fields.values as Array<VectorValue | null>).map(appValue) };
  return fields;
}

function singleFrame(hex: string): Frame {
  const frames = new FrameDecoder().push(Buffer.from(hex, 'hex'));
  expect(frames).toHaveLength(1);
  return frames[0] as Frame;
}

describe('golden vectors', () => {
  it.each(vectors.requests.map((vector) => [vector.name, vector] as const))(
    'request %s encodes to the vector bytes',
    (_name, vector) => {
      const frame = encodeRequest(vector);
      setRequestId(frame, vector.requestId);
      expect(frame.toString('hex')).toBe(vector.hex);
      const decoded = singleFrame(vector.hex);
      expect([decoded.opcode, decoded.kind, decoded.requestId]).toEqual([
        Opcode[vector.opcode as keyof typeof Opcode],
        FrameKind.Request,
        vector.requestId,
      ]);
    },
  );

  it.each(vectors.replies.map((vector) => [vector.name, vector] as const))(
    'reply %s decodes to the vector fields',
    (_name, vector) => {
      const frame = singleFrame(vector.hex);
      expect(frame.requestId).toBe(vector.requestId);
      expect(frame.kind).toBe(vector.kind === 'error' ? FrameKind.Error : FrameKind.Reply);
      const opcode = Opcode[vector.opcode as keyof typeof Opcode] ?? Number.parseInt(vector.opcode, 16);
      expect(frame.opcode).toBe(opcode);
      expect(decodeReply(vector, frame)).toEqual(expectedReply(vector));
    },
  );

  it.each(pushes.map((vector) => [vector.name, vector] as const))(
    'push %s decodes to the vector fields',
    (_name, vector) => {
      const frame = singleFrame(vector.hex);
      expect([frame.opcode, frame.kind, frame.requestId]).toEqual([
        Opcode[vector.opcode as keyof typeof Opcode],
        FrameKind.Push,
        vector.requestId,
      ]);
      expect(decode.message(frame.payload)).toEqual(expectedPush(vector));
    },
  );

  it('every opcode of the SDK has a vector: a request, or a push for push-only opcodes', () => {
    const covered = new Set([...vectors.requests, ...pushes].map((vector) => vector.opcode));
    expect(Object.keys(Opcode).filter((name) => !covered.has(name))).toEqual([]);
  });

  it('application values map to the vector tags: strings utf8, Buffers raw, objects json', () => {
    const withValues = vectors.requests.filter((request) => ['StoreSet', 'PubSubPublish'].includes(request.opcode));
    expect(withValues.length).toBeGreaterThan(0);
    for (const vector of withValues) {
      const value = (vector.fields as { value: VectorValue }).value;
      const wire = toWireValue(appValue(value));
      expect(wire.tag).toBe(tags[value.tag]);
      expect(Buffer.from(wire.data).toString('hex')).toBe(Buffer.from(wireValue(value).data).toString('hex'));
    }
  });
});

describe('numbering shared with the server', () => {
  /** `Name = number,` rows of a `wire_enum!` table in a Rust source file. */
  function rustTable(file: string): Record<string, number> {
    const source = readFileSync(join(REPO_ROOT, 'src', 'protocol', file), 'utf8');
    const rows = [...source.matchAll(/^\s+(\w+) = (0x[0-9A-Fa-f]+|\d+),$/gm)];
    return Object.fromEntries(rows.map((row) => [row[1], Number(row[2])]));
  }

  it('every opcode has the same name and number as in the server', () => {
    expect({ ...Opcode }).toEqual(rustTable('opcode.rs'));
  });

  it('every error code has the same name and number as in the server', () => {
    expect({ ...ErrorCode }).toEqual(rustTable('error_code.rs'));
  });
});

describe('frame reassembly', () => {
  const frames = [
    encodeFrame(Opcode.Ping, FrameKind.Reply, 1, Buffer.from('first')),
    encodeFrame(Opcode.StoreDbsize, FrameKind.Reply, 2, Buffer.alloc(0)),
    encodeFrame(Opcode.StoreGet, FrameKind.Reply, 3, Buffer.alloc(70_000, 7)),
  ];
  const stream = Buffer.concat(frames);

  function summary(decoded: Frame[]): Array<[number, number, string]> {
    return decoded.map((frame) => [frame.opcode, frame.requestId, frame.payload.toString('hex')]);
  }
  const expected = frames.map((frame) => [
    frame.readUInt16LE(0),
    frame.readUInt32LE(4),
    frame.subarray(HEADER_BYTES).toString('hex'),
  ]);

  it('returns every frame of one chunk holding several frames', () => {
    expect(summary(new FrameDecoder().push(stream))).toEqual(expected);
  });

  it('returns the same frames when the stream arrives one byte at a time', () => {
    const decoder = new FrameDecoder();
    const decoded: Frame[] = [];
    for (let index = 0; index < stream.length; index += 1)
      decoded.push(...decoder.push(stream.subarray(index, index + 1)));
    expect(summary(decoded)).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('returns the same frames for every split of the stream into two chunks around the headers', () => {
    for (let split = 0; split <= 40; split += 1) {
      const decoder = new FrameDecoder();
      const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      expect(summary(decoded)).toEqual(expected);
    }
  });

  it('holds a partial frame until its last byte arrives', () => {
    const decoder = new FrameDecoder();
    const last = frames[2] as Buffer;
    expect(decoder.push(last.subarray(0, last.length - 1))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(last.length - 1);
    expect(decoder.push(last.subarray(last.length - 1))).toHaveLength(1);
  });

  it('a 16 MiB frame in 64 KiB chunks decodes in time linear in its size', () => {
    const big = encodeFrame(Opcode.StoreGet, FrameKind.Reply, 9, Buffer.alloc(16 * 1024 * 1024, 1));
    const decoder = new FrameDecoder();
    const chunk = 64 * 1024;
    let decoded: Frame[] = [];
    for (let offset = 0; offset < big.length; offset += chunk)
      decoded = decoder.push(big.subarray(offset, offset + chunk));
    expect(decoded).toHaveLength(1);
    expect(decoded[0]?.payload.length).toBe(16 * 1024 * 1024);
  });
});

describe('reply decoding', () => {
  it('a truncated payload throws a ProtocolError naming the field', () => {
    expect(() => decode.count(Buffer.from([1, 2, 3]))).toThrow(ProtocolError);
    expect(() => decode.count(Buffer.from([1, 2, 3]))).toThrow(/count/);
  });

  it('trailing bytes throw a ProtocolError', () => {
    expect(() => decode.flag(Buffer.from([1, 0]))).toThrow(/trailing/);
  });

  it('a flag byte other than 0 or 1 throws a ProtocolError', () => {
    expect(() => decode.flag(Buffer.from([2]))).toThrow(ProtocolError);
  });

  it('an unknown content tag throws a ProtocolError that says to upgrade', () => {
    expect(() => decode.optionalValue(Buffer.from([1, 9, 0, 0, 0, 0]))).toThrow(/upgrade/);
  });
});

describe('PubSubMessage push decoding', () => {
  /** A push payload: flags, topic, a UTF-8 value and the subscription ids. */
  function message(flags: number, topic: string, text: string, ids: number[]): Buffer {
    const writer = new FrameWriter()
      .u8(flags)
      .string(topic)
      .value({ tag: ContentTag.Utf8, data: text })
      .u32(ids.length);
    for (const id of ids) writer.u32(id);
    return writer.finish(Opcode.PubSubMessage, FrameKind.Push).subarray(HEADER_BYTES);
  }

  it('pins the layout: u8 flags, string topic, value, u32 count, count × u32 subscription id', () => {
    const payload = message(1, 'a/b', 'hi', [7, 0xffff_ffff]);
    expect(payload.toString('hex')).toBe(
      '01' + '03000000612f62' + '01' + '020000006869' + '02000000' + '07000000ffffffff',
    );
    expect(decode.message(payload)).toEqual({
      retained: true,
      topic: 'a/b',
      value: 'hi',
      subscriptionIds: [7, 0xffff_ffff],
    });
  });

  it('reads retained from bit 0 of the flags and ignores the reserved bits', () => {
    expect(decode.message(message(0, 't', 'x', [1])).retained).toBe(false);
    expect(decode.message(message(0b1111_1110, 't', 'x', [1])).retained).toBe(false);
    expect(decode.message(message(0b1000_0001, 't', 'x', [1])).retained).toBe(true);
  });

  it('every truncated prefix of a push throws a ProtocolError', () => {
    const payload = message(0, 'sensors/k1/temp', '21.5', [7, 9]);
    for (let length = 0; length < payload.length; length += 1) {
      expect(() => decode.message(payload.subarray(0, length))).toThrow(ProtocolError);
    }
  });

  it('trailing bytes after the subscription ids throw a ProtocolError', () => {
    const payload = message(0, 't', 'x', [1]);
    expect(() => decode.message(Buffer.concat([payload, Buffer.from([0])]))).toThrow(/trailing/);
  });
});
