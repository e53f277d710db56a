//! Misbehaviours that never return: the host must stop them from the outside.
use crate::config::Config;
use std::hint::black_box;

/// Run the crash-type `mode`, if it is one. Returns only for the other modes.
pub fn strike(c: &Config) {
    match c.mode.as_str() {
        "loop" => spin(),
        "memory-bomb" => hoard(c.bytes.unwrap_or(1 << 20) as usize),
        "panic" => panic!(
            "hostile component panicked on purpose ({}) in {}",
            c.marker(),
            c.at
        ),
        "stack-overflow" => {
            // The base case depends on a runtime value so the recursion cannot be folded away.
            let depth = recurse(0, c.count.unwrap_or(u64::MAX));
            // Unreachable with the default count; a finite count returns here.
            black_box(depth);
        }
        _ => {}
    }
}

/// Burn CPU forever, with no host call to yield at.
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// Allocate and touch `step` bytes at a time until the allocator fails.
fn hoard(step: usize) -> ! {
    let step = step.max(4096);
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Non-zero bytes: every page is really written, not just reserved.
        hoard.push(vec![0xA5; step]);
        black_box(&hoard);
    }
}

/// Recursion that keeps every frame: the work after the call is not a tail call and not a
/// single associative operation, so it cannot become a loop.
#[inline(never)]
fn recurse(depth: u64, limit: u64) -> u64 {
    if depth == limit {
        return depth;
    }
    let below = recurse(depth.wrapping_add(1), limit);
    below.rotate_left(3) ^ depth.wrapping_mul(31)
}
