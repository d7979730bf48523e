use anchor_lang::prelude::*;

use super::Outcome;

/// What a wallet order does, in the side's own price terms (a NO buy's limit is a NO price).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, PartialEq, Eq, InitSpace, Debug)]
pub enum OrderSide {
    BuyYes,
    BuyNo,
    SellYes,
    SellNo,
}

impl OrderSide {
    pub fn outcome(self) -> Outcome {
        match self {
            OrderSide::BuyYes | OrderSide::SellYes => Outcome::Yes,
            OrderSide::BuyNo | OrderSide::SellNo => Outcome::No,
        }
    }

    pub fn is_buy(self) -> bool {
        matches!(self, OrderSide::BuyYes | OrderSide::BuyNo)
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, PartialEq, Eq, InitSpace, Debug)]
pub enum OrderStatus {
    /// Resting: the bridge may settle fills against it.
    Open,
    /// The owner asked to cancel; fills matched before the operator saw it may still
    /// settle until `close_order`, or until the owner's `force_close` after the timeout.
    CancelRequested,
}

/// A wallet's order, its funds escrowed on chain.
/// PDA `["order", market, owner, nonce (u64 LE)]`; escrow PDA `["escrow", order]`.
/// Closed (rent back to the owner) by `close_order` or `force_close`.
///
/// Once closed, the same owner and nonce may place a new order at the same address, so the
/// address alone does not name an order: `order_id` does. It is assigned by the program
/// (the market's order count), never reused within the market, and `settle_fill` and
/// `close_order` must name it, so a fill or close meant for a closed order can never land
/// on its successor.
#[account]
#[derive(InitSpace, Debug)]
pub struct WalletOrder {
    pub market: Pubkey,
    pub owner: Pubkey,
    pub nonce: u64,
    /// 1, 2, 3, … per market, in placement order.
    pub order_id: u64,
    pub side: OrderSide,
    /// Collateral base units per contract of the side's outcome.
    pub limit_price: u64,
    /// Outcome base units (1_000_000 = one contract).
    pub size: u64,
    pub filled: u64,
    /// Most total fee the owner agreed to pay (escrowed on top of the notional for buys,
    /// deducted from proceeds for sells).
    pub max_fee: u64,
    pub fees_paid: u64,
    /// Σ size × price × (1_000_000 − price) × fee_rate_bps over the fills so far: the
    /// unrounded fee cap of everything filled (see `math::fee_cap_of_basis`), so the fees of
    /// many small fills are bounded by the cap of their total, rounded up once.
    pub fee_cap_basis: u128,
    /// The escrow token account (collateral for buys, the outcome token for sells).
    pub escrow: Pubkey,
    /// What the escrow holds now.
    pub escrowed: u64,
    pub status: OrderStatus,
    pub placed_slot: u64,
    /// Slot of `request_cancel` (0 while open).
    pub cancel_requested_slot: u64,
    /// The exchange's `force_close_slots` when the order was placed: the delay that applies to it.
    pub force_close_slots: u64,
    pub bump: u8,
}

impl WalletOrder {
    pub fn remaining(&self) -> u64 {
        self.size - self.filled
    }
}

/// The mint an order of `side` escrows: collateral for buys, the outcome sold for sells.
pub fn escrow_mint_for(side: OrderSide, collateral_mint: Pubkey, market: &super::Market) -> Pubkey {
    if side.is_buy() {
        collateral_mint
    } else {
        market.mint(side.outcome())
    }
}

/// The mint a fill pays the wallet: the outcome bought for buys, collateral for sells.
pub fn receive_mint_for(side: OrderSide, collateral_mint: Pubkey, market: &super::Market) -> Pubkey {
    if side.is_buy() {
        market.mint(side.outcome())
    } else {
        collateral_mint
    }
}
