// Typed errors of the SDK. Every error is a `NexoError`; errors the server sent carry its numeric `code`.

import { errorCodeName } from './protocol/opcodes.js';

/** Base class of every error the SDK raises. `code` is the server's error code when the server sent it. */
export class NexoError extends Error {
  /** Numeric error code from the server (see `ErrorCode`), or `undefined` for errors raised by the SDK itself. */
  readonly code: number | undefined;
  /** Name of `code` (`"NotAnInteger"`), or `undefined` for errors raised by the SDK itself. */
  readonly codeName: string | undefined;

  constructor(message: string, code?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.codeName = code === undefined ? undefined : errorCodeName(code);
  }
}

/** The server answered a request with an error frame. */
export class ServerError extends NexoError {
  constructor(code: number, message: string) {
    super(`${message} (${errorCodeName(code)})`, code);
  }
}

/** The connection closed (or `close()` was called) while the request waited for its reply. */
export class ConnectionClosedError extends NexoError {}

/** A call was made while the client had no connection (connecting, reconnecting or closed). */
export class NotConnectedError extends NexoError {}

/** No reply arrived within `requestTimeoutMs`. The request may still take effect on the server. */
export class TimeoutError extends NexoError {}

/** The bytes from the server do not follow the native protocol (or the client cannot encode a request). */
export class ProtocolError extends NexoError {}
