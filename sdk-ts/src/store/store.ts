// The Store engine's entry point on the client: `client.store.map` is the key/value map.

import type { ReplyDecoder } from '../connection.js';
import { StoreMap } from './map.js';

/** What the engine APIs need from the client: a way to send a request frame and decode its reply. */
export interface RequestSender {
  request<T>(frame: Buffer, decodeReply: ReplyDecoder<T>): Promise<T>;
}

/** The key/value store (Redis-style). */
export class Store {
  /** Keys mapping to Buffers, strings or JSON values, with TTLs and counters. */
  readonly map: StoreMap;

  constructor(sender: RequestSender) {
    this.map = new StoreMap(sender);
  }
}
