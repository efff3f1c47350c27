//! A weighted latency histogram: exact below 128 ns, then 64 buckets per power of two (under 1.6% error), so
//! every delivery counts without keeping a sample per delivery.

/// See the module docs. Values are nanoseconds.
pub struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    /// Bits of a value kept below its leading one.
    const SUB_BITS: u32 = 6;
    /// Values below this have a bucket each.
    const LINEAR: u64 = 2 << Self::SUB_BITS;

    pub fn new() -> Histogram {
        Histogram { counts: vec![0; Self::index(u64::MAX) + 1] }
    }

    fn index(value: u64) -> usize {
        if value < Self::LINEAR {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros();
        let top = (value >> (exponent - Self::SUB_BITS)) as usize;
        Self::LINEAR as usize + (exponent - Self::SUB_BITS - 1) as usize * (1 << Self::SUB_BITS) + top
            - (1 << Self::SUB_BITS)
    }

    /// The middle of bucket `index`.
    fn value(index: usize) -> u64 {
        if index < Self::LINEAR as usize {
            return index as u64;
        }
        let offset = index - Self::LINEAR as usize;
        let exponent = offset as u32 / (1 << Self::SUB_BITS) + Self::SUB_BITS + 1;
        let top = (offset % (1 << Self::SUB_BITS) + (1 << Self::SUB_BITS)) as u64;
        let width = 1u64 << (exponent - Self::SUB_BITS);
        top * width + width / 2
    }

    pub fn record(&mut self, value: u64, weight: u64) {
        self.counts[Self::index(value)] += weight;
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.counts.iter_mut().zip(&other.counts).for_each(|(mine, theirs)| *mine += theirs);
    }

    /// The value under which `fraction` of the recorded weight lies; 0 when nothing was recorded.
    pub fn percentile(&self, fraction: f64) -> u64 {
        let total: u64 = self.counts.iter().sum();
        let rank = ((total as f64 * fraction).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value(index);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_round_trip_within_their_precision() {
        for value in [0, 1, 127, 128, 129, 1_000, 65_535, 1_000_000, 123_456_789, u64::MAX / 2] {
            let middle = Histogram::value(Histogram::index(value));
            let error = (middle as f64 - value as f64).abs() / (value.max(1) as f64);
            assert!(error <= 1.0 / 64.0, "{value} lands in a bucket whose middle is {middle}");
        }
        assert!(Histogram::index(u64::MAX) < Histogram::new().counts.len());
    }

    #[test]
    fn histogram_percentiles_are_weighted() {
        let mut histogram = Histogram::new();
        histogram.record(10, 98);
        histogram.record(100_000, 2);
        assert_eq!(histogram.percentile(0.5), 10);
        assert_eq!(histogram.percentile(0.98), 10);
        assert!(histogram.percentile(0.99).abs_diff(100_000) < 100_000 / 64);
    }
}
