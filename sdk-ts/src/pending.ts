// The table of calls waiting for their reply, by request id.
//
// Ids are handed out in sequence and each call lives in slot `id & mask` of an array. The connection only hands
// out an id whose slot is free (`isFree`), so slots never collide; the table doubles once half of it is in use.
// Unlike a `Map` that fills and empties with every batch, it allocates nothing per call and never shrinks,
// which keeps the garbage collector out of the hot path.

/** Slots of a new table (a power of two). */
const INITIAL_SLOTS = 1024;

/** What the table needs to know about an entry: its full request id. */
export interface PendingEntry {
  requestId: number;
}

export class PendingTable<T extends PendingEntry> {
  private slots: Array<T | undefined> = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;

  /** Calls waiting for their reply. */
  get size(): number {
    return this.count;
  }

  /** Whether `requestId` may be handed out now: its slot holds no waiting call. */
  isFree(requestId: number): boolean {
    return this.slots[requestId & this.mask] === undefined;
  }

  /** Stores `entry` under its request id, whose slot must be free. */
  insert(entry: T): void {
    this.slots[entry.requestId & this.mask] = entry;
    this.count += 1;
    if (this.count * 2 > this.slots.length) this.grow();
  }

  /** Removes and returns the call waiting for `requestId`, or `undefined` when none waits for it. */
  take(requestId: number): T | undefined {
    const index = requestId & this.mask;
    const entry = this.slots[index];
    if (entry === undefined || entry.requestId !== requestId) return undefined;
    this.slots[index] = undefined;
    this.count -= 1;
    return entry;
  }

  /** Every waiting call. */
  entries(): T[] {
    return this.slots.filter((entry): entry is T => entry !== undefined);
  }

  /** Removes and returns every waiting call. */
  drain(): T[] {
    const entries = this.entries();
    this.slots.fill(undefined);
    this.count = 0;
    return entries;
  }

  /**
   * Doubles the table. Ids that differ modulo the old size also differ modulo the new one, so entries never
   * collide while they move.
   */
  private grow(): void {
    const old = this.slots;
    this.slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    for (const entry of old) if (entry !== undefined) this.slots[entry.requestId & this.mask] = entry;
  }
}
