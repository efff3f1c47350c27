//! A queue's options: their defaults, their validation and the retry delay a backoff gives.
//!
//! Plain data only: no queue state lives here, and nothing here reads the environment or the wire format (the
//! server turns a create or update request into a [`QueueOptions`]).

use super::InvalidOptions;

/// How long a delivery stays leased before it is taken back as a failed attempt, unless the options say otherwise.
pub const DEFAULT_VISIBILITY_TIMEOUT_MS: u64 = 30_000;

/// How many times a failed message is retried after its first delivery, unless the options say otherwise: at
/// most 6 deliveries.
pub const DEFAULT_MAX_RETRIES: u32 = 5;

/// The shortest visibility timeout a queue accepts.
pub const MIN_VISIBILITY_TIMEOUT_MS: u64 = 1;

/// The shortest delay a fixed or exponential backoff accepts.
pub const MIN_BACKOFF_DELAY_MS: u64 = 1;

/// The options of one queue. [`QueueOptions::default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// How long a delivery is leased; a lease not settled or extended by then counts as a failed attempt.
    pub visibility_timeout_ms: u64,
    /// Retries after the first delivery: a message failing its `max_retries + 1`-th delivery is dead-lettered
    /// (or dropped). `u32::MAX` retries for ever.
    pub max_retries: u32,
    /// How long a failed message waits before it is ready again.
    pub backoff: Backoff,
    /// The most ready + delayed + in-flight messages the queue holds (dead-lettered ones are not counted);
    /// `None` = unbounded.
    pub max_length: Option<u64>,
    /// Whether a message whose retries are exhausted goes to the DLQ (`true`) or is dropped (`false`).
    pub dead_letter: bool,
}

impl Default for QueueOptions {
    fn default() -> QueueOptions {
        QueueOptions {
            visibility_timeout_ms: DEFAULT_VISIBILITY_TIMEOUT_MS,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff: Backoff::None,
            max_length: None,
            dead_letter: true,
        }
    }
}

impl QueueOptions {
    /// Checks every rule; the first one broken is the error.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if self.visibility_timeout_ms < MIN_VISIBILITY_TIMEOUT_MS {
            return Err(InvalidOptions::VisibilityTimeoutTooShort { given: self.visibility_timeout_ms });
        }
        if self.max_length == Some(0) {
            return Err(InvalidOptions::MaxLengthZero);
        }
        self.backoff.validate()
    }

    /// Whether a message that has failed `failed_attempts` deliveries may be retried.
    pub(super) fn allows_retry(&self, failed_attempts: u32) -> bool {
        failed_attempts <= self.max_retries
    }
}

/// How long a failed message waits before it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backoff {
    /// Retry at once.
    #[default]
    None,
    /// Wait `delay_ms` after every failure.
    Fixed {
        /// The wait, at least [`MIN_BACKOFF_DELAY_MS`].
        delay_ms: u64,
    },
    /// Wait `delay_ms × 2^(failed attempts − 1)` (saturating), capped by `max_delay_ms`.
    Exponential {
        /// The wait after the first failure, at least [`MIN_BACKOFF_DELAY_MS`].
        delay_ms: u64,
        /// The longest wait, at least `delay_ms`; `None` = uncapped.
        max_delay_ms: Option<u64>,
    },
}

impl Backoff {
    /// Checks the delays; the first rule broken is the error.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        match *self {
            Backoff::None => Ok(()),
            Backoff::Fixed { delay_ms } => check_delay(delay_ms),
            Backoff::Exponential { delay_ms, max_delay_ms } => {
                check_delay(delay_ms)?;
                match max_delay_ms {
                    Some(max_delay_ms) if max_delay_ms < delay_ms => {
                        Err(InvalidOptions::MaxDelayBelowDelay { delay_ms, max_delay_ms })
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// How long a message waits after its `failed_attempts`-th failed delivery (counted from 1); 0 = ready at once.
    pub fn delay_ms(&self, failed_attempts: u32) -> u64 {
        match *self {
            Backoff::None => 0,
            Backoff::Fixed { delay_ms } => delay_ms,
            Backoff::Exponential { delay_ms, max_delay_ms } => {
                let doublings = failed_attempts.saturating_sub(1);
                let factor = 1_u64.checked_shl(doublings).unwrap_or(0);
                let delay = if factor == 0 { u64::MAX } else { delay_ms.saturating_mul(factor) };
                max_delay_ms.map_or(delay, |cap| delay.min(cap))
            }
        }
    }
}

fn check_delay(delay_ms: u64) -> Result<(), InvalidOptions> {
    if delay_ms < MIN_BACKOFF_DELAY_MS {
        return Err(InvalidOptions::BackoffDelayTooShort { given: delay_ms });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let options = QueueOptions::default();
        assert_eq!(options.visibility_timeout_ms, 30_000);
        assert_eq!(options.max_retries, 5);
        assert_eq!(options.backoff, Backoff::None);
        assert_eq!(options.max_length, None);
        assert!(options.dead_letter);
        assert_eq!(options.validate(), Ok(()));
    }

    #[test]
    fn every_rule_is_checked() {
        let base = QueueOptions::default();
        let cases = [
            (QueueOptions { visibility_timeout_ms: 0, ..base }, InvalidOptions::VisibilityTimeoutTooShort { given: 0 }),
            (QueueOptions { max_length: Some(0), ..base }, InvalidOptions::MaxLengthZero),
            (
                QueueOptions { backoff: Backoff::Fixed { delay_ms: 0 }, ..base },
                InvalidOptions::BackoffDelayTooShort { given: 0 },
            ),
            (
                QueueOptions { backoff: Backoff::Exponential { delay_ms: 0, max_delay_ms: None }, ..base },
                InvalidOptions::BackoffDelayTooShort { given: 0 },
            ),
            (
                QueueOptions { backoff: Backoff::Exponential { delay_ms: 10, max_delay_ms: Some(9) }, ..base },
                InvalidOptions::MaxDelayBelowDelay { delay_ms: 10, max_delay_ms: 9 },
            ),
        ];
        for (options, expected) in cases {
            assert_eq!(options.validate(), Err(expected), "{options:?}");
        }
        let edge = QueueOptions {
            visibility_timeout_ms: 1,
            max_length: Some(1),
            backoff: Backoff::Exponential { delay_ms: 1, max_delay_ms: Some(1) },
            ..base
        };
        assert_eq!(edge.validate(), Ok(()));
    }

    #[test]
    fn fixed_and_none_backoffs_do_not_grow() {
        for attempts in [1, 2, 10, u32::MAX] {
            assert_eq!(Backoff::None.delay_ms(attempts), 0);
            assert_eq!(Backoff::Fixed { delay_ms: 250 }.delay_ms(attempts), 250);
        }
    }

    #[test]
    fn exponential_backoff_doubles_saturates_and_caps() {
        let uncapped = Backoff::Exponential { delay_ms: 500, max_delay_ms: None };
        let delays: Vec<u64> = (1..=4).map(|attempts| uncapped.delay_ms(attempts)).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 4_000]);
        assert_eq!(uncapped.delay_ms(0), 500, "no failure yet counts like the first");
        assert_eq!(uncapped.delay_ms(64), u64::MAX, "500 × 2^63 saturates");
        assert_eq!(uncapped.delay_ms(65), u64::MAX, "a shift past 63 saturates too");
        let capped = Backoff::Exponential { delay_ms: 500, max_delay_ms: Some(3_000) };
        assert_eq!(capped.delay_ms(3), 2_000);
        assert_eq!(capped.delay_ms(4), 3_000);
        assert_eq!(capped.delay_ms(u32::MAX), 3_000);
    }

    #[test]
    fn retries_are_allowed_up_to_max_retries_failures() {
        let options = QueueOptions { max_retries: 2, ..QueueOptions::default() };
        assert!(options.allows_retry(1) && options.allows_retry(2));
        assert!(!options.allows_retry(3));
        let forever = QueueOptions { max_retries: u32::MAX, ..QueueOptions::default() };
        assert!(forever.allows_retry(u32::MAX));
    }
}
