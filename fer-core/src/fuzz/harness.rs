//! The fuzz runner: a seeded proptest runner over random bytes and mutations of valid inputs,
//! checking each case's allocation bound.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;

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

/// What a parser made of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It parsed (a value, a hit).
    Value,
    /// It refused the input (an error, a miss).
    Error,
}

impl Outcome {
    /// The outcome of a parser's `Result`.
    pub(crate) fn of<T, E>(result: &std::result::Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Value
        } else {
            Outcome::Error
        }
    }

    /// The outcome of a parser that returns `None` for a refused input.
    pub(crate) fn of_option<T>(option: &Option<T>) -> Outcome {
        if option.is_some() {
            Outcome::Value
        } else {
            Outcome::Error
        }
    }
}

/// The figures of one target's run, printed as one JSON line (`tests/fuzz_long.sh` collects
/// them).
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Tally {
    /// The target's name (its seed).
    pub parser: String,
    /// Inputs tried (proptest's shrinking of a failing input not counted).
    pub inputs: u64,
    /// Inputs on which the parser panicked.
    pub panics: u64,
    /// Inputs refused with an error (or a miss).
    pub errors: u64,
    /// Inputs parsed into a value.
    pub values: u64,
    /// Inputs that failed the check otherwise (a wrong error, an allocation over the bound).
    pub failures: u64,
    /// The most bytes one input made the thread hold at once.
    pub largest_allocation: usize,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

/// Runs `check` on `cases` inputs (times `FER_FUZZ_SCALE`) drawn from `strategy` with a runner
/// seeded by `name`; fails on a panic in `check`, on an `Err` it returns, or if an input made
/// the thread hold more than `base + per_byte * input length` bytes at once. Prints the
/// [`Tally`] as a JSON line on stderr and returns it.
pub(crate) fn fuzz(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = Vec<u8>>,
    base: usize,
    per_byte: usize,
    check: impl Fn(&[u8]) -> Result<Outcome, String>,
) -> Tally {
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
    let started = std::time::Instant::now();
    // Counted until the first failure; proptest's shrinking reruns that input's variants.
    let tally = RefCell::new(Tally {
        parser: name.to_string(),
        ..Tally::default()
    });
    let result = runner.run(&strategy, |bytes| {
        let (outcome, peak) =
            peak_during(|| std::panic::catch_unwind(AssertUnwindSafe(|| check(&bytes))));
        let bound = base + per_byte * bytes.len();
        let mut t = tally.borrow_mut();
        let counting = t.panics + t.failures == 0;
        if counting {
            t.inputs += 1;
            t.largest_allocation = t.largest_allocation.max(peak);
        }
        let verdict = match outcome {
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err((true, format!("panicked: {message}")))
            }
            Ok(Err(message)) => Err((false, message)),
            Ok(Ok(_)) if peak > bound => Err((
                false,
                format!(
                    "{peak} bytes held at once for a {}-byte input; bound {bound}",
                    bytes.len()
                ),
            )),
            Ok(Ok(outcome)) => Ok(outcome),
        };
        match verdict {
            Ok(outcome) => {
                if counting {
                    match outcome {
                        Outcome::Value => t.values += 1,
                        Outcome::Error => t.errors += 1,
                    }
                }
                Ok(())
            }
            Err((panicked, message)) => {
                if counting {
                    if panicked {
                        t.panics += 1;
                    } else {
                        t.failures += 1;
                    }
                }
                Err(TestCaseError::fail(message))
            }
        }
    });
    let mut tally = tally.into_inner();
    tally.seconds = started.elapsed().as_secs_f64();
    eprintln!("{}", serde_json::to_string(&tally).unwrap_or_default());
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    tally
}
