//! The seed generator's source of randomness: SplitMix64, written out here so that a fixed
//! seed gives the same data on every machine and with every version of every crate.
//!
//! Only integer arithmetic and correctly rounded float operations (`*`, `/`, conversions) are
//! used: library functions such as `powf` may differ between platforms' maths libraries.

/// A small, fast, deterministic generator (Steele, Lea and Flood's SplitMix64).
#[derive(Debug, Clone)]
pub(super) struct Rng {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl Rng {
    /// A generator that starts from `seed`.
    pub(super) fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// An independent generator per table, so that the number of values one table draws
    /// does not shift what the next one gets.
    pub(super) fn stream(seed: u64, stream: u64) -> Rng {
        let mut base = Rng::new(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03));
        Rng::new(base.next_u64())
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (Lemire's multiply-shift; the bias is far below anything visible).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a slice of length `n` (`n > 0`).
    pub(super) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A value in `lo..=hi`.
    pub(super) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent` / 100.
    pub(super) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A float in `0.0..1.0` with 53 random bits.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An index in `0..n` that favours small values: rank `k` is drawn about as often as
    /// `1 / sqrt(k)`, which gives the long tail of popularity that real catalogs show.
    pub(super) fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * n as f64) as usize).min(n - 1)
    }

    /// One element of a non-empty slice.
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Fisher–Yates.
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// `count` distinct elements of `items` (all of them if there are fewer), in draw order.
    pub(super) fn sample<T: Copy>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut pool = items.to_vec();
        let count = count.min(pool.len());
        for i in 0..count {
            let j = i + self.index(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(count);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of the reference C implementation for seed 1234567.
        let mut rng = Rng::new(1_234_567);
        let first: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821,
            ]
        );
    }

    #[test]
    fn same_seed_gives_same_values_and_streams_differ() {
        let draw = |mut rng: Rng| -> Vec<u64> { (0..100).map(|_| rng.below(1000)).collect() };
        assert_eq!(draw(Rng::stream(42, 3)), draw(Rng::stream(42, 3)));
        assert_ne!(draw(Rng::stream(42, 3)), draw(Rng::stream(42, 4)));
        assert_ne!(draw(Rng::stream(42, 3)), draw(Rng::stream(43, 3)));
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            assert!(rng.below(13) < 13);
            assert!((5..=9).contains(&rng.between(5, 9)));
            assert!((0.0..1.0).contains(&rng.unit()));
            assert!(rng.skewed(3) < 3);
        }
        let sample = rng.sample(&[1, 2, 3, 4, 5, 6], 4);
        let mut sorted = sample.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
    }
}
