//! The queue journal's field encodings beyond the shared ones of [`crate::codec`]: [`QueueOptions`], and the
//! queue's decode error as a [`DecodeError`].
//!
//! The layouts are documented once, in `mutation.rs`.

use crate::codec::impl_decode_error;
pub(super) use crate::codec::{put_bytes, put_length, put_opt_bytes, put_opt_u64, put_u32, put_u64, U64_BYTES};

use super::{Backoff, MutationDecodeError, QueueOptions};

const BACKOFF_NONE: u8 = 0;
const BACKOFF_FIXED: u8 = 1;
const BACKOFF_EXPONENTIAL: u8 = 2;

/// A reader of queue journal records.
pub(super) type Reader<'a> = crate::codec::Reader<'a, MutationDecodeError>;

impl_decode_error!(MutationDecodeError);

pub(super) fn put_options(out: &mut Vec<u8>, options: &QueueOptions) {
    put_u64(out, options.visibility_timeout_ms);
    put_u32(out, options.max_retries);
    match options.backoff {
        Backoff::None => out.push(BACKOFF_NONE),
        Backoff::Fixed { delay_ms } => {
            out.push(BACKOFF_FIXED);
            put_u64(out, delay_ms);
        }
        Backoff::Exponential { delay_ms, max_delay_ms } => {
            out.push(BACKOFF_EXPONENTIAL);
            put_u64(out, delay_ms);
            put_opt_u64(out, max_delay_ms);
        }
    }
    put_opt_u64(out, options.max_length);
    out.push(u8::from(options.dead_letter));
}

/// Reading [`QueueOptions`] from a queue journal record.
pub(super) trait ReadOptions {
    /// Options, which must also pass [`QueueOptions::validate`].
    fn options(&mut self) -> Result<QueueOptions, MutationDecodeError>;
}

impl ReadOptions for Reader<'_> {
    fn options(&mut self) -> Result<QueueOptions, MutationDecodeError> {
        let visibility_timeout_ms = self.u64()?;
        let max_retries = self.u32()?;
        let backoff = match self.byte()? {
            BACKOFF_NONE => Backoff::None,
            BACKOFF_FIXED => Backoff::Fixed { delay_ms: self.u64()? },
            BACKOFF_EXPONENTIAL => {
                Backoff::Exponential { delay_ms: self.u64()?, max_delay_ms: self.opt_u64("max delay")? }
            }
            marker => return Err(MutationDecodeError::InvalidMarker { field: "backoff", marker }),
        };
        let max_length = self.opt_u64("max length")?;
        let dead_letter = self.present("dead letter")?;
        let options = QueueOptions { visibility_timeout_ms, max_retries, backoff, max_length, dead_letter };
        options.validate().map_err(MutationDecodeError::InvalidOptions)?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_and_invalid_ones_are_refused() {
        let options = QueueOptions {
            visibility_timeout_ms: 1_000,
            max_retries: 3,
            backoff: Backoff::Exponential { delay_ms: 500, max_delay_ms: Some(10_000) },
            max_length: Some(42),
            dead_letter: false,
        };
        let mut out = Vec::new();
        put_options(&mut out, &options);
        assert_eq!(Reader::new(&out).options(), Ok(options));
        let mut invalid = Vec::new();
        put_options(&mut invalid, &QueueOptions { visibility_timeout_ms: 0, ..options });
        let expected =
            MutationDecodeError::InvalidOptions(crate::queue::InvalidOptions::VisibilityTimeoutTooShort { given: 0 });
        assert_eq!(Reader::new(&invalid).options(), Err(expected));
    }
}
