// Running a subscriber's callback on each delivered job or record, at most `concurrency` at a time and in delivery
// order, and settling each one when its callback ends: ack when it resolves, nack with its error's message when it
// throws. A callback's slot frees as soon as its ack or nack is sent: the server counts the delivery as settled when
// the ack arrives and sends the next one then, so waiting for the reply (which comes once the ack is on disk) would
// only idle the slot for a round trip. Queue consumers and stream members are both such runners; they differ in what
// stopping asks of the server and in how they explain a settle that failed.

/** A delivered job or record, as far as running its callback goes. */
export interface Settleable {
  /** `false` once the connection it arrived on closed: the server released it and delivers it again. */
  readonly current: boolean;
  ack(): Promise<void>;
  nack(reason: string): Promise<void>;
}

/** One delivery waiting for, or running, its callback. */
export interface Run<Meta, Settle extends Settleable> {
  data: unknown;
  meta: Meta;
  settle: Settle;
}

/** A callback of `subscribe`: resolving acks, throwing nacks. */
export type Callback<Meta> = (data: unknown, meta: Meta) => void | Promise<unknown>;

/** Runs one subscriber's callbacks; see the module comment. */
export abstract class CallbackRunner<Meta, Settle extends Settleable> {
  private stopping: Promise<void> | undefined;
  /** Delivered runs waiting for a free slot, in delivery order. */
  private waiting: Array<Run<Meta, Settle>> = [];
  private running = 0;
  /** Acks and nacks sent and not answered yet. */
  private settling = 0;
  private idleWaiters: Array<() => void> = [];

  protected constructor(
    readonly concurrency: number,
    private readonly callback: Callback<Meta>,
  ) {}

  /** `false` once `stop` was called: from then on no callback starts. */
  get active(): boolean {
    return this.stopping === undefined;
  }

  /** Stops the subscriber once (see `stopped`); calling it again returns the same promise. */
  stop(): Promise<void> {
    this.stopping ??= this.stopped();
    return this.stopping;
  }

  /** Marks the runner stopped without asking the server (its subscribe failed). */
  abandon(): void {
    this.stopping ??= Promise.resolve();
  }

  /** Queues a delivery and starts callbacks while slots are free. */
  accept(run: Run<Meta, Settle>): void {
    this.waiting.push(run);
    this.pump();
  }

  /** Removes and returns the deliveries whose callback has not started. */
  takeWaiting(): Array<Run<Meta, Settle>> {
    const waiting = this.waiting;
    this.waiting = [];
    return waiting;
  }

  /** Resolves once no callback runs and every started delivery is settled. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** What `stop` does: tell the server, hand back or drop what waits, and wait for the running callbacks. */
  protected abstract stopped(): Promise<void>;

  /** Reports an ack or nack the server refused or that could not be sent. */
  protected abstract settleFailed(run: Run<Meta, Settle>, call: 'ack' | 'nack', error: unknown): void;

  private pump(): void {
    while (this.active && this.running < this.concurrency && this.waiting.length > 0) {
      const run = this.waiting.shift() as Run<Meta, Settle>; // length > 0
      // A delivery of a connection that closed was released by the server, which delivers it again: running it
      // here too would handle it twice.
      if (!run.settle.current) continue;
      this.running += 1;
      void this.run(run);
    }
  }

  /** Runs the callback, then acks or nacks; the slot frees once the ack or nack is sent. */
  private async run(run: Run<Meta, Settle>): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      await this.callback(run.data, run.meta);
    } catch (error) {
      failure = { error };
    }
    const settled = this.settle(run, failure);
    this.running -= 1;
    this.settling += 1;
    this.pump();
    await settled;
    this.settling -= 1;
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Acks, or nacks with the failure's message; reports a refused or lost settle. */
  private async settle(run: Run<Meta, Settle>, failure: { error: unknown } | undefined): Promise<void> {
    try {
      if (failure === undefined) await run.settle.ack();
      else await run.settle.nack(messageOf(failure.error));
    } catch (error) {
      this.settleFailed(run, failure === undefined ? 'ack' : 'nack', error);
    }
  }

  private isIdle(): boolean {
    return this.running === 0 && this.settling === 0;
  }
}

/** The message of an error, or the text of anything else thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
