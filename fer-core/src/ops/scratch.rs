//! Reusable per-thread `f32` buffers for the ops' temporaries (column matrices, GEMM outputs,
//! copies of a tensor's data kept for the backward pass).
//!
//! A fresh `vec![0.0; n]` costs a full write pass to zero memory that the op then overwrites
//! completely: on the seed's training step about a gigabyte per step (the column matrices alone
//! are `K*K` times the activations, forward and backward), a few percent of the step. A
//! [`Scratch`] reuses a buffer an earlier call on the same thread gave back, whose stale contents
//! are still initialised floats, so nothing unsafe is involved; only growth is zero-filled.
//! Callers must write every element before reading it.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Buffers kept per thread. Enough for every buffer a training step holds at once on the
/// thread that runs the forward and backward passes (inputs kept for backward by each op).
const MAX_POOLED: usize = 48;

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A `len`-float buffer with unspecified contents, given back to the current thread's pool on
/// drop. Dereferences to `[f32]`.
#[derive(Debug)]
pub struct Scratch {
    buffer: Vec<f32>,
    len: usize,
}

impl Scratch {
    /// Takes the smallest pooled buffer that holds `len` floats (growing the largest one when
    /// none does), so a training step that repeats its sizes allocates nothing after its first
    /// pass.
    pub fn take(len: usize) -> Self {
        let mut buffer = POOL
            .try_with(|pool| {
                let mut pool = pool.borrow_mut();
                let fit = pool
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.len() >= len)
                    .min_by_key(|(_, b)| b.len())
                    .or_else(|| pool.iter().enumerate().max_by_key(|(_, b)| b.len()))
                    .map(|(i, _)| i);
                fit.map(|i| pool.swap_remove(i))
            })
            .ok()
            .flatten()
            .unwrap_or_default();
        if buffer.len() < len {
            buffer.resize(len, 0.0);
        }
        Self { buffer, len }
    }

    /// Takes a buffer and copies `src` into it.
    pub fn copy_of(src: &[f32]) -> Self {
        let mut s = Self::take(src.len());
        s.copy_from_slice(src);
        s
    }
}

impl Deref for Scratch {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.buffer[..self.len]
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buffer[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        if buffer.is_empty() {
            return;
        }
        // During thread teardown the pool may be gone; the buffer is then simply freed.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < MAX_POOLED {
                pool.push(buffer);
            }
        });
    }
}

/// Fills every buffer pooled on this thread with NaN, so tests can show no op reads stale
/// contents.
#[cfg(test)]
pub(crate) fn poison_this_thread() {
    POOL.with(|pool| {
        for b in pool.borrow_mut().iter_mut() {
            b.fill(f32::NAN);
        }
    });
}

/// [`poison_this_thread`] on the calling thread and every rayon worker, after first pooling a
/// few buffers on each so there is something to poison.
#[cfg(test)]
pub(crate) fn poison_all_threads() {
    let fill = || {
        let held: Vec<Scratch> = (0..4).map(|i| Scratch::take(1 << (8 + 2 * i))).collect();
        drop(held);
        poison_this_thread();
    };
    fill();
    rayon::broadcast(|_| fill());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_best_fit_and_sized_as_asked() {
        let big = Scratch::take(1000);
        let small = Scratch::take(10);
        let (big_ptr, small_ptr) = (big.as_ptr(), small.as_ptr());
        drop((big, small));
        let again = Scratch::take(8);
        assert_eq!(again.len(), 8);
        assert_eq!(again.as_ptr(), small_ptr, "the 10-float buffer fits best");
        let grown = Scratch::take(2000);
        assert_eq!(grown.len(), 2000);
        drop(grown);
        let copy = Scratch::copy_of(&[1.0, 2.0, 3.0]);
        assert_eq!(&*copy, &[1.0, 2.0, 3.0]);
        let _ = big_ptr;
    }
}
