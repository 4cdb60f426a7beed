//! A small seeded pseudo-random generator (SplitMix64), so that faults and generated command
//! sequences are reproducible from a seed without any dependency.

/// SplitMix64 (Steele, Lea, Flood 2014): 64 bits of state, one multiply-xorshift mix per
/// output. Not cryptographic; fast and well distributed, which is all a simulator needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0). The modulo bias is below 2^-32 for the small
    /// ranges used here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// An index in `0..n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        let v = self.below(u64::try_from(n).unwrap_or(u64::MAX));
        usize::try_from(v).unwrap_or(0)
    }

    /// `true` with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits as a fraction in [0, 1).
        let frac = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        frac < p
    }

    /// A uniformly chosen element of `items`, `None` when empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let i = self.index(items.len());
        items.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // First outputs of SplitMix64 seeded with 0 (published reference values).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn chance_is_roughly_right() {
        let mut r = SplitMix64::new(7);
        let n = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2_000..3_000).contains(&n), "{n}");
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
    }
}
