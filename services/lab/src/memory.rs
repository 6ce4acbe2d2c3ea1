//! Memory the allocator keeps after a large exchange goes back to the system.
//!
//! glibc's allocator gives freed memory back to the system only from the top of each of its arenas, so the
//! pages a large request used (a state import, a ProvisionRequest of thousands of tokens, a 10,000-seat
//! license import and their answers) stay resident once freed, below whatever is still alive above them: a
//! suite holding 100,000 tokens had 48.6 MiB of anonymous memory resident, of which 17 MiB was alive
//! (heaptrack; BENCHMARKS.md). So
//! after each exchange whose request or answer is at least [`LARGE_EXCHANGE_BYTES`], a blocking task asks
//! glibc to give back every whole free page of every arena (`malloc_trim(0)`), one such task at a time.
//! Small exchanges, the hot paths, never trim. Elsewhere than glibc there is nothing to ask.
//!
//! This is the workspace's one piece of unsafe code: one call of a C function that takes no pointer.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::BodySize;

/// A request body or an answer at least this large is followed by a trim.
pub const LARGE_EXCHANGE_BYTES: u64 = 256 * 1024;

/// Whether a trim is under way (a second one then has nothing more to give back).
static TRIMMING: AtomicBool = AtomicBool::new(false);

/// Whether an exchange of a request body of `request` bytes (as declared) and an answer of `answer` is
/// large enough to trim after.
pub(crate) fn is_large(request: Option<u64>, answer: BodySize) -> bool {
    let answer = match answer {
        BodySize::Sized(bytes) => bytes,
        BodySize::None | BodySize::Stream => 0,
    };
    request.unwrap_or(0).max(answer) >= LARGE_EXCHANGE_BYTES
}

/// After an exchange: when it was large, gives the freed memory back on a blocking thread, unless a trim
/// is under way already. Must run inside a Tokio runtime (every listener's middleware does).
pub(crate) fn after_exchange(request: Option<u64>, answer: BodySize) {
    if !is_large(request, answer) || TRIMMING.swap(true, Ordering::AcqRel) {
        return;
    }
    drop(tokio::task::spawn_blocking(|| {
        let released = give_back();
        TRIMMING.store(false, Ordering::Release);
        tracing::trace!(released, "freed memory given back to the system");
    }));
}

/// Asks the allocator to give every whole free page back to the system; whether it gave any.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn give_back() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and reads no memory of ours; glibc documents it MT-Safe (it
    // locks each arena while it trims it).
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Elsewhere than glibc there is nothing to ask: nothing is given back.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_large_request_or_answer_is_followed_by_a_trim() {
        let large = LARGE_EXCHANGE_BYTES;
        assert!(!is_large(None, BodySize::Sized(large - 1)));
        assert!(!is_large(Some(large - 1), BodySize::None));
        assert!(!is_large(None, BodySize::Stream));
        assert!(is_large(Some(large), BodySize::Sized(10)));
        assert!(is_large(None, BodySize::Sized(large)));
        assert!(is_large(Some(large * 4), BodySize::Stream));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_pages_below_a_live_block_are_given_back() {
        // 16 MiB in 4 KiB blocks, freed below one block that stays alive, so the arena's top cannot shrink
        // by itself: those pages stay resident until they are given back. Another test's trim may take them
        // first, so this tries a few times.
        for _ in 0..5 {
            let blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 4096]).collect();
            let alive = vec![1u8; 4096];
            drop(blocks);
            let released = give_back();
            assert_eq!(alive[0], 1);
            if released {
                return;
            }
        }
        panic!("glibc gave no freed page back");
    }
}
