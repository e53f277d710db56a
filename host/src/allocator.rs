//! The process's memory-allocator policy: one glibc malloc arena, unless the operator chose.
//!
//! glibc gives every thread that allocates its own arena (up to eight per core), and an arena
//! keeps what was freed in it for its own thread. The runner's work moves between the main
//! thread and the async workers, so each arena grows to its own high-water mark: a content
//! sync whose live heap peaks at about 18 MB held 32 MB of heap in three arenas. With one
//! arena, memory freed on one thread is reused on another. Measured on the content benchmark
//! (docs/benchmarks.md, run H): peak RSS 71–76 MB → 60–63 MB, metadata 45–47 MB → 41 MB,
//! CPU and wall unchanged; compiling the components on a cold cache takes 0.3–0.8 s longer,
//! once, because the compiler's threads share the arena.
//!
//! Small allocations still come from each thread's own cache (glibc's tcache), without the
//! arena's lock. An operator who wants more arenas (a `serve` process on many cores) sets
//! `MALLOC_ARENA_MAX` or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`, and that choice wins.

/// What `limit_arenas` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArenaPolicy {
    /// The process allocates from one arena.
    Single,
    /// The operator set the arena count in the environment; it was left alone.
    Operator,
    /// glibc refused the setting (the default arenas stay).
    Refused,
    /// Not glibc: the platform's allocator is used as it is.
    Unsupported,
}

/// True when the environment already says how many arenas glibc should make.
pub fn operator_chose(malloc_arena_max: Option<&str>, glibc_tunables: Option<&str>) -> bool {
    malloc_arena_max.is_some_and(|v| !v.trim().is_empty())
        || glibc_tunables.is_some_and(|t| {
            t.split(':')
                .any(|setting| setting.split('=').next() == Some("glibc.malloc.arena_max"))
        })
}

/// Applies the policy. Call it first in `main`, before any thread is started: a thread that
/// has already allocated keeps its arena.
pub fn limit_arenas() -> ArenaPolicy {
    let env = |name: &str| std::env::var(name).ok();
    if operator_chose(
        env("MALLOC_ARENA_MAX").as_deref(),
        env("GLIBC_TUNABLES").as_deref(),
    ) {
        return ArenaPolicy::Operator;
    }
    set_one_arena()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_one_arena() -> ArenaPolicy {
    // SAFETY: `mallopt` takes two integers and touches only glibc's own malloc parameters,
    // under its own lock; M_ARENA_MAX only bounds arenas created from now on.
    let applied = unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    if applied == 1 {
        ArenaPolicy::Single
    } else {
        ArenaPolicy::Refused
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_one_arena() -> ArenaPolicy {
    ArenaPolicy::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_arena_setting_wins() {
        assert!(operator_chose(Some("4"), None));
        assert!(operator_chose(
            None,
            Some("glibc.malloc.tcache_count=0:glibc.malloc.arena_max=8")
        ));
        assert!(operator_chose(None, Some("glibc.malloc.arena_max=2")));
    }

    #[test]
    fn without_an_operator_setting_the_runner_decides() {
        assert!(!operator_chose(None, None));
        assert!(!operator_chose(Some(" "), None));
        assert!(!operator_chose(None, Some("glibc.malloc.tcache_count=0")));
        // A different tunable whose name only starts the same way is not the arena count.
        assert!(!operator_chose(None, Some("glibc.malloc.arena_test=2")));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_one_arena() {
        assert_eq!(set_one_arena(), ArenaPolicy::Single);
    }
}
