// One TCP connection to the server: request ids, the pending-reply table, request timeouts, batched writes that
// respect the socket's backpressure, and frame reassembly. It knows nothing about reconnecting (see client.ts).

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConnectionClosedError, NexoError, ProtocolError, ServerError, TimeoutError } from './errors.js';
import { decode } from './protocol/commands.js';
import { type Frame, FrameDecoder } from './protocol/frame.js';
import { FrameKind, opcodeName } from './protocol/opcodes.js';
import { setRequestId } from './protocol/payload.js';
import { PendingTable } from './pending.js';

/** Largest request id; ids wrap around to `FIRST_REQUEST_ID` after it. */
const MAX_REQUEST_ID = 0xffff_ffff;
/** Request id 0 is reserved for frames that answer no request (pushes, unsolicited errors). */
const FIRST_REQUEST_ID = 1;
/** Largest write `flush` assembles out of several small frames. */
const COALESCE_BYTES = 64 * 1024;
const LOST_MESSAGE = 'the server closed the connection; a request in flight may or may not have taken effect';

/** Turns a reply payload into the caller's result; throws `ProtocolError` when the payload does not fit. */
export type ReplyDecoder<T> = (payload: Buffer) => T;

interface Pending {
  requestId: number;
  opcode: number;
  deadline: number;
  /** How much longer than `requestTimeoutMs` this call may wait (a queue pop's own wait). */
  extraTimeoutMs: number;
  decode: ReplyDecoder<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** What a connection reports to its owner. */
export interface ConnectionEvents {
  /** A push frame (request id 0, kind Push). */
  push(frame: Frame): void;
  /** An error that belongs to no pending call (unsolicited error frame, protocol violation). */
  error(error: NexoError): void;
  /** The socket is gone; `error` says why when it was not a deliberate `close`. Called once. */
  closed(error: Error | undefined): void;
}

export class Connection {
  private readonly pending = new PendingTable<Pending>();
  private readonly decoder = new FrameDecoder();
  private nextId = FIRST_REQUEST_ID;
  /** Frames waiting for the next flush, or for `drain` while the socket is congested. */
  private outbox: Buffer[] = [];
  private flushScheduled = false;
  private congested = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private timerDeadline = Infinity;
  private closedError: Error | undefined;
  private open = true;

  constructor(
    private readonly socket: Socket,
    private requestTimeoutMs: number,
    private readonly events: ConnectionEvents,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => {
      this.congested = false;
      this.flush();
    });
    socket.on('error', (error) => {
      this.closedError ??= error;
    });
    socket.on('close', () => this.teardown(this.closedError ?? new ConnectionClosedError(LOST_MESSAGE)));
  }

  /** Requests awaiting their reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Sets the reply deadline of calls made from now on. */
  useRequestTimeout(timeoutMs: number): void {
    this.requestTimeoutMs = timeoutMs;
  }

  /**
   * Sends a request frame built by the protocol encoders and resolves with its decoded reply. The reply is due
   * within the request timeout plus `extraTimeoutMs` (for requests the server answers late on purpose).
   */
  call<T>(frame: Buffer, decodeReply: ReplyDecoder<T>, extraTimeoutMs = 0): Promise<T> {
    if (!this.open) {
      return Promise.reject(new ConnectionClosedError('the connection is closed; the request was not sent'));
    }
    const requestId = this.allocateId();
    setRequestId(frame, requestId);
    return new Promise<T>((resolve, reject) => {
      const deadline = performance.now() + this.requestTimeoutMs + extraTimeoutMs;
      this.pending.insert({
        requestId,
        opcode: frame.readUInt16LE(0),
        deadline,
        extraTimeoutMs,
        decode: decodeReply,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (deadline < this.timerDeadline) this.armTimer(deadline);
      this.outbox.push(frame);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  /** Closes the socket at once and rejects every pending call with `reason`. */
  close(reason: Error): void {
    if (!this.open) return;
    this.closedError = reason;
    this.socket.destroy();
    this.teardown(reason);
  }

  private allocateId(): number {
    // Skipping ids whose slot is taken keeps ids unique even after 2^32 requests on one long-lived connection;
    // the table is at most half full, so a free slot is never far.
    do {
      const id = this.nextId;
      this.nextId = id === MAX_REQUEST_ID ? FIRST_REQUEST_ID : id + 1;
      if (this.pending.isFree(id)) return id;
    } while (true);
  }

  /**
   * Writes queued frames, joining consecutive small frames into writes of at most `COALESCE_BYTES` (a larger
   * frame goes alone, uncopied), and stops as soon as the socket asks to wait for `drain`.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (!this.open || this.congested || this.outbox.length === 0) return;
    const frames = this.outbox;
    this.outbox = [];
    let index = 0;
    while (index < frames.length) {
      let end = index + 1;
      let bytes = (frames[index] as Buffer).length; // index < length
      while (end < frames.length && bytes + (frames[end] as Buffer).length <= COALESCE_BYTES) {
        bytes += (frames[end] as Buffer).length; // end < length
        end += 1;
      }
      const data = end === index + 1 ? (frames[index] as Buffer) : Buffer.concat(frames.slice(index, end), bytes);
      index = end;
      if (!this.socket.write(data)) {
        this.congested = true;
        break;
      }
    }
    if (index < frames.length) this.outbox = frames.slice(index).concat(this.outbox);
  }

  private receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error instanceof NexoError ? error : new ProtocolError(String(error)));
      return;
    }
    for (const frame of frames) {
      if (!this.open) return;
      this.dispatch(frame);
    }
  }

  private dispatch(frame: Frame): void {
    if (frame.flags !== 0) {
      this.fail(new ProtocolError(`the server sent a frame with flags ${frame.flags}; flags must be 0 in protocol v1`));
      return;
    }
    switch (frame.kind) {
      case FrameKind.Reply:
      case FrameKind.Error:
        this.settle(frame);
        return;
      case FrameKind.Push:
        this.events.push(frame);
        return;
      default:
        this.fail(new ProtocolError(`the server sent a frame of unknown kind ${frame.kind}; is this a Nexo server?`));
    }
  }

  private settle(frame: Frame): void {
    if (frame.requestId === 0 && frame.kind === FrameKind.Error) {
      this.events.error(this.serverError(frame.payload));
      return;
    }
    const pending = this.pending.take(frame.requestId);
    // A reply for an id that is not pending answers a call that already timed out: nothing waits for it.
    if (pending === undefined) return;
    if (frame.opcode !== pending.opcode) {
      pending.reject(
        new ProtocolError(
          `the reply to ${opcodeName(pending.opcode)} carries opcode ${opcodeName(frame.opcode)}; ` +
            'is this a Nexo server?',
        ),
      );
      return;
    }
    try {
      if (frame.kind === FrameKind.Error) pending.reject(this.serverError(frame.payload));
      else pending.resolve(pending.decode(frame.payload));
    } catch (error) {
      pending.reject(error instanceof Error ? error : new ProtocolError(String(error)));
    }
  }

  private serverError(payload: Buffer): NexoError {
    const { code, message } = decode.error(payload);
    return new ServerError(code, message);
  }

  /** A protocol violation: the byte stream cannot be trusted any more, so the connection closes. */
  private fail(error: NexoError): void {
    this.events.error(error);
    this.close(error);
  }

  private armTimer(deadline: number): void {
    if (this.timeoutTimer !== undefined) clearTimeout(this.timeoutTimer);
    this.timerDeadline = deadline;
    this.timeoutTimer = setTimeout(() => this.expire(), Math.max(0, deadline - performance.now()));
  }

  /** Rejects every call past its deadline and re-arms the timer for the earliest remaining one. */
  private expire(): void {
    this.timeoutTimer = undefined;
    this.timerDeadline = Infinity;
    const now = performance.now();
    let earliest = Infinity;
    for (const pending of this.pending.entries()) {
      if (pending.deadline <= now) {
        this.pending.take(pending.requestId);
        const waited = pending.extraTimeoutMs > 0 ? ` after its own ${pending.extraTimeoutMs} ms wait` : '';
        pending.reject(
          new TimeoutError(
            `${opcodeName(pending.opcode)} got no reply within ${this.requestTimeoutMs} ms (requestTimeoutMs)` +
              `${waited}; it may still take effect on the server. Raise requestTimeoutMs or check the server load`,
          ),
        );
      } else if (pending.deadline < earliest) {
        earliest = pending.deadline;
      }
    }
    if (earliest !== Infinity) this.armTimer(earliest);
  }

  private teardown(reason: Error): void {
    if (!this.open) return;
    this.open = false;
    if (this.timeoutTimer !== undefined) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.outbox = [];
    this.decoder.reset();
    const pending = this.pending.drain();
    const error =
      reason instanceof ConnectionClosedError
        ? reason
        : new ConnectionClosedError(`${LOST_MESSAGE} (${reason.message})`, undefined, { cause: reason });
    for (const call of pending) call.reject(error);
    this.events.closed(reason);
  }
}
