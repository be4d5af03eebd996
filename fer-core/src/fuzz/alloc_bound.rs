//! The test binary's allocator: the system one, counting per thread the bytes live while a
//! fuzz case runs, so a test can assert the most any one input made its thread hold at once.
//!
//! Counted on the calling thread only: work a parser hands to rayon's pool (the CSV reader's
//! row parsing) is not counted. Outside [`peak_during`] the counting is off and costs one
//! thread-local read per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            let live = LIVE.get() + delta;
            LIVE.set(live);
            PEAK.set(PEAK.get().max(live));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting only reads the layout.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and returns its value and the most bytes it held live at once on this thread
/// (allocated during `f` and not yet freed).
pub(crate) fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.set(0);
    PEAK.set(0);
    ON.set(true);
    let value = f();
    ON.set(false);
    (value, PEAK.get().max(0) as usize)
}

#[test]
fn the_peak_counts_what_is_live_at_once() {
    let ((), peak) = peak_during(|| {
        let a = vec![0u8; 1 << 20];
        drop(a);
        let b = vec![1u8; 1 << 19];
        std::hint::black_box(&b);
    });
    // 1 MiB was the most held at once (the 0.5 MiB came after it was freed).
    assert!((1 << 20..(1 << 20) + 4096).contains(&peak), "{peak}");
}
