//! A stream's options: retention, delivery limits, their defaults and their validation.
//!
//! Plain data only: no stream state lives here, and nothing here reads the environment or the wire format (the
//! server turns a create or update request into a [`StreamOptions`]).

use super::InvalidOptions;

/// How many times a record is delivered to a group before a failed delivery parks it in the group's dead-letter
/// list, unless the options say otherwise.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;

/// How long a nacked record waits before it is delivered again, unless the options say otherwise. Long enough
/// that a member failing on a passing fault (a database restarting) does not burn every delivery in a burst,
/// short enough that a retry feels prompt.
pub const DEFAULT_REDELIVERY_BACKOFF_MS: u64 = 1_000;

/// How long a delivery may stay unacked before it counts as failed and is delivered again (like a visibility
/// timeout), unless the options say otherwise.
pub const DEFAULT_ACK_TIMEOUT_MS: u64 = 30_000;

/// The lowest `max_deliveries` a stream accepts: every record is delivered at least once.
pub const MIN_MAX_DELIVERIES: u32 = 1;

/// The shortest ack timeout a stream accepts.
pub const MIN_ACK_TIMEOUT_MS: u64 = 1;

/// Which old records the stream deletes, always as whole segments, oldest first, never the active segment.
/// A segment goes when either limit says so; with neither set, records are kept for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// A segment is deleted once its newest record is older than this; `None` = no age limit.
    pub max_age_ms: Option<u64>,
    /// The oldest segments are deleted while the log holds more bytes than this; `None` = no size limit.
    pub max_bytes: Option<u64>,
}

/// The options of one stream. [`StreamOptions::default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Which old records are deleted.
    pub retention: Retention,
    /// Deliveries of one record to one group, the first included: a record failing its `max_deliveries`-th
    /// delivery goes to the group's dead-letter list. `u32::MAX` retries for ever.
    pub max_deliveries: u32,
    /// How long a nacked record waits before it is delivered again; 0 = at once.
    pub redelivery_backoff_ms: u64,
    /// How long a delivery may stay unacked; then it counts as a failed delivery with the reason
    /// [`ACK_TIMEOUT_REASON`](super::ACK_TIMEOUT_REASON).
    pub ack_timeout_ms: u64,
}

impl Default for StreamOptions {
    fn default() -> StreamOptions {
        StreamOptions {
            retention: Retention::default(),
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            redelivery_backoff_ms: DEFAULT_REDELIVERY_BACKOFF_MS,
            ack_timeout_ms: DEFAULT_ACK_TIMEOUT_MS,
        }
    }
}

impl StreamOptions {
    /// Checks every rule; the first one broken is the error.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if self.max_deliveries < MIN_MAX_DELIVERIES {
            return Err(InvalidOptions::MaxDeliveriesTooLow { given: self.max_deliveries });
        }
        if self.ack_timeout_ms < MIN_ACK_TIMEOUT_MS {
            return Err(InvalidOptions::AckTimeoutTooShort { given: self.ack_timeout_ms });
        }
        if self.retention.max_age_ms == Some(0) {
            return Err(InvalidOptions::MaxAgeZero);
        }
        if self.retention.max_bytes == Some(0) {
            return Err(InvalidOptions::MaxBytesZero);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let options = StreamOptions::default();
        assert_eq!(options.max_deliveries, 5);
        assert_eq!(options.redelivery_backoff_ms, 1_000);
        assert_eq!(options.ack_timeout_ms, 30_000);
        assert_eq!(options.retention, Retention { max_age_ms: None, max_bytes: None });
        assert_eq!(options.validate(), Ok(()));
    }

    #[test]
    fn each_rule_is_checked() {
        let base = StreamOptions::default();
        let cases = [
            (StreamOptions { max_deliveries: 0, ..base }, InvalidOptions::MaxDeliveriesTooLow { given: 0 }),
            (StreamOptions { ack_timeout_ms: 0, ..base }, InvalidOptions::AckTimeoutTooShort { given: 0 }),
            (
                StreamOptions { retention: Retention { max_age_ms: Some(0), max_bytes: None }, ..base },
                InvalidOptions::MaxAgeZero,
            ),
            (
                StreamOptions { retention: Retention { max_age_ms: None, max_bytes: Some(0) }, ..base },
                InvalidOptions::MaxBytesZero,
            ),
        ];
        for (options, expected) in cases {
            assert_eq!(options.validate(), Err(expected));
        }
    }

    #[test]
    fn extreme_but_meaningful_values_are_accepted() {
        let options = StreamOptions {
            retention: Retention { max_age_ms: Some(1), max_bytes: Some(u64::MAX) },
            max_deliveries: u32::MAX,
            redelivery_backoff_ms: 0,
            ack_timeout_ms: u64::MAX,
        };
        assert_eq!(options.validate(), Ok(()));
    }
}
