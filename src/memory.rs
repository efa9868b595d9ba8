//! Gives the memory a command has freed back to the system while the command runs.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena and hands the system back
//! only the free space at the top of an arena. A burst of allocations, freed a moment later (a
//! page of a tracking plan's rules, a stage of the plan mapped on the planner's thread, the
//! Config catalogs stored at the start of an export), leaves the resident size of its arena at
//! that high-water mark for the rest of the run, holes and all. `malloc_trim(0)` returns every
//! whole free page of every arena (`madvise`), whatever lies above it. A [`Trimmer`] calls it
//! every [`INTERVAL`] from a thread of its own for as long as a command runs, so that what the
//! process holds follows what it uses rather than the largest burst so far (measured in
//! docs/performance.md).
//!
//! A [`Trimmer`] also fixes glibc's thresholds for mapping a large block on its own
//! ([`map_large_allocations`]), so that such a block goes back the moment it is freed.
//!
//! On other C libraries (musl, macOS, Windows), which have no such call, it does nothing.
//!
//! This is the one module that may use `unsafe` (the crate denies it everywhere else, and a
//! test holds every other module to that): a call into libc is `unsafe` to Rust whatever it
//! does, and `malloc_trim` and `mallopt` take no pointer and are serialized by glibc with every
//! other call into the allocator.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a [`Trimmer`] gives memory back. Short enough that a burst is given back before
/// the next phase's burst lands on top of it in another arena; a trim walks the free chunks of
/// every arena, well under a millisecond for the tens of megabytes segbridge holds.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Returns to the system the free pages every allocator arena holds; whether any were.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn give_back() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and only changes the allocator's own state, under
    // the same locks as `malloc` and `free`; any thread may call it at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Makes glibc map every allocation of [`LARGE`] bytes or more on its own and unmap it when it
/// is freed, and give back the top of an arena as soon as that much is free there.
///
/// glibc starts there too, but each time a mapped block is freed it raises both thresholds to
/// that block's size (up to 32 MB): after the first large page or batch, blocks as large come
/// from the arena, and a burst of them stays resident until the next trim. Set, the
/// thresholds stay put. On `large` that took `migrate`'s peak from 30.5–30.6 MB to 28.8–29.1
/// (runs interleaved), for about 10,000 more page faults.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn map_large_allocations() {
    // SAFETY: `mallopt` takes no pointer and only sets the allocator's parameters, under its
    // own lock; any thread may call it at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LARGE as libc::c_int);
    }
}

/// Nothing to set on other C libraries.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn map_large_allocations() {}

/// See [`map_large_allocations`].
pub const LARGE: usize = 128 * 1024;

/// Nothing to give back: other allocators return memory themselves, or have no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() -> bool {
    false
}

/// A thread that calls [`give_back`] every interval until the `Trimmer` is stopped or dropped.
pub struct Trimmer {
    /// Dropped to stop the thread: its wait for the next interval ends at once.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<u64>>,
}

impl Trimmer {
    /// Starts trimming every `interval`. A thread that cannot be started means no trimming, not
    /// a failed command: the memory is given back at exit all the same.
    pub fn start(interval: Duration) -> Trimmer {
        map_large_allocations();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("segbridge-trim".into())
            .spawn(move || {
                let mut trims = 0;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    give_back();
                    trims += 1;
                }
                trims
            })
            .ok();
        Trimmer {
            stop: Some(stop),
            thread,
        }
    }

    /// Stops the thread and waits for it; how many times it trimmed.
    pub fn stop(mut self) -> u64 {
        self.finish()
    }

    fn finish(&mut self) -> u64 {
        drop(self.stop.take());
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or(0)
    }
}

impl Drop for Trimmer {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_trimmer_trims_until_it_is_stopped() {
        let trimmer = Trimmer::start(Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let trims = trimmer.stop();
        assert!(trims >= 1, "no trim in 100 ms at a 5 ms interval");
        // Stopping does not wait for the next interval.
        let trimmer = Trimmer::start(Duration::from_secs(3600));
        assert_eq!(trimmer.stop(), 0);
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn no_other_module_allows_unsafe_code() {
        fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("src/memory.rs")
                    && std::fs::read_to_string(&path)
                        .unwrap()
                        .contains("unsafe_code)")
                {
                    found.push(path.display().to_string());
                }
            }
        }
        let mut found = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.is_empty(), "`unsafe_code` allowed in {found:?}");
    }

    /// The resident size of this process, in bytes (Linux: `/proc/self/statm`, in pages).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_memory_below_live_memory_goes_back_to_the_system() {
        const CHUNK: usize = 16 * 1024;
        const CHUNKS: usize = 4096; // 64 MiB
        // On a thread of its own, so in an arena that no other test's allocations share.
        let given_back = std::thread::spawn(|| {
            let mut chunks: Vec<Vec<u8>> = (0..CHUNKS).map(|i| vec![i as u8; CHUNK]).collect();
            // One chunk in 64 kept, the last among them: the free space lies in holes below
            // live memory, which the allocator does not give back by itself.
            let kept: Vec<Vec<u8>> = chunks
                .drain(..)
                .enumerate()
                .filter_map(|(i, chunk)| (i % 64 == 63).then_some(chunk))
                .collect();
            let before = resident_bytes();
            assert!(give_back());
            let after = resident_bytes();
            assert_eq!(kept.len(), CHUNKS / 64);
            before.saturating_sub(after)
        })
        .join()
        .unwrap();
        // Nearly 63 MiB were freed in holes; at least half of it must have gone back.
        assert!(
            given_back >= 32 << 20,
            "only {given_back} bytes went back to the system"
        );
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_large_allocation_goes_back_to_the_system_when_it_is_freed() {
        map_large_allocations();
        const CHUNK: usize = 2 * LARGE;
        const CHUNKS: usize = 128; // 32 MiB
        let returned = std::thread::spawn(|| {
            // Freeing a large block raises glibc's own threshold to its size, after which
            // blocks as large come from the arena and stay there once freed.
            drop(vec![1u8; 4 << 20]);
            let chunks: Vec<Vec<u8>> = (0..CHUNKS).map(|i| vec![i as u8; CHUNK]).collect();
            // Live memory above them: nothing freed below it is at the arena's top.
            let above = vec![1u8; 1024];
            let before = resident_bytes();
            drop(chunks);
            let after = resident_bytes();
            assert_eq!(above.len(), 1024);
            before.saturating_sub(after)
        })
        .join()
        .unwrap();
        assert!(
            returned >= 24 << 20,
            "only {returned} bytes went back to the system"
        );
    }
}
