// Payload field encoding: fixed-width little-endian integers, length-prefixed bytes and strings, tagged values.

import { ProtocolError } from '../errors.js';
import { ContentTag } from './opcodes.js';
import { HEADER_BYTES, writeHeader } from './frame.js';

/** Size of a `u32` length prefix. */
const LENGTH_BYTES = 4;
/** Initial capacity of a request buffer when the caller gives no estimate. */
const DEFAULT_CAPACITY = 256;
const U64_MAX = (1n << 64n) - 1n;
/** 2^32: splits a safe integer into the two little-endian halves of a `u64`. */
const U32_RANGE = 0x1_0000_0000;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** A value ready for the wire: its content tag and its bytes (a string is written as UTF-8). */
export interface WireValue {
  tag: ContentTag;
  data: string | Uint8Array;
}

/**
 * Builds one request frame: the header space is reserved up front, fields are appended, and `finish` fills the
 * header. The request id is patched in later by the connection (`setRequestId`).
 */
export class FrameWriter {
  private buffer: Buffer;
  private position = HEADER_BYTES;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.buffer = Buffer.allocUnsafe(HEADER_BYTES + capacity);
  }

  u8(value: number): this {
    this.reserve(1);
    this.buffer.writeUInt8(value, this.position);
    this.position += 1;
    return this;
  }

  u16(value: number): this {
    this.reserve(2);
    this.buffer.writeUInt16LE(value, this.position);
    this.position += 2;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.buffer.writeUInt32LE(value, this.position);
    this.position += 4;
    return this;
  }

  u64(value: number | bigint): this {
    this.reserve(8);
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      // Two 32-bit halves: exact for every safe integer and much cheaper than a BigInt conversion.
      this.buffer.writeUInt32LE(value % U32_RANGE, this.position);
      this.buffer.writeUInt32LE(Math.floor(value / U32_RANGE), this.position + 4);
    } else {
      const big = BigInt(value);
      if (big < 0n || big > U64_MAX) throw new RangeError(`${value} does not fit an unsigned 64-bit integer`);
      this.buffer.writeBigUInt64LE(big, this.position);
    }
    this.position += 8;
    return this;
  }

  i64(value: number | bigint): this {
    const big = BigInt(value);
    if (big < I64_MIN || big > I64_MAX) throw new RangeError(`${value} does not fit a signed 64-bit integer`);
    this.reserve(8);
    this.buffer.writeBigInt64LE(big, this.position);
    this.position += 8;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.reserve(LENGTH_BYTES + data.length);
    this.buffer.writeUInt32LE(data.length, this.position);
    this.buffer.set(data, this.position + LENGTH_BYTES);
    this.position += LENGTH_BYTES + data.length;
    return this;
  }

  string(text: string): this {
    const length = Buffer.byteLength(text, 'utf8');
    this.reserve(LENGTH_BYTES + length);
    this.buffer.writeUInt32LE(length, this.position);
    this.buffer.write(text, this.position + LENGTH_BYTES, length, 'utf8');
    this.position += LENGTH_BYTES + length;
    return this;
  }

  value(value: WireValue): this {
    this.u8(value.tag);
    return typeof value.data === 'string' ? this.string(value.data) : this.bytes(value.data);
  }

  /** The finished frame (a view of exactly its bytes) with request id 0. */
  finish(opcode: number, kind: number): Buffer {
    const payloadLength = this.position - HEADER_BYTES;
    writeHeader(this.buffer, 0, opcode, kind, 0, payloadLength);
    return this.buffer.subarray(0, this.position);
  }

  private reserve(extra: number): void {
    const needed = this.position + extra;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}

/** Writes `requestId` into the header of a frame built by `FrameWriter`. */
export function setRequestId(frame: Buffer, requestId: number): void {
  frame.writeUInt32LE(requestId, 4);
}

/** Reads payload fields in order; every read past the end throws a `ProtocolError` naming the field. */
export class PayloadReader {
  private position = 0;

  constructor(private readonly payload: Buffer) {}

  u8(field: string): number {
    this.need(1, field);
    const value = this.payload.readUInt8(this.position);
    this.position += 1;
    return value;
  }

  bool(field: string): boolean {
    const byte = this.u8(field);
    if (byte > 1) throw new ProtocolError(`reply field ${field} should be 0 or 1 but is ${byte}`);
    return byte === 1;
  }

  u16(field: string): number {
    this.need(2, field);
    const value = this.payload.readUInt16LE(this.position);
    this.position += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.payload.readUInt32LE(this.position);
    this.position += 4;
    return value;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const value = this.payload.readBigUInt64LE(this.position);
    this.position += 8;
    return value;
  }

  /** A `u64` that is a count: always below 2^53 in practice, checked anyway. */
  count(field: string): number {
    const value = this.u64(field);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError(`reply field ${field} (${value}) exceeds Number.MAX_SAFE_INTEGER`);
    }
    return Number(value);
  }

  i64(field: string): bigint {
    this.need(8, field);
    const value = this.payload.readBigInt64LE(this.position);
    this.position += 8;
    return value;
  }

  /** Length-prefixed bytes as a view into the payload. */
  bytesView(field: string): Buffer {
    const length = this.u32(`${field} length`);
    this.need(length, field);
    const view = this.payload.subarray(this.position, this.position + length);
    this.position += length;
    return view;
  }

  /** Length-prefixed bytes copied out, so the caller may keep them. */
  bytes(field: string): Buffer {
    return Buffer.from(this.bytesView(field));
  }

  string(field: string): string {
    return this.bytesView(field).toString('utf8');
  }

  /** A tagged value: its content tag and its bytes (a view into the payload). */
  value(field: string): { tag: number; data: Buffer } {
    const tag = this.u8(`${field} tag`);
    return { tag, data: this.bytesView(field) };
  }

  /** Throws unless every byte was read. */
  finish(what: string): void {
    const trailing = this.payload.length - this.position;
    if (trailing !== 0) throw new ProtocolError(`${what} reply has ${trailing} unexpected trailing bytes`);
  }

  private need(count: number, field: string): void {
    if (this.position + count > this.payload.length) {
      throw new ProtocolError(
        `reply truncated: field ${field} needs ${count} bytes at offset ${this.position} ` +
          `of a ${this.payload.length}-byte payload`,
      );
    }
  }
}
