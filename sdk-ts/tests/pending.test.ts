import { describe, expect, it } from 'vitest';
import { PendingTable } from '../src/pending.js';

describe('pending table', () => {
  it('keeps every entry retrievable by its id while it grows far past its first size', () => {
    const table = new PendingTable<{ requestId: number }>();
    const first = 0xffff_ff00;
    const ids = Array.from({ length: 5000 }, (_, index) => ((first + index) % 0xffff_ffff) + 1);
    for (const requestId of ids) {
      expect(table.isFree(requestId)).toBe(true);
      table.insert({ requestId });
    }
    expect(table.size).toBe(ids.length);
    for (const requestId of ids) expect(table.take(requestId)?.requestId).toBe(requestId);
    expect(table.size).toBe(0);
  });

  it('does not hand an entry to a different id that maps to the same slot', () => {
    const table = new PendingTable<{ requestId: number }>();
    table.insert({ requestId: 7 });
    expect(table.take(7 + 1024 * 1024)).toBeUndefined();
    expect(table.isFree(7 + 1024 * 1024)).toBe(false);
    expect(table.take(7)).toEqual({ requestId: 7 });
  });

  it('drain returns every entry once and leaves the table empty', () => {
    const table = new PendingTable<{ requestId: number }>();
    for (const requestId of [1, 2, 3]) table.insert({ requestId });
    expect(
      table
        .drain()
        .map((entry) => entry.requestId)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(table.size).toBe(0);
    expect(table.isFree(1)).toBe(true);
  });
});
