//! The fuzz runner: a seeded proptest runner over random bytes and mutations of valid inputs,
//! checking each case's allocation bound.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::alloc_bound::peak_during;

/// The environment variable multiplying every target's number of inputs.
pub(crate) const SCALE_ENV: &str = "FER_FUZZ_SCALE";

/// Inputs: random bytes (up to `max_len`), or a seed input with up to 8 bytes overwritten,
/// a run of bytes inserted or removed, and a cut at a random length.
pub(crate) fn inputs(seeds: Vec<Vec<u8>>, max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let random = vec(any::<u8>(), 0..max_len);
    let mutated = (
        proptest::sample::select(seeds),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        vec(any::<u8>(), 0..16),
        0usize..3,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(seed, edits, at, run, how, cut)| {
            let mut bytes = seed;
            if bytes.is_empty() {
                return bytes;
            }
            for (i, b) in edits {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            let at = at.index(bytes.len());
            match how {
                0 => {
                    bytes.splice(at..at, run);
                }
                1 => {
                    let end = (at + run.len()).min(bytes.len());
                    bytes.drain(at..end);
                }
                _ => bytes.truncate(cut.index(bytes.len() + 1)),
            }
            bytes
        });
    prop_oneof![1 => random, 3 => mutated]
}

/// Runs `check` on `cases` inputs (times `FER_FUZZ_SCALE`) drawn from `strategy` with a runner
/// seeded by `name`; fails on a panic in `check`, on an `Err` it returns, or if an input made
/// the thread hold more than `base + per_byte * input length` bytes at once. Returns the number
/// of inputs tried.
pub(crate) fn fuzz(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = Vec<u8>>,
    base: usize,
    per_byte: usize,
    check: impl Fn(&[u8]) -> Result<(), String>,
) -> u64 {
    let scale: u32 = std::env::var(SCALE_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cases = cases.saturating_mul(scale);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    let hash = blake3::hash(name.as_bytes());
    seed.copy_from_slice(hash.as_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let result = runner.run(&strategy, |bytes| {
        let (outcome, peak) = peak_during(|| check(&bytes));
        outcome.map_err(TestCaseError::fail)?;
        let bound = base + per_byte * bytes.len();
        prop_assert!(
            peak <= bound,
            "{} bytes held at once for a {}-byte input; bound {}",
            peak,
            bytes.len(),
            bound
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!("fuzz {name}: {cases} inputs, no panic");
    u64::from(cases)
}
