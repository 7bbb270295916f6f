//! The gateway's one source of randomness: rand's thread-local generator (ChaCha12, seeded
//! from the operating system and reseeded as it goes). Trace and span ids must not collide
//! across replicas and should not be guessable; retry jitter only needs spread. One
//! generator serves both, instead of hashing the clock or a counter with `RandomState`.

use rand::Rng;

/// A random 64-bit word, never zero (W3C trace context forbids all-zero ids).
pub fn nonzero_u64() -> u64 {
    rand::random::<u64>() | 1
}

/// A random number in `[low, high]`.
pub fn in_range(low: u64, high: u64) -> u64 {
    rand::thread_rng().gen_range(low..=high.max(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_nonzero_and_differ() {
        let words: std::collections::HashSet<u64> = (0..1000).map(|_| nonzero_u64()).collect();
        assert_eq!(words.len(), 1000);
        assert!(!words.contains(&0));
    }

    #[test]
    fn ranges_hold_their_bounds_and_spread() {
        let drawn: Vec<u64> = (0..2000).map(|_| in_range(25, 50)).collect();
        assert!(drawn.iter().all(|n| (25..=50).contains(n)));
        assert!(
            drawn.contains(&25) && drawn.contains(&50),
            "both ends are drawn"
        );
        assert_eq!(in_range(7, 7), 7);
        assert_eq!(in_range(9, 3), 9, "an empty range gives its low end");
    }
}
