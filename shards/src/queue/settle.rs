//! Ending or extending a delivery: ack, nack, touch, release, and taking back leases past their deadline.
//!
//! Only the holder named when a message was leased may settle or extend its lease. A failed delivery (a nack or
//! an expired lease) is retried after the backoff while retries remain, at the back of its priority; then it is
//! dead-lettered with the failure reason, or dropped when the queue does not dead-letter. A release (the consumer
//! stopped or disconnected before handling the message) puts it back where it was and does not count the
//! attempt. This file decides what happens to a message; the sets are moved through the `Queue`'s helpers.

use super::engine::Target;
use super::inflight::Lease;
use super::{HolderId, LeaseId, MessageId, NackOutcome, Queue, QueueError, QueueMutation};
use crate::text::truncate_at_char_boundary;
use crate::Millis;

/// The failure reason recorded when a lease expires before its holder settles it.
pub const VISIBILITY_TIMEOUT_REASON: &str = "visibility timeout";

/// The longest failure reason kept, in bytes; a longer reason is cut at the last character boundary before it.
pub const MAX_FAILURE_REASON_BYTES: usize = 1024;

impl Queue {
    /// Acknowledges a delivery: the message is done and leaves the queue (freeing its dedup id).
    pub fn ack(&mut self, lease: LeaseId, holder: HolderId) -> Result<(), QueueError> {
        let Lease { id, .. } = self.take_lease(lease, holder)?;
        self.remove_message(id);
        self.journal.push(QueueMutation::Removed { id });
        Ok(())
    }

    /// Rejects a delivery as failed for `reason` (kept up to [`MAX_FAILURE_REASON_BYTES`]): the message is
    /// retried after the backoff, or dead-lettered or dropped once it has failed more than `max_retries` times.
    pub fn nack(
        &mut self,
        lease: LeaseId,
        holder: HolderId,
        reason: &str,
        now: Millis,
    ) -> Result<NackOutcome, QueueError> {
        let Lease { id, .. } = self.take_lease(lease, holder)?;
        Ok(self.fail(id, reason, now))
    }

    /// Extends a lease to `now` + the visibility timeout and returns the new deadline. A lease past its deadline
    /// can still be extended until [`Queue::expire_leases`] takes it back. Not journaled: leases do not survive a
    /// restart.
    pub fn touch(&mut self, lease: LeaseId, holder: HolderId, now: Millis) -> Result<Millis, QueueError> {
        self.check_holder(lease, holder)?;
        let deadline = now.saturating_add(self.options.visibility_timeout_ms);
        self.in_flight.set_deadline(lease, deadline);
        Ok(deadline)
    }

    /// Gives a delivery back unhandled: the message is ready again at its original position and this delivery is
    /// not counted as an attempt.
    pub fn release(&mut self, lease: LeaseId, holder: HolderId) -> Result<(), QueueError> {
        let Lease { id, .. } = self.take_lease(lease, holder)?;
        self.restore(id);
        Ok(())
    }

    /// Releases every lease `holder` holds, like [`Queue::release`] (its consumer stopped or disconnected), and
    /// returns how many.
    pub fn release_holder(&mut self, holder: HolderId) -> u64 {
        let leases = self.in_flight.held_by(holder);
        for &lease in &leases {
            if let Some(Lease { id, .. }) = self.in_flight.remove(lease) {
                self.restore(id);
            }
        }
        leases.len() as u64
    }

    /// Takes back every lease whose deadline has passed at `now` (`deadline <= now`), each as a failed attempt
    /// with reason [`VISIBILITY_TIMEOUT_REASON`], and returns how many.
    pub fn expire_leases(&mut self, now: Millis) -> u64 {
        let mut expired = 0;
        while let Some(lease) = self.in_flight.first_expired(now) {
            // Removing the lease first guarantees progress whatever `fail` does with the message.
            if let Some(Lease { id, .. }) = self.in_flight.remove(lease) {
                self.fail(id, VISIBILITY_TIMEOUT_REASON, now);
                expired += 1;
            }
        }
        expired
    }

    /// Checks that `holder` holds `lease`.
    fn check_holder(&self, lease: LeaseId, holder: HolderId) -> Result<&Lease, QueueError> {
        match self.in_flight.get(lease) {
            None => Err(QueueError::UnknownLease { lease }),
            Some(found) if found.holder != holder => Err(QueueError::NotLeaseHolder { lease }),
            Some(found) => Ok(found),
        }
    }

    /// Checks that `holder` holds `lease` and ends the lease; the caller then moves the message.
    fn take_lease(&mut self, lease: LeaseId, holder: HolderId) -> Result<Lease, QueueError> {
        self.check_holder(lease, holder)?;
        self.in_flight.remove(lease).ok_or(QueueError::UnknownLease { lease })
    }

    /// Puts a message whose lease has ended back in the ready set at its original position, one attempt less.
    fn restore(&mut self, id: MessageId) {
        let Some(message) = self.messages.get(&id) else {
            return;
        };
        let (attempts, sequence) = (message.attempts.saturating_sub(1), message.sequence);
        self.relink(id, attempts, sequence, Target::Ready);
        self.journal.push(QueueMutation::Requeued { id, attempts, sequence, available_at: None });
    }

    /// A failed delivery of a message whose lease has ended: retry, dead-letter or drop it.
    fn fail(&mut self, id: MessageId, reason: &str, now: Millis) -> NackOutcome {
        let Some(attempts) = self.messages.get(&id).map(|message| message.attempts) else {
            return NackOutcome::Dropped;
        };
        if self.options.allows_retry(attempts) {
            let delay_ms = self.options.backoff.delay_ms(attempts);
            let available_at = now.saturating_add(delay_ms);
            let delayed_until = (delay_ms > 0).then_some(available_at);
            let sequence = self.allocate_sequence();
            self.relink(id, attempts, sequence, Target::available_at(delayed_until));
            self.journal.push(QueueMutation::Requeued { id, attempts, sequence, available_at: delayed_until });
            NackOutcome::Retrying { available_at }
        } else if self.options.dead_letter {
            let reason = truncate_at_char_boundary(reason, MAX_FAILURE_REASON_BYTES);
            let target = Target::Dead { reason: Box::from(reason), failed_at: now };
            let sequence = self.messages.get(&id).map_or(0, |message| message.sequence);
            self.relink(id, attempts, sequence, target);
            let reason = reason.to_owned();
            self.journal.push(QueueMutation::DeadLettered { id, attempts, reason, failed_at: now });
            NackOutcome::DeadLettered
        } else {
            self.remove_message(id);
            self.journal.push(QueueMutation::Removed { id });
            NackOutcome::Dropped
        }
    }
}
