//! Pure, checked integer math of the program. Every amount is an integer in base
//! units (6 decimals); `None` means the result does not fit in a u64.
// `%` rather than `is_multiple_of`: SBF toolchains ship an older rustc than the host's.
#![allow(clippy::manual_is_multiple_of)]
use crate::constants::{LOT, MIN_TICK, ONE_CONTRACT};

/// Collateral that buys `size` outcome base units at `price` collateral base units per
/// contract: size × price / 1_000_000. Exact (no rounding) whenever `size` is a multiple
/// of [`LOT`] and `price` a multiple of [`MIN_TICK`], which the program requires of
/// every order and fill, so neither side of a fill ever loses a rounding unit.
pub fn notional(size: u64, price: u64) -> Option<u64> {
    let value = (size as u128).checked_mul(price as u128)? / ONE_CONTRACT as u128;
    u64::try_from(value).ok()
}

/// True when [`notional`] of these arguments is exact.
pub fn is_exact_notional(size: u64, price: u64) -> bool {
    size % LOT == 0 && price % MIN_TICK == 0
}

/// Collateral a buy order escrows: its full size at its limit price plus the fee budget
/// the wallet signed. This is the most the wallet can ever lose to the order.
pub fn buy_escrow(size: u64, limit_price: u64, max_fee: u64) -> Option<u64> {
    notional(size, limit_price)?.checked_add(max_fee)
}

/// Kalshi's taker fee, the most any fill may charge: ceil to the cent of
/// rate × C × P × (1 − P) dollars for C contracts at P dollars, returned in
/// collateral base units (one cent = 10_000). `rate_bps` is the rate in basis points
/// (700 = 0.07).
pub fn fee_cap(size: u64, price: u64, rate_bps: u16) -> Option<u64> {
    fee_cap_of_basis(fee_cap_basis(size, price, rate_bps)?)
}

/// The unrounded fee cap of one fill: size × price × (1_000_000 − price) × rate_bps.
/// rate/1e4 × size/1e6 × price/1e6 × (1e6 − price)/1e6 dollars = basis / 1e22 dollars
/// = basis / 1e20 cents. size ≤ 1.8e19, price and its complement ≤ 1e6, rate ≤ 1e4: one
/// fill stays below 1.8e35, and an order's fills sum to at most that (their sizes sum to
/// at most the order's u64 size, and P × (1 − P) ≤ 2.5e11), well inside u128.
pub fn fee_cap_basis(size: u64, price: u64, rate_bps: u16) -> Option<u128> {
    if price > ONE_CONTRACT {
        return None;
    }
    (size as u128).checked_mul(price as u128)?.checked_mul((ONE_CONTRACT - price) as u128)?.checked_mul(rate_bps as u128)
}

/// A (cumulative) fee cap basis rounded up to the cent, in collateral base units.
pub fn fee_cap_of_basis(basis: u128) -> Option<u64> {
    let cents = basis.div_ceil(100_000_000_000_000_000_000u128);
    u64::try_from(cents.checked_mul(10_000)?).ok()
}

/// Collateral paid for redeeming `yes` and `no` base units after finalization with
/// `yes_payout` per contract (NO pays 1_000_000 − yes_payout). Rounded down, so the
/// sum over all holders never exceeds what the vault holds (sets × 1.000000).
pub fn redemption(yes: u64, no: u64, yes_payout: u64) -> Option<u64> {
    if yes_payout > ONE_CONTRACT {
        return None;
    }
    let value = (yes as u128)
        .checked_mul(yes_payout as u128)?
        .checked_add((no as u128).checked_mul((ONE_CONTRACT - yes_payout) as u128)?)?
        / ONE_CONTRACT as u128;
    u64::try_from(value).ok()
}

/// Whether `price` is a valid limit or fill price on a market with tick `tick`:
/// strictly between 0 and one contract, on the tick.
pub fn is_valid_price(price: u64, tick: u64) -> bool {
    tick != 0 && price > 0 && price < ONE_CONTRACT && price % tick == 0
}

/// Whether `tick` is an allowed market tick: a multiple of [`MIN_TICK`] dividing one contract.
pub fn is_valid_tick(tick: u64) -> bool {
    tick >= MIN_TICK && tick % MIN_TICK == 0 && ONE_CONTRACT % tick == 0 && tick < ONE_CONTRACT
}

/// Whether `size` is a valid order or fill size: positive, a whole number of lots.
pub fn is_valid_size(size: u64) -> bool {
    size > 0 && size % LOT == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notional_of_whole_contracts() {
        assert_eq!(notional(5 * ONE_CONTRACT, 420_000), Some(2_100_000));
        assert_eq!(notional(LOT, MIN_TICK), Some(1));
        assert_eq!(notional(0, 500_000), Some(0));
    }

    #[test]
    fn notional_overflow_is_none() {
        // Below one contract per contract the notional is below the size: it always fits.
        assert_eq!(notional(u64::MAX, 999_999), Some((u64::MAX as u128 * 999_999 / 1_000_000) as u64));
        assert_eq!(notional(u64::MAX, 2 * ONE_CONTRACT), None);
    }

    #[test]
    fn notional_is_exact_on_lots_and_ticks() {
        for size in [LOT, 3 * LOT, 77 * LOT, 1_234 * LOT] {
            for price in [MIN_TICK, 300, 10_000, 999_900] {
                assert!(is_exact_notional(size, price));
                let n = notional(size, price).unwrap() as u128;
                assert_eq!(n * ONE_CONTRACT as u128, size as u128 * price as u128);
            }
        }
        assert!(!is_exact_notional(LOT + 1, MIN_TICK));
    }

    #[test]
    fn buy_escrow_adds_fee_budget_and_checks_overflow() {
        assert_eq!(buy_escrow(10 * ONE_CONTRACT, 600_000, 20_000), Some(6_020_000));
        assert_eq!(buy_escrow(u64::MAX / ONE_CONTRACT * ONE_CONTRACT, ONE_CONTRACT - 1, u64::MAX), None);
    }

    #[test]
    fn fee_cap_matches_kalshi_examples() {
        // 100 contracts at 50c: 0.07 × 100 × 0.25 = $1.75
        assert_eq!(fee_cap(100 * ONE_CONTRACT, 500_000, 700), Some(1_750_000));
        // 1 contract at 50c: 0.0175 dollars → ceil to 2 cents
        assert_eq!(fee_cap(ONE_CONTRACT, 500_000, 700), Some(20_000));
        // 1 contract at 1c: 0.000693 dollars → 1 cent
        assert_eq!(fee_cap(ONE_CONTRACT, 10_000, 700), Some(10_000));
        assert_eq!(fee_cap(ONE_CONTRACT, 500_000, 0), Some(0));
        assert_eq!(fee_cap(ONE_CONTRACT, ONE_CONTRACT + 1, 700), None);
    }

    /// Issue 8: one contract at 50c in 100 fills of 0.01 used to allow 100 × 1 cent; the
    /// cumulative cap allows what one fill of the whole contract would (2 cents).
    #[test]
    fn cumulative_cap_rounds_once() {
        let mut basis = 0u128;
        for _ in 0..100 {
            assert_eq!(fee_cap(LOT, 500_000, 700), Some(10_000));
            basis += fee_cap_basis(LOT, 500_000, 700).unwrap();
        }
        assert_eq!(fee_cap_of_basis(basis), fee_cap(ONE_CONTRACT, 500_000, 700));
        assert_eq!(fee_cap_of_basis(basis), Some(20_000));
        assert_eq!(fee_cap_of_basis(0), Some(0));
        // the largest order's whole basis fits: u64::MAX contracts at 50c, rate 100%
        let max = fee_cap_basis(u64::MAX, 500_000, 10_000).unwrap();
        assert!(max.checked_add(max).is_some());
    }

    #[test]
    fn redemption_rounds_down_and_voids_pay_half() {
        assert_eq!(redemption(ONE_CONTRACT, 0, ONE_CONTRACT), Some(ONE_CONTRACT));
        assert_eq!(redemption(ONE_CONTRACT, ONE_CONTRACT, 0), Some(ONE_CONTRACT));
        assert_eq!(redemption(3, 0, 500_000), Some(1));
        assert_eq!(redemption(2 * ONE_CONTRACT, 2 * ONE_CONTRACT, 500_000), Some(2 * ONE_CONTRACT));
        assert_eq!(redemption(1, 0, 333_333), Some(0));
        assert_eq!(redemption(1, 1, 333_333), Some(1));
        assert_eq!(redemption(1, 1, ONE_CONTRACT + 1), None);
        assert!(redemption(u64::MAX, u64::MAX, 500_000).is_some());
    }

    #[test]
    fn pair_redemption_never_exceeds_one_contract_each() {
        for payout in [0, 1, 333_333, 500_000, 999_999, ONE_CONTRACT] {
            for n in [1u64, 7, 1_000_001, 10 * ONE_CONTRACT] {
                assert!(redemption(n, n, payout).unwrap() <= n);
            }
        }
    }

    #[test]
    fn price_tick_and_size_validation() {
        assert!(is_valid_price(10_000, 10_000));
        assert!(!is_valid_price(0, 10_000));
        assert!(!is_valid_price(ONE_CONTRACT, 100));
        assert!(!is_valid_price(15_000, 10_000));
        assert!(is_valid_price(999_900, 100));
        assert!(is_valid_tick(100) && is_valid_tick(10_000) && is_valid_tick(500_000));
        assert!(!is_valid_tick(0) && !is_valid_tick(50) && !is_valid_tick(300) && !is_valid_tick(ONE_CONTRACT));
        assert!(is_valid_size(LOT) && !is_valid_size(0) && !is_valid_size(LOT - 1));
    }
}
