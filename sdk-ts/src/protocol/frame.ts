// Frame header layout and the reassembly of a TCP byte stream into frames.
//
//  0        2      3       4                8                12
//  +--------+------+-------+----------------+----------------+-------------------+
//  | opcode | kind | flags | request id     | payload length | payload ...       |
//  | u16    | u8   | u8=0  | u32            | u32            | payload_len bytes |
//  +--------+------+-------+----------------+----------------+-------------------+
//
// All integers are little-endian.

/** Size of the fixed frame header in bytes. */
export const HEADER_BYTES = 12;

/** A decoded frame. `payload` may share memory with the socket's chunk; copy it to keep it past the callback. */
export interface Frame {
  opcode: number;
  kind: number;
  flags: number;
  requestId: number;
  payload: Buffer;
}

/** Writes a frame header into `target` at `offset`. */
export function writeHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  kind: number,
  requestId: number,
  payloadLength: number,
): void {
  target.writeUInt16LE(opcode, offset);
  target.writeUInt8(kind, offset + 2);
  target.writeUInt8(0, offset + 3);
  target.writeUInt32LE(requestId, offset + 4);
  target.writeUInt32LE(payloadLength, offset + 8);
}

/** One complete frame as bytes: header plus a copy of `payload`. */
export function encodeFrame(opcode: number, kind: number, requestId: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  writeHeader(frame, 0, opcode, kind, requestId, payload.length);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frames. Work is linear in the bytes received: a frame that lies inside one chunk is a
 * view into it, and a frame spread over several chunks is copied once into a buffer of exactly its size.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** Index of the first unconsumed chunk (consumed chunks are dropped in bulk, never shifted one by one). */
  private head = 0;
  /** Read position inside `chunks[head]`. */
  private offset = 0;
  private buffered = 0;
  /** Holds a header that arrived split across chunks. */
  private readonly headerScratch = Buffer.alloc(HEADER_BYTES);

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns every frame it completes, in order. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (frame === undefined) return frames;
      frames.push(frame);
    }
  }

  /** Drops everything buffered (after the connection is gone). */
  reset(): void {
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.buffered = 0;
  }

  private next(): Frame | undefined {
    if (this.buffered < HEADER_BYTES) return undefined;
    const header = this.peekHeader();
    const { bytes, at } = header;
    const payloadLength = bytes.readUInt32LE(at + 8);
    if (this.buffered < HEADER_BYTES + payloadLength) return undefined;
    const opcode = bytes.readUInt16LE(at);
    const kind = bytes.readUInt8(at + 2);
    const flags = bytes.readUInt8(at + 3);
    const requestId = bytes.readUInt32LE(at + 4);
    this.consume(HEADER_BYTES);
    const payload = payloadLength === 0 ? EMPTY : this.take(payloadLength);
    return { opcode, kind, flags, requestId, payload };
  }

  /**
   * The next header's bytes without consuming them: read in place when they lie in one chunk (the common case,
   * no allocation), else gathered into the reusable `headerScratch`.
   */
  private peekHeader(): HeaderView {
    const first = this.chunks[this.head] as Buffer; // `buffered >= HEADER_BYTES > 0` guarantees a chunk at head
    if (first.length - this.offset >= HEADER_BYTES) return { bytes: first, at: this.offset };
    this.copyInto(this.headerScratch, HEADER_BYTES);
    return { bytes: this.headerScratch, at: 0 };
  }

  /** Consumes and returns the next `length` bytes (a view when they lie in one chunk, else one copy). */
  private take(length: number): Buffer {
    const first = this.chunks[this.head] as Buffer; // `buffered >= length > 0` guarantees a chunk at head
    if (first.length - this.offset >= length) {
      const view = first.subarray(this.offset, this.offset + length);
      this.consume(length);
      return view;
    }
    const out = Buffer.allocUnsafe(length);
    this.copyInto(out, length);
    this.consume(length);
    return out;
  }

  private copyInto(out: Buffer, length: number): void {
    let written = 0;
    let offset = this.offset;
    for (let index = this.head; index < this.chunks.length; index += 1) {
      const chunk = this.chunks[index] as Buffer; // index < length
      const count = Math.min(chunk.length - offset, length - written);
      chunk.copy(out, written, offset, offset + count);
      written += count;
      offset = 0;
      if (written === length) return;
    }
  }

  private consume(length: number): void {
    this.buffered -= length;
    let remaining = length;
    while (remaining > 0) {
      const first = this.chunks[this.head] as Buffer; // `remaining <= buffered` guarantees a chunk at head
      const available = first.length - this.offset;
      if (available > remaining) {
        this.offset += remaining;
        break;
      }
      remaining -= available;
      this.head += 1;
      this.offset = 0;
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER_CHUNKS && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Where a header's 12 bytes are: `bytes[at .. at + HEADER_BYTES]`. */
interface HeaderView {
  bytes: Buffer;
  at: number;
}
/** Consumed chunks are dropped once at least this many and at least half of the array are consumed. */
const COMPACT_AFTER_CHUNKS = 64;
