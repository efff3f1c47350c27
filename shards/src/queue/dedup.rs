//! Deduplication: which message, if any, currently holds each dedup id.
//!
//! An id is held from the push that carries it until its message leaves the queue (ack, drop, DLQ delete,
//! purge), whichever set the message is in meanwhile, the DLQ included. The `Queue` claims and frees ids as
//! messages come and go; this file only keeps the map and checks the length limit.

use ahash::AHashMap;

use super::{MessageId, QueueError, MAX_DEDUP_ID_BYTES};

/// Dedup id → the message that holds it.
#[derive(Debug, Default)]
pub(super) struct DedupIndex {
    holders: AHashMap<Box<str>, MessageId>,
}

impl DedupIndex {
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.holders.len()
    }

    /// The message holding `dedup_id`, if one does.
    pub(super) fn holder(&self, dedup_id: &str) -> Option<MessageId> {
        self.holders.get(dedup_id).copied()
    }

    /// Records that `id` holds `dedup_id`, replacing any previous holder.
    pub(super) fn claim(&mut self, dedup_id: &str, id: MessageId) {
        self.holders.insert(Box::from(dedup_id), id);
    }

    /// Frees `dedup_id` if `id` holds it (a replaced holder must not free its successor's claim).
    pub(super) fn release(&mut self, dedup_id: &str, id: MessageId) {
        if self.holder(dedup_id) == Some(id) {
            self.holders.remove(dedup_id);
        }
    }
}

/// Refuses a dedup id longer than [`MAX_DEDUP_ID_BYTES`].
pub(super) fn check_dedup_id(dedup_id: Option<&str>) -> Result<(), QueueError> {
    match dedup_id {
        Some(dedup_id) if dedup_id.len() > MAX_DEDUP_ID_BYTES => {
            Err(QueueError::DedupIdTooLong { bytes: dedup_id.len() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_held_until_its_holder_releases_it() {
        let mut index = DedupIndex::default();
        index.claim("job-1", 10);
        assert_eq!(index.holder("job-1"), Some(10));
        index.release("job-1", 11);
        assert_eq!(index.holder("job-1"), Some(10), "only the holder frees the id");
        index.release("job-1", 10);
        assert_eq!(index.holder("job-1"), None);
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn ids_up_to_the_limit_are_accepted() {
        assert_eq!(check_dedup_id(None), Ok(()));
        assert_eq!(check_dedup_id(Some("")), Ok(()));
        assert_eq!(check_dedup_id(Some(&"x".repeat(MAX_DEDUP_ID_BYTES))), Ok(()));
        let too_long = "x".repeat(MAX_DEDUP_ID_BYTES + 1);
        assert_eq!(check_dedup_id(Some(&too_long)), Err(QueueError::DedupIdTooLong { bytes: too_long.len() }));
    }
}
