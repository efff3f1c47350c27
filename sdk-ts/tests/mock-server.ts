// A scripted stand-in for the server on port 0: it answers `Hello` like the real one and lets each test decide
// how to answer (or not answer) every other request, so timeouts, malformed replies and disconnects are exact.

import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { type Frame, FrameDecoder, encodeFrame } from '../src/protocol/frame.js';
import { FrameKind, Opcode, PROTOCOL_VERSION } from '../src/protocol/opcodes.js';
import { FrameWriter } from '../src/protocol/payload.js';

/** Frame limit the mock announces in its `Hello` reply. */
export const MOCK_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Decides what to do with a request; `Hello` is answered before this runs unless `answerHello` is false. */
export type RequestHandler = (frame: Frame, peer: MockPeer) => void;

/** One accepted client connection of the mock. */
export class MockPeer {
  constructor(readonly socket: Socket) {}

  reply(request: Frame, payload: Uint8Array, kind: number = FrameKind.Reply, opcode = request.opcode): void {
    this.socket.write(encodeFrame(opcode, kind, request.requestId, payload));
  }

  /** Sends a push frame (request id 0) with `payload`. */
  push(opcode: number, payload: Uint8Array): void {
    this.socket.write(encodeFrame(opcode, FrameKind.Push, 0, payload));
  }

  error(request: Frame | undefined, code: number, message: string): void {
    const payload = new FrameWriter().u16(code).string(message).finish(0, 0).subarray(12);
    this.socket.write(encodeFrame(request?.opcode ?? 0, FrameKind.Error, request?.requestId ?? 0, payload));
  }
}

export class MockServer {
  readonly peers: MockPeer[] = [];
  readonly requests: Frame[] = [];
  handler: RequestHandler = () => {};
  /** Answer `Hello` with this protocol version. */
  helloVersion: number = PROTOCOL_VERSION;
  /** Answer `Hello` at all (false: the handshake hangs). */
  answerHello = true;
  /** Replaces the standard `Hello` answer when set. */
  onHello: RequestHandler | undefined;

  private constructor(private readonly server: Server) {}

  static start(): Promise<MockServer> {
    return MockServer.startOn(0);
  }

  /** Listens on `port` (0 = a free one). */
  static async startOn(port: number): Promise<MockServer> {
    const server = createServer();
    const mock = new MockServer(server);
    server.on('connection', (socket) => mock.accept(socket));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return mock;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The latest connection. */
  get peer(): MockPeer {
    const peer = this.peers.at(-1);
    if (peer === undefined) throw new Error('no client has connected to the mock server');
    return peer;
  }

  /** Drops every client connection (like a crashed server) but keeps listening. */
  dropConnections(): void {
    for (const peer of this.peers) peer.socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const peer = new MockPeer(socket);
    this.peers.push(peer);
    const decoder = new FrameDecoder();
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const copy = { ...frame, payload: Buffer.from(frame.payload) };
        this.requests.push(copy);
        if (frame.opcode === Opcode.Hello && this.onHello !== undefined) {
          this.onHello(copy, peer);
        } else if (frame.opcode === Opcode.Hello) {
          if (this.answerHello) peer.reply(copy, helloReply(this.helloVersion));
        } else {
          this.handler(copy, peer);
        }
      }
    });
  }
}

function helloReply(version: number): Buffer {
  const writer = new FrameWriter().u16(version).string('mock').u32(1).u32(MOCK_MAX_FRAME_BYTES);
  return writer.finish(Opcode.Hello, FrameKind.Reply).subarray(12);
}
