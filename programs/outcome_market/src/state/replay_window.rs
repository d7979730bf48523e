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
//! - a number more than the window ahead of `highest` is refused (`SequenceTooFarAhead`):
//!   one bad or hostile number (say `u64::MAX`) can neither brick the stream (every lower
//!   number would be too old from then on) nor expire numbers still in flight above
//!   `highest` (a jump of at most the window keeps all of them inside it).
//!
//! Liveness: the bridge may have any set of numbers in flight as long as they stay within
//! 256 of each other; numbers may skip (ledger events that never reach the chain leave
//! gaps). After a crash the bridge reads `highest` and the map to learn what was applied:
//! [`ReplayWindow::status`] is three-way, because below the window the map no longer
//! knows whether a number was applied (`Expired`: it can never be applied now; whether it
//! was is for the program's events to say).
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

/// What the window knows about one sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SeqStatus {
    /// Accepted: its effect is on chain.
    Applied,
    /// Not accepted, and still acceptable: now if `seq <= highest + REPLAY_WINDOW_BITS`,
    /// else once `highest` has moved close enough.
    Open,
    /// Older than the window (or 0): it can never be accepted; the window no longer says
    /// whether it was.
    Expired,
}

impl ReplayWindow {
    /// Applied, open or expired (see [`SeqStatus`]).
    pub fn status(&self, seq: u64) -> SeqStatus {
        if seq == 0 {
            return SeqStatus::Expired;
        }
        if seq > self.highest {
            return SeqStatus::Open;
        }
        let offset = self.highest - seq;
        if offset >= REPLAY_WINDOW_BITS {
            SeqStatus::Expired
        } else if self.bit(offset) {
            SeqStatus::Applied
        } else {
            SeqStatus::Open
        }
    }

    pub fn is_applied(&self, seq: u64) -> bool {
        self.status(seq) == SeqStatus::Applied
    }

    /// Accept `seq` once, or refuse it with a named error.
    pub fn accept(&mut self, seq: u64) -> Result<()> {
        require!(seq != 0, OutcomeError::SequenceZero);
        if seq > self.highest {
            require!(seq - self.highest <= REPLAY_WINDOW_BITS, OutcomeError::SequenceTooFarAhead);
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
        w.accept(200).unwrap();
        w.accept(300).unwrap();
        for seq in (45..300).rev().filter(|&s| s != 200) {
            w.accept(seq).unwrap();
        }
        assert_eq!(err_of(w.accept(44)), code(OutcomeError::SequenceTooOld));
        assert_eq!(err_of(w.accept(45)), code(OutcomeError::SequenceReplayed));
        assert_eq!(err_of(w.accept(0)), code(OutcomeError::SequenceZero));
    }

    #[test]
    fn a_full_window_jump_keeps_every_number_in_flight_open() {
        let mut w = ReplayWindow::default();
        w.accept(1).unwrap();
        w.accept(1 + REPLAY_WINDOW_BITS).unwrap();
        // 2..=256 were in flight above the old highest: all still open, then accepted
        for seq in 2..=REPLAY_WINDOW_BITS {
            assert_eq!(w.status(seq), SeqStatus::Open);
        }
        assert_eq!(w.status(1), SeqStatus::Expired);
        assert_eq!(err_of(w.accept(1)), code(OutcomeError::SequenceTooOld));
        w.accept(REPLAY_WINDOW_BITS).unwrap();
        assert_eq!(w.status(REPLAY_WINDOW_BITS), SeqStatus::Applied);
    }

    /// Issue 8: `accept(u64::MAX)` used to succeed and make every lower number too old.
    #[test]
    fn a_far_future_number_is_refused_and_the_stream_lives_on() {
        let mut w = ReplayWindow::default();
        w.accept(5).unwrap();
        let before = w;
        assert_eq!(err_of(w.accept(u64::MAX)), code(OutcomeError::SequenceTooFarAhead));
        assert_eq!(err_of(w.accept(5 + REPLAY_WINDOW_BITS + 1)), code(OutcomeError::SequenceTooFarAhead));
        assert_eq!(w, before);
        w.accept(6).unwrap();
        w.accept(6 + REPLAY_WINDOW_BITS).unwrap();
        // from a fresh window the first number may be at most the window size
        let mut fresh = ReplayWindow::default();
        assert_eq!(err_of(fresh.accept(REPLAY_WINDOW_BITS + 1)), code(OutcomeError::SequenceTooFarAhead));
        fresh.accept(REPLAY_WINDOW_BITS).unwrap();
    }

    #[test]
    fn status_is_three_way() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.status(0), SeqStatus::Expired);
        assert_eq!(w.status(1), SeqStatus::Open);
        assert_eq!(w.status(u64::MAX), SeqStatus::Open);
        for seq in [1, 3, 200, 300, 456] {
            w.accept(seq).unwrap();
        }
        assert_eq!(w.highest, 456);
        // 456 - 255 = 201 is the oldest number the window still knows
        assert_eq!(w.status(200), SeqStatus::Expired); // applied, but the window forgot
        assert_eq!(w.status(2), SeqStatus::Expired); // never applied, and never will be
        assert_eq!(w.status(201), SeqStatus::Open);
        assert_eq!(w.status(300), SeqStatus::Applied);
        assert_eq!(w.status(457), SeqStatus::Open);
        assert!(w.is_applied(456) && !w.is_applied(455));
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
            let seq = match x % 5 {
                0 => base + 1 + (x >> 8) % 70,
                1 => base.saturating_sub((x >> 8) % 300),
                2 => base + (x >> 8) % 3,
                3 => base + (x >> 8) % 600,
                _ => base.saturating_sub((x >> 8) % 64),
            };
            let expect_ok = seq != 0
                && !seen.contains(&seq)
                && (if seq > base { seq - base <= REPLAY_WINDOW_BITS } else { base - seq < REPLAY_WINDOW_BITS });
            let expect_status = if seen.contains(&seq) && base - seq < REPLAY_WINDOW_BITS {
                SeqStatus::Applied
            } else if seq == 0 || (seq <= base && base - seq >= REPLAY_WINDOW_BITS) {
                SeqStatus::Expired
            } else {
                SeqStatus::Open
            };
            assert_eq!(w.status(seq), expect_status, "seq {seq} highest {base}");
            let got = w.accept(seq);
            assert_eq!(got.is_ok(), expect_ok, "seq {seq} highest {base}");
            if expect_ok {
                seen.insert(seq);
            }
        }
        assert!(seen.len() > 1_000);
    }
}
