//! Asking the CPU to start loading a cache line before it is needed.
//!
//! Why this exists: the hub fans a room's message out to every member's
//! outbox in one loop, and each push finds the outbox's lock and queue slot
//! out of this core's cache (the member's driver took the queue on the other
//! core, and the kernel's socket copies evict the rest). Each push then waits
//! for memory, one after another. Announcing the lines a few members ahead
//! lets those loads overlap (`hub/publish.rs`; measured in
//! `docs/benchmarks.md`, "Prefetching the fan-out").
//!
//! A prefetch is only a hint: it never faults, not even on an address that is
//! not mapped, and changes no value the program can observe, so it is sound
//! for any address. The standard library's safe version is not stable yet
//! (`std::hint::prefetch_read`, rust-lang/rust#146941); until it is, this
//! crate wraps the x86-64 intrinsic, whose only reason to be `unsafe` is its
//! `#[target_feature(enable = "sse")]`, and SSE is part of every x86-64 CPU.
//! On other architectures the functions do nothing.

/// Starts loading the cache line that holds the start of `value` into every
/// level of this core's cache. Nothing is read: `value` may be shared with
/// other threads and mutated by them.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    prefetch_address((value as *const T).cast::<u8>() as usize);
}

/// Starts loading the cache line that holds `address`, which need not be
/// mapped (a stale or guessed address costs only the wasted load). Zero is
/// skipped, for "no hint".
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch_address(address: usize) {
    if address == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint that never faults and has no
    // architecturally visible effect, for any address; the intrinsic is
    // `unsafe` only for its `target_feature(enable = "sse")`, which every
    // x86-64 CPU has (it is in the x86-64 baseline Rust compiles for).
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(address as *const i8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_address_is_safe_to_prefetch() {
        let value = [7u64; 16];
        prefetch(&value);
        prefetch(&value[15]);
        prefetch("text");
        // Not mapped, and "no hint": neither faults.
        prefetch_address(usize::MAX - 63);
        prefetch_address(8);
        prefetch_address(0);
        assert_eq!(value[15], 7);
    }
}
