//! Latencies and their percentiles: every answered request's time kept (nanoseconds), sorted once, read by
//! nearest rank, so p99 is a latency some request really had.

use std::time::Duration;

/// The latencies of one measurement, sorted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies {
    sorted_nanos: Vec<u64>,
}

impl Latencies {
    /// Sorts `nanos` and keeps them.
    pub(crate) fn new(mut nanos: Vec<u64>) -> Latencies {
        nanos.sort_unstable();
        Latencies {
            sorted_nanos: nanos,
        }
    }

    /// From durations, in any order.
    pub(crate) fn from_durations(durations: impl IntoIterator<Item = Duration>) -> Latencies {
        Latencies::new(
            durations
                .into_iter()
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .collect(),
        )
    }

    /// All the latencies of several measurements, as one.
    pub(crate) fn merge(parts: impl IntoIterator<Item = Latencies>) -> Latencies {
        Latencies::new(parts.into_iter().flat_map(|l| l.sorted_nanos).collect())
    }

    pub(crate) fn len(&self) -> usize {
        self.sorted_nanos.len()
    }

    /// The `q`-th percentile (0 < q ≤ 100) in milliseconds, by nearest rank; 0 when nothing was measured.
    pub(crate) fn percentile_ms(&self, q: f64) -> f64 {
        let n = self.sorted_nanos.len();
        if n == 0 {
            return 0.0;
        }
        // Nearest rank: the smallest value with at least q% of the values at or below it.
        let rank = ((q / 100.0) * n as f64).ceil() as usize;
        let index = rank.clamp(1, n) - 1;
        self.sorted_nanos[index] as f64 / 1e6
    }

    pub(crate) fn p50_ms(&self) -> f64 {
        self.percentile_ms(50.0)
    }

    pub(crate) fn p99_ms(&self) -> f64 {
        self.percentile_ms(99.0)
    }
}

/// The median of `values` (the upper one of an even count); 0 for none.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_values_that_were_measured() {
        // 1..=100 ms, shuffled: p50 is the 50th value, p99 the 99th, p100 the largest.
        let nanos: Vec<u64> = (1..=100u64).rev().map(|ms| ms * 1_000_000).collect();
        let latencies = Latencies::new(nanos);
        assert_eq!(latencies.len(), 100);
        assert_eq!(latencies.p50_ms(), 50.0);
        assert_eq!(latencies.p99_ms(), 99.0);
        assert_eq!(latencies.percentile_ms(100.0), 100.0);
        assert_eq!(latencies.percentile_ms(0.001), 1.0);
    }

    #[test]
    fn few_or_no_latencies_still_answer() {
        assert_eq!(Latencies::default().p99_ms(), 0.0);
        let one = Latencies::from_durations([Duration::from_micros(250)]);
        assert_eq!(one.p50_ms(), 0.25);
        assert_eq!(one.p99_ms(), 0.25);
        // Three values: p50 is the second, p99 the third.
        let three = Latencies::from_durations([3, 1, 2].map(Duration::from_millis));
        assert_eq!((three.p50_ms(), three.p99_ms()), (2.0, 3.0));
    }

    #[test]
    fn merged_latencies_are_read_as_one_measurement() {
        let merged = Latencies::merge([
            Latencies::from_durations([4, 1].map(Duration::from_millis)),
            Latencies::from_durations([3, 2].map(Duration::from_millis)),
        ]);
        assert_eq!(merged.len(), 4);
        assert_eq!((merged.p50_ms(), merged.p99_ms()), (2.0, 4.0));
    }

    #[test]
    fn the_median_takes_the_middle_value() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(&[]), 0.0);
    }
}
