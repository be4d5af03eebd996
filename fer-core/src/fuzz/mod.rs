//! Fuzzing on stable Rust: seeded property tests that feed random and mutated bytes to the
//! parsers of outside data (the tests live beside each parser, in `*_fuzz.rs` files) and assert
//! an error or a value, never a panic, an abort or an allocation beyond a stated bound.
//!
//! `cargo test -p fer-core fuzz` runs a few hundred inputs per parser (seconds each);
//! `FER_FUZZ_SCALE=N` multiplies every count.

pub(crate) mod alloc_bound;
pub(crate) mod harness;
