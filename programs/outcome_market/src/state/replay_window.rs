//! Exactly-once acceptance of bridge sequence numbers with several transactions in flight.
//!
//! The bridge numbers the ledger events of a stream (a market, or the exchange-wide
//! stream) 1, 2, 3, … and sends each to the chain in a transaction that carries its
//! number. Transactions can land out of order (different leaders, retries with fresh
//! blockhashes), so a "next expected number" counter would force the bridge to send one
//! at a time. Instead, like IPsec's anti-replay window (RFC 4303 §3.4.3), the program
//! keeps the highest accepted number `highest` and a 256-bit map of which of
//! `highest, highest − 1, …, highest − 255` it has accepted.
//!
//! Why this accepts every number at most once:
//! - a number above `highest` has never been accepted, because every accepted number is
//!   ≤ `highest` (`highest` only grows);
//! - a number within the window is accepted iff its bit is clear, and the bit is set in
//!   the same (atomic) instruction; bits only ever leave the map by sliding past its
//!   far end, never by being cleared in place;
//! - a number older than the window is always refused, so sliding bits off cannot make
//!   an old number acceptable again.
//!
//! If the instruction (or any other in its transaction) fails, the runtime discards the
//! update with everything else, so a number is consumed exactly when its effect lands.
//! Liveness: the bridge may have any set of numbers in flight as long as they stay within
//! 256 of each other; numbers may skip (ledger events that never reach the chain leave
//! gaps). After a crash the bridge reads `highest` and the map to learn what was applied.
use anchor_lang::prelude::*;

use crate::error::OutcomeError;

/// Numbers tracked behind the highest accepted one (including it).
#[constant]
pub const REPLAY_WINDOW_BITS: u64 = 256;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Default, PartialEq, Eq, InitSpace, Debug)]
pub struct ReplayWindow {
    /// Highest accepted sequence number (0: none yet; sequence numbers start at 1).
    pub highest: u64,
    /// Bit i (word i / 64, bit i % 64) set ⇔ `highest − i` was accepted.
    pub bitmap: [u64; 4],
}

impl ReplayWindow {
    /// Whether `seq` has been accepted (numbers older than the window count as accepted:
    /// they can never be accepted again).
    pub fn is_consumed(&self, seq: u64) -> bool {
        if seq == 0 {
            return true;
        }
        if seq > self.highest {
            return false;
        }
        let offset = self.highest - seq;
        offset >= REPLAY_WINDOW_BITS || self.bit(offset)
    }

    /// Accept `seq` once, or refuse it with a named error.
    pub fn accept(&mut self, seq: u64) -> Result<()> {
        require!(seq != 0, OutcomeError::SequenceZero);
        if seq > self.highest {
            self.shift(seq - self.highest);
            self.highest = seq;
            self.set_bit(0);
            return Ok(());
        }
        let offset = self.highest - seq;
        require!(offset < REPLAY_WINDOW_BITS, OutcomeError::SequenceTooOld);
        require!(!self.bit(offset), OutcomeError::SequenceReplayed);
        self.set_bit(offset);
        Ok(())
    }

    fn bit(&self, offset: u64) -> bool {
        self.bitmap[(offset / 64) as usize] & (1u64 << (offset % 64)) != 0
    }

    fn set_bit(&mut self, offset: u64) {
        self.bitmap[(offset / 64) as usize] |= 1u64 << (offset % 64);
    }

    /// Slide the window forward by `by` numbers: bit i moves to bit i + by.
    fn shift(&mut self, by: u64) {
        if by >= REPLAY_WINDOW_BITS {
            self.bitmap = [0; 4];
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        let old = self.bitmap;
        for i in (0..4).rev() {
            let mut word = 0u64;
            if i >= words {
                word = old[i - words] << bits;
                if bits != 0 && i > words {
                    word |= old[i - words - 1] >> (64 - bits);
                }
            }
            self.bitmap[i] = word;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The error number a refusal carries.
    fn err_of(r: Result<()>) -> u32 {
        match r {
            Err(anchor_lang::error::Error::AnchorError(e)) => e.error_code_number,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn code(e: OutcomeError) -> u32 {
        anchor_lang::error::ERROR_CODE_OFFSET + e as u32
    }

    #[test]
    fn in_order_numbers_are_accepted_once() {
        let mut w = ReplayWindow::default();
        for seq in 1..=1000 {
            w.accept(seq).unwrap();
            assert_eq!(err_of(w.accept(seq)), code(OutcomeError::SequenceReplayed));
        }
        assert_eq!(w.highest, 1000);
    }

    #[test]
    fn out_of_order_within_window_is_accepted() {
        let mut w = ReplayWindow::default();
        w.accept(300).unwrap();
        for seq in (45..300).rev() {
            w.accept(seq).unwrap();
        }
        assert_eq!(err_of(w.accept(44)), code(OutcomeError::SequenceTooOld));
        assert_eq!(err_of(w.accept(45)), code(OutcomeError::SequenceReplayed));
        assert_eq!(err_of(w.accept(0)), code(OutcomeError::SequenceZero));
    }

    #[test]
    fn a_jump_beyond_the_window_forgets_nothing_it_should_remember() {
        let mut w = ReplayWindow::default();
        w.accept(1).unwrap();
        w.accept(1_000).unwrap();
        assert_eq!(err_of(w.accept(1)), code(OutcomeError::SequenceTooOld));
        assert!(!w.is_consumed(999));
        w.accept(999).unwrap();
        assert!(w.is_consumed(999) && w.is_consumed(1_000) && w.is_consumed(1));
    }

    /// Model check against a set of everything ever accepted, across word boundaries.
    #[test]
    fn matches_a_reference_model() {
        let mut w = ReplayWindow::default();
        let mut seen = BTreeSet::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let base = w.highest;
            let seq = match x % 4 {
                0 => base + 1 + (x >> 8) % 70,
                1 => base.saturating_sub((x >> 8) % 300),
                2 => base + (x >> 8) % 3,
                _ => base.saturating_sub((x >> 8) % 64),
            };
            let expect_ok = seq != 0 && !seen.contains(&seq) && (seq > base || base - seq < REPLAY_WINDOW_BITS);
            let got = w.accept(seq);
            assert_eq!(got.is_ok(), expect_ok, "seq {seq} highest {base}");
            if expect_ok {
                seen.insert(seq);
            }
        }
        assert!(seen.len() > 1_000);
    }
}
