//! The stream journal's field encodings beyond the shared ones of [`crate::codec`]: [`StreamOptions`], group
//! names, and the stream's decode error as a [`DecodeError`](crate::codec::DecodeError).
//!
//! The layouts are documented once, in `mutation.rs`.

use crate::codec::{impl_decode_error, put_opt_u64};
pub(super) use crate::codec::{put_text, put_u32, put_u64};

use super::{MutationDecodeError, Retention, StreamOptions, MAX_GROUP_NAME_BYTES};

/// A reader of stream journal records.
pub(super) type Reader<'a> = crate::codec::Reader<'a, MutationDecodeError>;

impl_decode_error!(MutationDecodeError);

pub(super) fn put_options(out: &mut Vec<u8>, options: &StreamOptions) {
    put_opt_u64(out, options.retention.max_age_ms);
    put_opt_u64(out, options.retention.max_bytes);
    put_u32(out, options.max_deliveries);
    put_u64(out, options.redelivery_backoff_ms);
    put_u64(out, options.ack_timeout_ms);
}

/// Reading group names and [`StreamOptions`] from a stream journal record.
pub(super) trait ReadStreamFields {
    /// A group name, which must be 1 to [`MAX_GROUP_NAME_BYTES`] bytes of UTF-8.
    fn group(&mut self) -> Result<String, MutationDecodeError>;
    /// Options, which must also pass [`StreamOptions::validate`].
    fn options(&mut self) -> Result<StreamOptions, MutationDecodeError>;
}

impl ReadStreamFields for Reader<'_> {
    fn group(&mut self) -> Result<String, MutationDecodeError> {
        let group = self.text("group name")?;
        if group.is_empty() || group.len() > MAX_GROUP_NAME_BYTES {
            return Err(MutationDecodeError::InvalidGroupName { bytes: group.len() });
        }
        Ok(group)
    }

    fn options(&mut self) -> Result<StreamOptions, MutationDecodeError> {
        let retention = Retention { max_age_ms: self.opt_u64("max age")?, max_bytes: self.opt_u64("max bytes")? };
        let max_deliveries = self.u32()?;
        let redelivery_backoff_ms = self.u64()?;
        let ack_timeout_ms = self.u64()?;
        let options = StreamOptions { retention, max_deliveries, redelivery_backoff_ms, ack_timeout_ms };
        options.validate().map_err(MutationDecodeError::InvalidOptions)?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_checked_on_the_way_in() {
        let mut out = Vec::new();
        put_text(&mut out, "");
        assert_eq!(Reader::new(&out).group(), Err(MutationDecodeError::InvalidGroupName { bytes: 0 }));
        out.clear();
        put_text(&mut out, &"g".repeat(MAX_GROUP_NAME_BYTES + 1));
        assert_eq!(Reader::new(&out).group(), Err(MutationDecodeError::InvalidGroupName { bytes: 256 }));
        assert_eq!(Reader::new(&[2, 0xc3, 0x28]).group(), Err(MutationDecodeError::NotUtf8 { field: "group name" }));
    }

    #[test]
    fn options_round_trip_and_invalid_ones_are_refused() {
        let options = StreamOptions {
            retention: Retention { max_age_ms: Some(86_400_000), max_bytes: None },
            max_deliveries: 3,
            redelivery_backoff_ms: 0,
            ack_timeout_ms: 10,
        };
        let mut out = Vec::new();
        put_options(&mut out, &options);
        assert_eq!(Reader::new(&out).options(), Ok(options));
        let mut invalid = Vec::new();
        put_options(&mut invalid, &StreamOptions { max_deliveries: 0, ..options });
        let expected =
            MutationDecodeError::InvalidOptions(super::super::InvalidOptions::MaxDeliveriesTooLow { given: 0 });
        assert_eq!(Reader::new(&invalid).options(), Err(expected));
    }
}
