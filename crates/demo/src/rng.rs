//! The one deterministic generator of the workspace's generated data: the demo data set of
//! this crate and the generated test data of quarry-testkit (which re-exports [`Rng`]).
//!
//! Generated data sets are pinned by their generator: a demo re-created anywhere must be
//! the same demo, and a test's data must stay the data its assertions were checked on. So
//! the generator keeps each stream exactly as it was first drawn: [`Rng::new`] is SplitMix64
//! (Steele, Lea & Flood), small, fast and good enough for demo data; [`Rng::xorshift`] is
//! the xorshift64 (13, 7, 17) stream that quarry-testkit's generated data was drawn from,
//! kept for those data sets rather than re-drawing them. Neither reads the OS or the clock.

/// The SplitMix64 increment (2^64 / φ), also a convenient odd constant to mix with.
pub(crate) const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective scramble of 64 bits.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a text, to seed from names.
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The top 53 bits as a float in `[0, 1)`.
pub(crate) fn unit_of(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Which stream a generator draws.
#[derive(Debug, Clone, Copy)]
enum Stream {
    SplitMix64,
    XorShift64,
}

/// A small deterministic generator; the same seed always gives the same draws.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    stream: Stream,
}

impl Rng {
    /// SplitMix64 from `seed` (any seed, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed,
            stream: Stream::SplitMix64,
        }
    }

    /// The xorshift64 stream quarry-testkit's generated data is drawn from, with its own
    /// reduction in [`Rng::below`] (a remainder). A zero seed stays zero forever.
    pub fn xorshift(seed: u64) -> Rng {
        Rng {
            state: seed,
            stream: Stream::XorShift64,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        match self.stream {
            Stream::SplitMix64 => {
                self.state = self.state.wrapping_add(GOLDEN);
                mix(self.state)
            }
            Stream::XorShift64 => {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                self.state
            }
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        unit_of(self.next_u64())
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `0..n`: 0 when `n` is 0 on SplitMix64 (a multiply-shift, no division);
    /// the xorshift stream keeps the remainder its data sets were drawn with (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        let bits = self.next_u64();
        match self.stream {
            Stream::SplitMix64 => ((u128::from(bits) * u128::from(n)) >> 64) as u64,
            Stream::XorShift64 => bits % n,
        }
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.abs_diff(lo) + 1) as i64
    }

    /// A standard normal draw (Irwin–Hall approximation, no tails beyond ±3.5).
    pub fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 3f64.sqrt()
    }

    /// Uniform pick from a non-empty list.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Weighted pick from a non-empty list of `(item, weight)`.
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut r = self.below(total);
        for &(item, w) in items {
            if r < u64::from(w) {
                return item;
            }
            r -= u64::from(w);
        }
        items[items.len() - 1].0
    }

    /// A random version-4 UUID, as text.
    pub fn uuid(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        uuid_from(hi, lo)
    }
}

/// Format 128 random bits as a version-4 (random), RFC 4122 variant UUID.
pub(crate) fn uuid_from(hi: u64, lo: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    let mut text = Vec::with_capacity(36);
    for (i, byte) in bytes.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push(b'-');
        }
        text.push(HEX[usize::from(byte >> 4)]);
        text.push(HEX[usize::from(byte & 0xF)]);
    }
    // Always ASCII, so never empty.
    String::from_utf8(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::Rng;

    /// Both streams are pinned: data sets drawn from them (the demo, quarry-testkit's
    /// generated test data) must stay the same data. SplitMix64 from seed 0 gives the
    /// reference implementation's first outputs.
    #[test]
    fn streams_are_pinned() {
        let mut split = Rng::new(0);
        let first: Vec<u64> = (0..3).map(|_| split.next_u64()).collect();
        assert_eq!(
            first,
            [
                0xe220_a839_7b1d_cdaf,
                0x6e78_9e6a_a1b9_65f4,
                0x06c4_5d18_8009_454f
            ]
        );
        let mut split = Rng::new(42);
        let below: Vec<u64> = (0..3).map(|_| split.below(1000)).collect();
        assert_eq!(below, [741, 159, 278]);

        let mut xor = Rng::xorshift(0x2545_f491_4f6c_dd1d);
        let first: Vec<u64> = (0..3).map(|_| xor.next_u64()).collect();
        assert_eq!(
            first,
            [
                0x7f6c_280b_eaa8_e3e7,
                0xe471_1987_1cf9_abe0,
                0x3517_4a41_58b8_a0b7
            ]
        );
        let mut xor = Rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let below: Vec<u64> = (0..5).map(|_| xor.below(12)).collect();
        assert_eq!(below, [9, 6, 6, 0, 8]);
    }
}
