//! Ending a delivery: ack, nack, releasing a departed member's records, and overdue acks.
//!
//! Only the member a record was delivered to may ack or nack it while it is pending; an ack that arrives after
//! the delivery failed (nacked, or overdue) but before the record went out again still counts. A failed delivery
//! (a nack or an overdue ack) is delivered again after the backoff, until the record has had `max_deliveries`
//! deliveries; then it is parked in the group's dead-letter list with the failure reason. A release (the member's
//! connection closed) makes the record due at once and does not count the delivery. This file decides what
//! happens to a record; the group's sets are moved through `group.rs`.

use super::group::Refusal;
use super::{HolderId, NackOutcome, Offset, Stream, StreamError, StreamMutation};
use crate::text::truncate_at_char_boundary;
use crate::Millis;

/// The failure reason recorded when a delivery is not acked within the ack timeout.
pub const ACK_TIMEOUT_REASON: &str = "ack timeout";

/// The longest failure reason kept, in bytes; a longer reason is cut at the last character boundary before it.
pub const MAX_FAILURE_REASON_BYTES: usize = 1024;

impl Stream {
    /// Acks record `offset` of `group` for `holder`: the group never delivers it again, and the committed offset
    /// moves past it once every record before it is acked too.
    pub fn ack(&mut self, group: &str, offset: Offset, holder: HolderId) -> Result<(), StreamError> {
        self.group_mut(group)?.ack(offset, holder).map_err(|refusal| refused(refusal, group, offset))?;
        self.push_acked(group, offset, offset.saturating_add(1));
        Ok(())
    }

    /// Rejects the delivery of record `offset` of `group` as failed for `reason` (kept up to
    /// [`MAX_FAILURE_REASON_BYTES`]): it is delivered again after the redelivery backoff, or parked in the
    /// dead-letter list once it has had `max_deliveries` deliveries.
    pub fn nack(
        &mut self,
        group: &str,
        offset: Offset,
        holder: HolderId,
        reason: &str,
        now: Millis,
    ) -> Result<NackOutcome, StreamError> {
        let options = self.options;
        let found = self.group_mut(group)?;
        let delivery = found.take_pending(offset, holder).map_err(|refusal| refused(refusal, group, offset))?;
        let reason = truncate_at_char_boundary(reason, MAX_FAILURE_REASON_BYTES);
        let deliveries = delivery.deliveries;
        let outcome = found.fail(offset, deliveries, reason, now, &options);
        if outcome == NackOutcome::DeadLettered {
            let (group, reason) = (group.to_owned(), reason.to_owned());
            self.journal.push(StreamMutation::DeadLettered { group, offset, deliveries, reason, failed_at: now });
        }
        Ok(outcome)
    }

    /// Releases every record `holder` holds in any group (its member's connection closed): each is due again at
    /// once, ahead of records never delivered, and the delivery it had is not counted. Returns how many.
    pub fn release_holder(&mut self, holder: HolderId) -> u64 {
        self.groups.values_mut().map(|group| group.release_holder(holder) as u64).sum()
    }

    /// What the server does at [`Stream::next_wakeup`]: fails every delivery whose ack deadline has passed at
    /// `now` (`deadline <= now`), in every group, like a nack with the reason [`ACK_TIMEOUT_REASON`], and makes
    /// due every record whose redelivery backoff has passed, so the next wakeup lies in the future. Returns how
    /// many deliveries failed. Records may be due afterwards: the server offers them to the groups' members.
    pub fn expire(&mut self, now: Millis) -> u64 {
        let options = self.options;
        let mut expired = 0;
        for (name, group) in &mut self.groups {
            while let Some((offset, deliveries)) = group.take_overdue(now) {
                if group.fail(offset, deliveries, ACK_TIMEOUT_REASON, now, &options) == NackOutcome::DeadLettered {
                    let reason = ACK_TIMEOUT_REASON.to_owned();
                    let record = StreamMutation::DeadLettered {
                        group: name.clone(),
                        offset,
                        deliveries,
                        reason,
                        failed_at: now,
                    };
                    self.journal.push(record);
                }
                expired += 1;
            }
            group.promote_due(now);
        }
        expired
    }
}

/// The error for a refused ack or nack.
fn refused(refusal: Refusal, group: &str, offset: Offset) -> StreamError {
    let group = group.to_owned();
    match refusal {
        Refusal::NotPending => StreamError::NotPending { group, offset },
        Refusal::NotHolder => StreamError::NotHolder { group, offset },
    }
}
