// The consumer-group members of one client: member ids, the routing of `StreamDelivery` pushes by member id, running
// each member's callback at most `concurrency` at a time and settling every record (ack or nack), and subscribing
// every member again after a reconnect. This is the only owner of the member table; `Stream` handles go through it.
//
// The protocol has no "release" for streams. A record delivered to a member whose callback has not started when the
// member stops (or that arrives for a member this client no longer has) is left pending: the server delivers it
// again when this connection closes (at once, the delivery not counted) or after the stream's `ackTimeoutMs`.

import { CallbackRunner, type Run, messageOf } from '../callbacks.js';
import { NexoError, ProtocolError, ServerError, TimeoutError } from '../errors.js';
import { decode } from '../protocol/commands.js';
import { ErrorCode, Opcode } from '../protocol/opcodes.js';
import { type StreamDeliveryPush, type WirePosition, decodeStream, encodeStream } from '../protocol/stream-commands.js';
import { isConnectionGone } from '../queue/link.js';
import { Delivery, type RecordHandler, type RecordMeta, type StreamLink, recordMeta } from './record.js';

/** First member id of a client; 0 is never handed out, so a zeroed id stands out in a capture. */
const FIRST_MEMBER_ID = 1;
/** Largest member id (`u32`); ids wrap around to `FIRST_MEMBER_ID` after it. */
const MAX_MEMBER_ID = 0xffff_ffff;

/** One member of a consumer group, from `subscribe` until `stop`. */
export interface StreamSubscription {
  /** The stream it consumes. */
  readonly stream: string;
  /** The consumer group it is a member of. */
  readonly group: string;
  /** The most callbacks it runs at a time (its credits on the server). */
  readonly concurrency: number;
  /** `false` once `stop` was called: from then on no callback starts. */
  readonly active: boolean;
  /**
   * Stops the member: no more deliveries, and the promise resolves once every running callback has finished and
   * its record is acked or nacked. Records delivered to it whose callback has not started are left pending: the
   * server delivers them to the group again when this client's connection closes (at once, not counted as a
   * delivery) or after the stream's `ackTimeoutMs`. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
}

/** A delivered record handed to a member. */
type Job = Run<RecordMeta, Delivery>;

/** One member of a consumer group: the `StreamSubscription` handed to the application. */
class Member extends CallbackRunner<RecordMeta, Delivery> implements StreamSubscription {
  /** Whether the server acknowledged the first subscribe; only confirmed members are made again on reconnect. */
  confirmed = false;

  constructor(
    private readonly owner: Members,
    private readonly link: StreamLink,
    readonly stream: string,
    readonly group: string,
    readonly memberId: number,
    concurrency: number,
    /** Where the group starts when it does not exist yet (sent again on every subscribe). */
    readonly from: WirePosition,
    handler: RecordHandler<unknown>,
  ) {
    super(concurrency, handler);
  }

  protected stopped(): Promise<void> {
    return this.owner.stop(this);
  }

  protected settleFailed(job: Job, call: 'ack' | 'nack', error: unknown): void {
    // The connection that received the record is gone and the server released it: nothing left to settle.
    if (!job.settle.current || isConnectionGone(error)) return;
    this.link.reportError(
      new NexoError(
        `could not ${call} record ${job.meta.offset} of stream ${this.stream} for group ${this.group}` +
          settleHint(error),
        error instanceof NexoError ? error.code : undefined,
        { cause: error },
      ),
    );
  }
}

/** Every member of this client, by member id; registers the `StreamDelivery` push handler and the restore hook. */
export class Members {
  private readonly byId = new Map<number, Member>();
  private nextId = FIRST_MEMBER_ID;

  constructor(private readonly link: StreamLink) {
    link.setPushHandler(Opcode.StreamDelivery, (frame) => this.deliver(frame.payload));
    link.addRestoreHook(() => this.restore());
  }

  /** Subscribes a new member of `group` of `stream` with `concurrency` credits. */
  async add(
    stream: string,
    group: string,
    handler: RecordHandler<unknown>,
    concurrency: number,
    from: WirePosition,
  ): Promise<StreamSubscription> {
    const member = new Member(this, this.link, stream, group, this.allocateId(), concurrency, from, handler);
    // Registered before the request goes out: deliveries may arrive ahead of the reply.
    this.byId.set(member.memberId, member);
    try {
      await this.link.request(this.subscribeFrame(member), decode.empty);
    } catch (error) {
      this.byId.delete(member.memberId);
      member.abandon();
      member.takeWaiting();
      // After a timeout the server may have subscribed anyway; ending it stops unwanted deliveries.
      if (error instanceof TimeoutError) {
        this.link.request(encodeStream.unsubscribe(stream, group, member.memberId), decode.flag).catch(() => undefined);
      }
      throw error;
    }
    member.confirmed = true;
    return member;
  }

  /**
   * Ends `member`: unsubscribes it, forgets the records whose callback has not started (they stay pending on the
   * server, see the module comment), and waits for the running callbacks, which settle their records as usual
   * (a connection may settle what it was delivered after its member is gone).
   */
  async stop(member: Member): Promise<void> {
    if (this.byId.get(member.memberId) === member) this.byId.delete(member.memberId);
    const unsubscribed = this.link
      .request(encodeStream.unsubscribe(member.stream, member.group, member.memberId), decode.flag)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    member.takeWaiting();
    await member.idle();
    const error = await unsubscribed;
    // A connection that is gone took its members with it, and a deleted stream has none.
    if (error === undefined || isConnectionGone(error) || isGoneOnServer(error)) return;
    throw error;
  }

  private subscribeFrame(member: Member): Buffer {
    return encodeStream.subscribe(member.stream, member.group, member.memberId, member.concurrency, member.from);
  }

  private allocateId(): number {
    // Skipping ids in use keeps them unique after 2^32 subscriptions on one long-lived client.
    for (;;) {
      const id = this.nextId;
      this.nextId = id === MAX_MEMBER_ID ? FIRST_MEMBER_ID : id + 1;
      if (!this.byId.has(id)) return id;
    }
  }

  /**
   * Subscribes every confirmed member again, with its id and fresh credits, on a fresh connection (the client runs
   * this before `ready`). The group exists by now, so the server ignores `from` and the member continues from the
   * group's committed offset. Members whose subscribe is in flight were sent on this connection already.
   */
  private async restore(): Promise<void> {
    const members = [...this.byId.values()].filter((member) => member.confirmed);
    const results = await Promise.allSettled(
      members.map((member) => this.link.request(this.subscribeFrame(member), decode.empty)),
    );
    results.forEach((result, index) => {
      const member = members[index] as Member; // one result per member
      if (result.status === 'fulfilled' || !member.active) return;
      // A connection lost again is reported by the client, and the next reconnect restores the member.
      const error: unknown = result.reason;
      if (isConnectionGone(error)) return;
      this.link.reportError(
        new NexoError(
          `could not subscribe to group ${member.group} of stream ${member.stream} again after reconnecting, so ` +
            `its callback gets no records until the next reconnect: ${messageOf(error)}`,
          error instanceof NexoError ? error.code : undefined,
          { cause: error },
        ),
      );
    });
  }

  /**
   * Hands a pushed record to its member. A record for a member this client no longer has (it stopped while the
   * record was on its way) is left pending, like the records a stopping member had not started.
   */
  private deliver(payload: Buffer): void {
    let push: StreamDeliveryPush;
    try {
      push = decodeStream.delivery(payload);
    } catch (error) {
      this.link.reportError(error instanceof Error ? error : new ProtocolError(String(error)));
      return;
    }
    const { stream, group, memberId, deliveries, record } = push;
    const member = this.byId.get(memberId);
    if (member === undefined || member.stream !== stream || member.group !== group) return;
    const delivery = new Delivery(this.link, stream, group, BigInt(record.offset));
    member.accept({
      data: record.value,
      meta: recordMeta(record.offset, record.timestampMs, deliveries),
      settle: delivery,
    });
  }
}

/** What to tell the application about a failed ack or nack. */
function settleHint(error: unknown): string {
  if (!(error instanceof NexoError)) return `: ${messageOf(error)}`;
  switch (error.code) {
    case ErrorCode.NotPending:
      return (
        ': it was no longer pending for this connection, most likely because its ackTimeoutMs passed first ' +
        'and it was delivered again (raise ackTimeoutMs for slow callbacks)'
      );
    case ErrorCode.StreamNotFound:
      return ': the stream was deleted';
    default:
      return `: ${error.message}`;
  }
}

/** Whether the server says the stream (and so every member of it) is gone. */
function isGoneOnServer(error: unknown): boolean {
  return (
    error instanceof ServerError && (error.code === ErrorCode.StreamNotFound || error.code === ErrorCode.GroupNotFound)
  );
}
