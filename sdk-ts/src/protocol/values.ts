// How JavaScript values map to tagged wire values and back: Buffers travel raw, strings as UTF-8, everything
// else as JSON. The content tag makes the round trip exact.

import { ProtocolError } from '../errors.js';
import { ContentTag } from './opcodes.js';
import type { WireValue } from './payload.js';

/**
 * The tagged wire form of `value`: `Buffer`/`Uint8Array` → raw bytes, `string` → UTF-8 text, anything else →
 * JSON. `undefined` and `null` are refused because a missing key already reads back as `null`.
 */
export function toWireValue(value: unknown): WireValue {
  if (typeof value === 'string') return { tag: ContentTag.Utf8, data: value };
  if (value instanceof Uint8Array) return { tag: ContentTag.Raw, data: value };
  if (value === undefined || value === null) {
    throw new TypeError(
      `cannot store ${value}: a missing key already reads back as null; use del() to remove a key instead`,
    );
  }
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(`cannot send a ${typeof value}: it has no JSON form; pass a string, Buffer or JSON value`);
  }
  return { tag: ContentTag.Json, data: json };
}

/** The JavaScript value of a tagged wire value: raw → a `Buffer` (copied), UTF-8 → a string, JSON → parsed. */
export function fromWireValue(tag: number, data: Buffer): unknown {
  switch (tag) {
    case ContentTag.Raw:
      return Buffer.from(data);
    case ContentTag.Utf8:
      return data.toString('utf8');
    case ContentTag.Json: {
      const text = data.toString('utf8');
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new ProtocolError(`a value tagged JSON does not parse as JSON: ${text.slice(0, 80)}`, undefined, {
          cause: error,
        });
      }
    }
    default:
      throw new ProtocolError(`unknown content tag ${tag}; upgrade nexo-client to read values this server wrote`);
  }
}
