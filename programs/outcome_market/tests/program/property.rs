//! Property test: random sequences of mint/merge/place/settle/cancel/force-close/close,
//! then determine, finalize and redeem everything. After every step the program must
//! agree with a simple model on whether the step is allowed, and invariants 1 (supplies,
//! sets and vault) and 5 (no wallet loses more than its signed order allows) must hold.

use anchor_lang::prelude::Pubkey;
use crate::common::*;
use outcome_market::math;
use outcome_market::state::{OrderSide, Outcome};
use proptest::prelude::*;
use solana_sdk::signature::{Keypair, Signer};

const TICK: u64 = 10_000;
const LOT: u64 = 10_000;
const TRADERS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    MintSet { trader: usize, lots: u64 },
    MergeSet { trader: usize, lots: u64 },
    Place { side: u8, limit_ticks: u64, size_lots: u64, fee_budget_cents: u64 },
    Settle { order: usize, size_pct: u64, price_delta: i64, fee_pct: u64 },
    Cancel { order: usize },
    ForceClose { order: usize },
    Close { order: usize },
    CustodyMint { lots: u64 },
    CustodyMerge { lots: u64 },
    /// Close, determine and finalize mid-sequence; later trading must be refused.
    Resolve { payout: usize },
    Redeem { trader: usize },
}

const PAYOUTS: [u64; 4] = [0, 333_333, 500_000, 1_000_000];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..TRADERS, 1..500u64).prop_map(|(trader, lots)| Op::MintSet { trader, lots }),
        1 => (0..TRADERS, 1..500u64).prop_map(|(trader, lots)| Op::MergeSet { trader, lots }),
        2 => (0..4u8, 1..100u64, 1..400u64, 0..20u64)
            .prop_map(|(side, limit_ticks, size_lots, fee_budget_cents)| Op::Place { side, limit_ticks, size_lots, fee_budget_cents }),
        // mostly fills that should settle (price at or better than the limit, fee within the cap)
        4 => (0..8usize, 1..=120u64, -2..=6i64, prop_oneof![Just(0u64), 0..=110u64])
            .prop_map(|(order, size_pct, price_delta, fee_pct)| Op::Settle { order, size_pct, price_delta, fee_pct }),
        1 => (0..8usize).prop_map(|order| Op::Cancel { order }),
        1 => (0..8usize).prop_map(|order| Op::ForceClose { order }),
        1 => (0..8usize).prop_map(|order| Op::Close { order }),
        1 => (1..3_000u64).prop_map(|lots| Op::CustodyMint { lots }),
        1 => (1..3_000u64).prop_map(|lots| Op::CustodyMerge { lots }),
        1 => (0..PAYOUTS.len()).prop_map(|payout| Op::Resolve { payout }),
        1 => (0..TRADERS).prop_map(|trader| Op::Redeem { trader }),
    ]
}

/// What the test knows about one wallet order (one fresh wallet per order).
struct OrderModel {
    wallet: Keypair,
    key: Pubkey,
    side: OrderSide,
    limit: u64,
    size: u64,
    max_fee: u64,
    filled: u64,
    fees_paid: u64,
    /// Σ of the fills' unrounded fee caps (the program's cumulative cap is this, rounded up once).
    fee_cap_basis: u128,
    cancel_requested: bool,
    closed: bool,
    start_collateral: u64,
    start_outcome: u64,
}

struct World {
    env: Env,
    mk: MarketKeys,
    bridge: Keypair,
    traders: Vec<Keypair>,
    orders: Vec<OrderModel>,
    seq: u64,
    /// The final payout once the market is finalized.
    resolved: Option<u64>,
}

impl World {
    /// The order an op refers to (ops name orders by index modulo those placed).
    fn pick(&self, index: usize) -> Option<usize> {
        (!self.orders.is_empty()).then(|| index % self.orders.len())
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    async fn outcome_balance(&mut self, owner: &Pubkey, outcome: Outcome) -> u64 {
        let mint = self.mk.mint(outcome);
        self.env.balance(&ata_of(owner, &mint)).await
    }

    /// Invariant 5 for every order ever placed.
    async fn check_invariant_5(&mut self) {
        for i in 0..self.orders.len() {
            let (owner, key, side, outcome) = {
                let o = &self.orders[i];
                (o.wallet.pubkey(), o.key, o.side, side_outcome(o.side))
            };
            let collateral = self.env.balance(&self.env.collateral_ata(&owner)).await;
            let tokens = self.outcome_balance(&owner, outcome).await;
            let escrowed = match self.env.order(&key).await {
                Some(on_chain) => {
                    let o = &self.orders[i];
                    assert_eq!((on_chain.filled, on_chain.fees_paid), (o.filled, o.fees_paid), "order state matches the model");
                    assert_eq!(self.env.balance(&on_chain.escrow).await, on_chain.escrowed);
                    on_chain.escrowed
                }
                None => 0,
            };
            let o = &self.orders[i];
            assert!(o.filled <= o.size && o.fees_paid <= o.max_fee);
            if matches!(side, OrderSide::BuyYes | OrderSide::BuyNo) {
                let out_of_wallet = o.start_collateral - collateral;
                let spent = out_of_wallet - escrowed;
                assert!(out_of_wallet <= math::buy_escrow(o.size, o.limit, o.max_fee).unwrap());
                assert!(spent <= math::notional(o.filled, o.limit).unwrap() + o.fees_paid, "paid above the limit");
                assert_eq!(tokens - o.start_outcome, o.filled, "received exactly what was filled");
            } else {
                let given = o.start_outcome - tokens;
                assert!(given <= o.size);
                assert_eq!(given - escrowed, o.filled, "gave exactly what was filled");
                let proceeds = collateral - o.start_collateral;
                assert!(proceeds + o.fees_paid >= math::notional(o.filled, o.limit).unwrap(), "sold below the limit");
            }
        }
    }

    async fn step(&mut self, op: &Op) {
        let env_bridge = self.bridge.insecure_clone();
        match *op {
            Op::MintSet { trader, lots } => {
                let t = self.traders[trader].insecure_clone();
                let have = self.env.balance(&self.env.collateral_ata(&t.pubkey())).await;
                let r = self.env.send(&[self.env.mint_set_ix(&t.pubkey(), &self.mk, lots * LOT)], &[&t]).await;
                assert_eq!(r.is_ok(), self.resolved.is_none() && have >= lots * LOT, "mint_set {r:?}");
            }
            Op::MergeSet { trader, lots } => {
                let t = self.traders[trader].insecure_clone();
                let yes = self.outcome_balance(&t.pubkey(), Outcome::Yes).await;
                let no = self.outcome_balance(&t.pubkey(), Outcome::No).await;
                let r = self.env.send(&[self.env.merge_set_ix(&t.pubkey(), &self.mk, lots * LOT)], &[&t]).await;
                assert_eq!(r.is_ok(), self.resolved.is_none() && yes.min(no) >= lots * LOT, "merge_set {r:?}");
            }
            Op::Place { side, limit_ticks, size_lots, fee_budget_cents } => {
                if self.orders.len() >= 8 {
                    return;
                }
                let side = [OrderSide::BuyYes, OrderSide::BuyNo, OrderSide::SellYes, OrderSide::SellNo][side as usize];
                let wallet = self.env.user(10 * C).await;
                let wk = wallet.pubkey();
                if self.resolved.is_none() {
                    self.env.mint_set(&wallet, &self.mk, 4 * C).await.unwrap();
                } else {
                    self.env.outcome_atas(&wk, &self.mk).await;
                }
                let (limit, size, max_fee) = (limit_ticks * TICK, size_lots * LOT, fee_budget_cents * 10_000);
                let nonce = self.orders.len() as u64;
                let key = order_pda(&self.mk.market, &wk, nonce);
                let start_collateral = self.env.balance(&self.env.collateral_ata(&wk)).await;
                let start_outcome = self.outcome_balance(&wk, side_outcome(side)).await;
                let needed = if matches!(side, OrderSide::BuyYes | OrderSide::BuyNo) {
                    math::buy_escrow(size, limit, max_fee).unwrap() <= start_collateral
                } else {
                    size <= start_outcome
                };
                let r = self.env.send(&[self.env.place_order_ix(&wk, &self.mk, nonce, side, limit, size, max_fee)], &[&wallet]).await;
                assert_eq!(r.is_ok(), self.resolved.is_none() && needed, "place_order {r:?}");
                if r.is_ok() {
                    self.orders.push(OrderModel {
                        wallet, key, side, limit, size, max_fee, filled: 0, fees_paid: 0, fee_cap_basis: 0,
                        cancel_requested: false, closed: false, start_collateral, start_outcome,
                    });
                }
            }
            Op::Settle { order, size_pct, price_delta, fee_pct } => {
                let Some(order) = self.pick(order) else { return };
                let o = &self.orders[order];
                let remaining_lots = (o.size - o.filled) / LOT;
                let size = (remaining_lots * size_pct / 100).max(1) * LOT;
                // price_delta > 0 improves on the limit (lower for buys, higher for sells)
                let is_buy = matches!(o.side, OrderSide::BuyYes | OrderSide::BuyNo);
                let delta = if is_buy { -price_delta } else { price_delta };
                let price = ((o.limit / TICK) as i64 + delta).clamp(1, 99) as u64 * TICK;
                // what the cumulative cap leaves for this fill (fee_pct > 100 tries to exceed it)
                let basis = o.fee_cap_basis + math::fee_cap_basis(size, price, FEE_RATE_BPS).unwrap();
                let cap = math::fee_cap_of_basis(basis).unwrap() - o.fees_paid;
                let fee = cap * fee_pct / 100;
                let cost = math::notional(size, price).unwrap();
                let (side, key, owner) = (o.side, o.key, o.wallet.pubkey());
                let custody_has = if is_buy {
                    let account = self.mk.custody(side_outcome(side));
                    self.env.balance(&account).await >= size
                } else {
                    self.env.balance(&custody_collateral_pda()).await >= cost.saturating_sub(fee)
                };
                let o = &self.orders[order];
                let valid = self.resolved.is_none()
                    && !o.closed
                    && size <= o.size - o.filled
                    && (if is_buy { price <= o.limit } else { price >= o.limit })
                    && fee <= cap
                    && o.fees_paid + fee <= o.max_fee
                    && (is_buy || fee <= cost)
                    && custody_has;
                let seq = self.next_seq();
                let r = self.env.send(&[self.env.settle_fill_ix(&self.mk, &key, &owner, side, seq, size, price, fee)], &[&env_bridge]).await;
                assert_eq!(r.is_ok(), valid, "settle_fill size {size} price {price} fee {fee}: {r:?}");
                if r.is_ok() {
                    let o = &mut self.orders[order];
                    o.filled += size;
                    o.fees_paid += fee;
                    o.fee_cap_basis = basis;
                }
            }
            Op::Cancel { order } => {
                let Some(order) = self.pick(order) else { return };
                let o = &self.orders[order];
                let (key, w, valid) = (o.key, o.wallet.insecure_clone(), !o.closed && !o.cancel_requested);
                let r = self.env.send(&[self.env.request_cancel_ix(&key, &w.pubkey())], &[&w]).await;
                assert_eq!(r.is_ok(), valid, "request_cancel {r:?}");
                if r.is_ok() {
                    self.orders[order].cancel_requested = true;
                }
            }
            Op::ForceClose { order } => {
                let Some(order) = self.pick(order) else { return };
                let o = &self.orders[order];
                let (key, w, side, valid) = (o.key, o.wallet.insecure_clone(), o.side, !o.closed && o.cancel_requested);
                self.env.advance_slots(FORCE_CLOSE_SLOTS).await;
                let r = self.env.send(&[self.env.force_close_ix(&self.mk, &key, &w.pubkey(), side)], &[&w]).await;
                assert_eq!(r.is_ok(), valid, "force_close {r:?}");
                if r.is_ok() {
                    self.orders[order].closed = true;
                }
            }
            Op::Close { order } => {
                let Some(order) = self.pick(order) else { return };
                let o = &self.orders[order];
                let (key, owner, side, valid) = (o.key, o.wallet.pubkey(), o.side, !o.closed);
                let seq = self.next_seq();
                let r = self.env.send(&[self.env.close_order_ix(&self.mk, &key, &owner, side, seq)], &[&env_bridge]).await;
                assert_eq!(r.is_ok(), valid, "close_order {r:?}");
                if r.is_ok() {
                    self.orders[order].closed = true;
                }
            }
            Op::CustodyMint { lots } => {
                let have = self.env.balance(&custody_collateral_pda()).await;
                let seq = self.next_seq();
                let r = self.env.send(&[self.env.custody_mint_set_ix(&self.mk, seq, lots * LOT)], &[&env_bridge]).await;
                assert_eq!(r.is_ok(), self.resolved.is_none() && have >= lots * LOT, "custody_mint_set {r:?}");
            }
            Op::CustodyMerge { lots } => {
                let yes = self.env.balance(&self.mk.custody_yes).await;
                let no = self.env.balance(&self.mk.custody_no).await;
                let seq = self.next_seq();
                let r = self.env.send(&[self.env.custody_merge_set_ix(&self.mk, seq, lots * LOT)], &[&env_bridge]).await;
                assert_eq!(r.is_ok(), self.resolved.is_none() && yes.min(no) >= lots * LOT, "custody_merge_set {r:?}");
            }
            Op::Resolve { payout } => {
                if self.resolved.is_none() {
                    let mk = self.mk.clone();
                    self.env.resolve(&mk, PAYOUTS[payout]).await;
                    self.resolved = Some(PAYOUTS[payout]);
                }
            }
            Op::Redeem { trader } => {
                let t = self.traders[trader].insecure_clone();
                self.redeem_all(&t).await;
            }
        }
    }

    /// Redeems everything `holder` has; refused unless finalized and holding something.
    async fn redeem_all(&mut self, holder: &Keypair) {
        let hk = holder.pubkey();
        let (yes, no) = (self.outcome_balance(&hk, Outcome::Yes).await, self.outcome_balance(&hk, Outcome::No).await);
        let before = self.env.balance(&self.env.collateral_ata(&hk)).await;
        let r = self.env.send(&[self.env.redeem_ix(&hk, &self.mk, yes, no)], &[holder]).await;
        match self.resolved {
            Some(payout) if yes + no > 0 => {
                r.unwrap();
                let paid = self.env.balance(&self.env.collateral_ata(&hk)).await - before;
                assert_eq!(paid, math::redemption(yes, no, payout).unwrap());
            }
            _ => assert!(r.is_err(), "redeem must be refused before finalization or with nothing to redeem"),
        }
    }
}

async fn run(ops: Vec<Op>, payout_index: usize) {
    let mut env = Env::new().await;
    let mk = env.create_market("KXPROP").await;
    env.stock_custody(&mk, 1, 200 * C).await;
    let cash = env.user(200 * C).await;
    env.send(&[env.deposit_collateral_ix(&cash.pubkey(), 200 * C, [9; 16])], &[&cash]).await.unwrap();
    let mut traders = Vec::new();
    for _ in 0..TRADERS {
        let t = env.user(3 * C).await;
        env.outcome_atas(&t.pubkey(), &mk).await;
        traders.push(t);
    }
    let bridge = env.bridge.insecure_clone();
    let mut w = World { env, mk: mk.clone(), bridge, traders, orders: Vec::new(), seq: 1, resolved: None };
    for op in &ops {
        w.step(op).await;
        w.env.check_invariant_1(&mk).await;
        w.check_invariant_5().await;
    }

    // wind down: close what is open, resolve, everyone redeems
    for i in 0..w.orders.len() {
        if !w.orders[i].closed {
            w.step(&Op::Close { order: i }).await;
        }
    }
    w.check_invariant_5().await;
    if w.resolved.is_none() {
        w.step(&Op::Resolve { payout: payout_index }).await;
    }
    w.env.check_invariant_1(&mk).await;
    let mut holders: Vec<Keypair> = w.traders.iter().map(|k| k.insecure_clone()).collect();
    holders.extend(w.orders.iter().map(|o| o.wallet.insecure_clone()));
    holders.push(w.env.user(0).await); // an empty holder: redeeming nothing is refused
    for h in &holders {
        w.redeem_all(h).await;
        w.env.check_invariant_1(&mk).await;
    }
    let (cy, cn) = (w.env.balance(&mk.custody_yes).await, w.env.balance(&mk.custody_no).await);
    let seq = w.next_seq();
    if cy + cn > 0 {
        w.env.send(&[w.env.custody_redeem_ix(&mk, seq, cy, cn)], &[&w.bridge.insecure_clone()]).await.unwrap();
    }
    w.env.check_invariant_1(&mk).await;
    assert_eq!((w.env.supply(&mk.yes_mint).await, w.env.supply(&mk.no_mint).await), (0, 0));
    // only rounding dust (< 1 base unit per redemption) stays in the vault
    let redemptions = holders.len() + ops.iter().filter(|op| matches!(op, Op::Redeem { .. })).count() + 1;
    assert!(w.env.balance(&mk.vault).await <= redemptions as u64);
}

proptest! {
    // PROPTEST_CASES=500 for a longer search; 32 keeps `make test` quick.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]
    #[test]
    fn random_sequences_keep_invariants_1_and_5(ops in proptest::collection::vec(op(), 1..40), payout in 0..PAYOUTS.len()) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run(ops, payout));
    }
}
