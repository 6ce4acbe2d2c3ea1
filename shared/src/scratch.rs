//! A per-thread byte buffer for bytes made only to be copied out or searched (an answer before it is
//! copied out at its exact size, a body lowercased for the journal's secret search): one allocation per
//! thread that keeps its size, instead of one or more per request.

use std::cell::RefCell;

/// Largest buffer a thread keeps between uses; a larger one is let go once its use is over (a
/// 5,000-token answer is about 700 KB).
pub(crate) const MAX_KEPT: usize = 256 * 1024;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` on this thread's buffer, emptied first. A `work` that calls this again gets a fresh
/// buffer: the thread's is never shared.
pub(crate) fn with_buffer<R>(work: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            let result = work(&mut buffer);
            if buffer.capacity() > MAX_KEPT {
                *buffer = Vec::new();
            }
            result
        }
        Err(_) => work(&mut Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_use_starts_empty_and_a_nested_use_gets_its_own_buffer() {
        with_buffer(|outer| outer.extend_from_slice(b"left over"));
        with_buffer(|outer| {
            assert!(outer.is_empty());
            outer.extend_from_slice(b"outer");
            with_buffer(|inner| {
                assert!(inner.is_empty());
                inner.extend_from_slice(b"inner");
            });
            assert_eq!(outer.as_slice(), b"outer");
        });
    }

    #[test]
    fn a_buffer_grown_past_the_kept_size_is_let_go() {
        with_buffer(|buffer| buffer.resize(MAX_KEPT / 2, 0));
        BUFFER.with(|buffer| assert!(buffer.borrow().capacity() >= MAX_KEPT / 2));
        with_buffer(|buffer| buffer.resize(MAX_KEPT + 1, 0));
        BUFFER.with(|buffer| assert_eq!(buffer.borrow().capacity(), 0));
    }
}
