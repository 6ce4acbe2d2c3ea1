//! The activation codes in escrow, in memory: which token each code was minted for.
//!
//! A sealed seed waits in escrow inside its token's record (`tokens`), so provisioning a token changes one
//! record, in one place of the store. A phone brings only the code: this index finds the record. It is
//! built from the store when the escrow opens and again after a reset or a state import, and kept up as
//! codes are minted and taken.
//!
//! The index is a hint, the store the truth: a code is honoured only when the token's record still
//! carries it. So the index may hold codes that are no longer in escrow (a code replaced or taken while
//! the index was rebuilt, or minted by a change whose commit failed); they cost a few bytes each until
//! the next rebuild and are never redeemed. What it must never miss is a code the store carries:
//! - a code is added to the index when it is minted, inside the write transaction that stores it, so the
//!   index has it before any client can know it (the answer carrying it comes after the commit); minting
//!   runs one change at a time (the store's writer), so a code in the index is never minted twice;
//! - a code leaves the index only after the commit that replaced or took it, that is once no record
//!   carries it;
//! - a rebuild notes the codes minted while it reads (see [`CodeIndex::begin_rebuild`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use protocol::id::TokenSerial;

/// A code's 8 payload bytes (what a phone sends, as 16 hex digits).
pub(crate) type Payload = [u8; 8];

/// A token serial as the 5 bytes of its 10 hex digits: 16 bytes an entry with the code, where the serial's
/// text would take 32.
type Token = [u8; 5];

/// Which token each code in escrow was minted for.
#[derive(Default)]
pub(crate) struct CodeIndex {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<Payload, Token>,
    /// The codes minted since a rebuild began, while it runs.
    minted_during_rebuild: Option<Vec<(Payload, Token)>>,
}

impl CodeIndex {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The token `code` was minted for, if the index knows the code.
    pub(crate) fn token(&self, code: Payload) -> Option<TokenSerial> {
        self.inner()
            .tokens
            .get(&code)
            .map(|token| TokenSerial::from_bytes(*token))
    }

    /// Whether `code` may already be in escrow (a new code must not be).
    pub(crate) fn holds(&self, code: Payload) -> bool {
        self.inner().tokens.contains_key(&code)
    }

    /// Notes `code`, minted for `token` by a change being written.
    pub(crate) fn minted(&self, code: Payload, token: &TokenSerial) {
        let token = token.to_bytes();
        let mut inner = self.inner();
        inner.tokens.insert(code, token);
        if let Some(minted) = &mut inner.minted_during_rebuild {
            minted.push((code, token));
        }
    }

    /// Forgets `code`, which a committed change replaced or took from `token`.
    pub(crate) fn gone(&self, code: Payload, token: &TokenSerial) {
        let token = token.to_bytes();
        let mut inner = self.inner();
        if inner.tokens.get(&code) == Some(&token) {
            inner.tokens.remove(&code);
        }
    }

    /// Starts noting the codes minted from now on, for [`CodeIndex::finish_rebuild`]. Call it inside a
    /// write transaction, then read the codes to index in a read begun after that write returned: every
    /// code minted before it is then committed (or never will be), and so in that read if still in escrow.
    pub(crate) fn begin_rebuild(&self) {
        self.inner().minted_during_rebuild = Some(Vec::new());
    }

    /// Replaces the index with the codes `read` from the store, and the codes minted while it read.
    pub(crate) fn finish_rebuild(&self, read: Rebuilt) {
        let mut inner = self.inner();
        let mut tokens = read.tokens;
        tokens.extend(inner.minted_during_rebuild.take().unwrap_or_default());
        // Room was made for every token; most may have no code in escrow.
        tokens.shrink_to_fit();
        inner.tokens = tokens;
    }

    /// Stops noting minted codes: the rebuild failed, and the index stays as it was (it may hold more
    /// codes than are in escrow, never fewer).
    pub(crate) fn abandon_rebuild(&self) {
        self.inner().minted_during_rebuild = None;
    }

    /// How many codes the index holds.
    pub(crate) fn len(&self) -> usize {
        self.inner().tokens.len()
    }
}

/// An index being built from the store's records.
#[derive(Default)]
pub(crate) struct Rebuilt {
    tokens: HashMap<Payload, Token>,
}

impl Rebuilt {
    /// An index with room for `codes` codes (at most a million are reserved up front).
    pub(crate) fn with_capacity(codes: usize) -> Rebuilt {
        Rebuilt {
            tokens: HashMap::with_capacity(codes.min(1 << 20)),
        }
    }

    pub(crate) fn add(&mut self, code: Payload, token: &TokenSerial) {
        self.tokens.insert(code, token.to_bytes());
    }

    /// The codes of `other` added (the index of another range of tokens).
    pub(crate) fn merge(&mut self, other: Rebuilt) {
        self.tokens.extend(other.tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(text: &str) -> TokenSerial {
        text.parse().expect("a token serial")
    }

    #[test]
    fn a_code_is_found_until_its_token_is_done_with_it() {
        let index = CodeIndex::default();
        let token = serial("FTKMOB947FDC1754");
        index.minted([1; 8], &token);
        assert_eq!(index.token([1; 8]), Some(token.clone()));
        assert!(index.holds([1; 8]));
        assert_eq!(index.token([2; 8]), None);
        // Another token's release does not remove it.
        index.gone([1; 8], &serial("FTKMOB0000000001"));
        assert_eq!(index.token([1; 8]), Some(token.clone()));
        index.gone([1; 8], &token);
        assert_eq!(index.token([1; 8]), None);
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn a_rebuild_keeps_the_codes_minted_while_it_read() {
        let index = CodeIndex::default();
        let old = serial("FTKMOB0000000001");
        index.minted([9; 8], &old);
        index.begin_rebuild();
        let during = serial("FTKMOB0000000002");
        index.minted([2; 8], &during);
        let mut read = Rebuilt::default();
        let stored = serial("FTKMOB0000000003");
        read.add([3; 8], &stored);
        index.finish_rebuild(read);
        // What the read found and what was minted meanwhile; not what only the old index had.
        assert_eq!(index.token([3; 8]), Some(stored));
        assert_eq!(index.token([2; 8]), Some(during));
        assert_eq!(index.token([9; 8]), None);
        // The rebuild is over: later codes are not noted for another one.
        index.minted([4; 8], &old);
        index.finish_rebuild(Rebuilt::default());
        assert_eq!(index.len(), 0);
    }
}
