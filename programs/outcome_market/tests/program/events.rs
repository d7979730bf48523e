//! "Every state change emits an Anchor event; the indexer needs nothing else": a
//! scenario touching every balance-moving instruction, after which custody, vault,
//! escrow and wallet balances rebuilt from the decoded events alone equal the chain's.
//! Events are read where readers find them: the self-CPI inner instructions.

use std::collections::HashMap;

use anchor_lang::prelude::Pubkey;
use anchor_lang::{AnchorDeserialize, Discriminator};
use crate::common::*;
use outcome_market::events::*;
use outcome_market::state::{OrderSide, Outcome};
use solana_sdk::signature::{Keypair, Signer};

/// Balances as an indexer rebuilds them from events.
#[derive(Default)]
struct Ledger {
    balances: HashMap<Pubkey, i128>,
    count: usize,
    custody_yes: HashMap<Pubkey, Pubkey>,
    custody_no: HashMap<Pubkey, Pubkey>,
    vault: HashMap<Pubkey, Pubkey>,
    escrow: HashMap<Pubkey, Pubkey>,
    custody_collateral: Pubkey,
}

impl Ledger {
    fn add(&mut self, account: Pubkey, delta: i128) {
        *self.balances.entry(account).or_default() += delta;
    }

    /// The events of one transaction, as [`Env::send_traced`] found them in its inner instructions.
    fn apply_events(&mut self, events: &[Vec<u8>]) {
        for data in events {
            self.apply(data);
            self.count += 1;
        }
    }

    fn apply(&mut self, data: &[u8]) {
        let (disc, mut body) = data.split_at(8);
        macro_rules! is {
            ($t:ty) => {
                disc == <$t as Discriminator>::DISCRIMINATOR
            };
        }
        if is!(ExchangeInitialized) {
            let e = ExchangeInitialized::deserialize(&mut body).unwrap();
            self.custody_collateral = e.custody_collateral;
        } else if is!(MarketCreated) {
            let e = MarketCreated::deserialize(&mut body).unwrap();
            self.vault.insert(e.market, e.vault);
            self.custody_yes.insert(e.market, e.custody_yes);
            self.custody_no.insert(e.market, e.custody_no);
        } else if is!(SetMinted) {
            let e = SetMinted::deserialize(&mut body).unwrap();
            let a = e.amount as i128;
            self.add(e.collateral_source, -a);
            self.add(self.vault[&e.market], a);
            self.add(e.yes_account, a);
            self.add(e.no_account, a);
        } else if is!(SetMerged) {
            let e = SetMerged::deserialize(&mut body).unwrap();
            let a = e.amount as i128;
            self.add(e.collateral_destination, a);
            self.add(self.vault[&e.market], -a);
            self.add(e.yes_account, -a);
            self.add(e.no_account, -a);
        } else if is!(Redeemed) {
            let e = Redeemed::deserialize(&mut body).unwrap();
            self.add(e.yes_account, -(e.yes_burned as i128));
            self.add(e.no_account, -(e.no_burned as i128));
            self.add(self.vault[&e.market], -(e.payout as i128));
            self.add(e.collateral_destination, e.payout as i128);
        } else if is!(CustodySetMinted) {
            let e = CustodySetMinted::deserialize(&mut body).unwrap();
            let a = e.amount as i128;
            self.add(self.custody_collateral, -a);
            self.add(self.vault[&e.market], a);
            self.add(self.custody_yes[&e.market], a);
            self.add(self.custody_no[&e.market], a);
        } else if is!(CustodySetMerged) {
            let e = CustodySetMerged::deserialize(&mut body).unwrap();
            let a = e.amount as i128;
            self.add(self.custody_collateral, a);
            self.add(self.vault[&e.market], -a);
            self.add(self.custody_yes[&e.market], -a);
            self.add(self.custody_no[&e.market], -a);
        } else if is!(CustodyRedeemed) {
            let e = CustodyRedeemed::deserialize(&mut body).unwrap();
            self.add(self.custody_yes[&e.market], -(e.yes_burned as i128));
            self.add(self.custody_no[&e.market], -(e.no_burned as i128));
            self.add(self.vault[&e.market], -(e.payout as i128));
            self.add(self.custody_collateral, e.payout as i128);
        } else if is!(CustodyWithdrawn) {
            let e = CustodyWithdrawn::deserialize(&mut body).unwrap();
            let source = if e.outcome == Outcome::Yes { self.custody_yes[&e.market] } else { self.custody_no[&e.market] };
            self.add(source, -(e.amount as i128));
            self.add(e.destination, e.amount as i128);
        } else if is!(CustodyCollateralWithdrawn) {
            let e = CustodyCollateralWithdrawn::deserialize(&mut body).unwrap();
            self.add(self.custody_collateral, -(e.amount as i128));
            self.add(e.destination, e.amount as i128);
        } else if is!(CustodySwept) {
            let e = CustodySwept::deserialize(&mut body).unwrap();
            self.add(self.custody_collateral, -(e.amount as i128));
            self.add(e.treasury, e.amount as i128);
        } else if is!(CustodyFunded) {
            let e = CustodyFunded::deserialize(&mut body).unwrap();
            self.add(e.source, -(e.amount as i128));
            self.add(self.custody_collateral, e.amount as i128);
        } else if is!(Deposited) {
            let e = Deposited::deserialize(&mut body).unwrap();
            self.add(e.source, -(e.amount as i128));
            self.add(e.destination, e.amount as i128);
        } else if is!(OrderPlaced) {
            let e = OrderPlaced::deserialize(&mut body).unwrap();
            self.escrow.insert(e.order, e.escrow);
            self.add(e.source, -(e.escrowed as i128));
            self.add(e.escrow, e.escrowed as i128);
        } else if is!(FillSettled) {
            let e = FillSettled::deserialize(&mut body).unwrap();
            let escrow = self.escrow[&e.order];
            let outcome_account = match e.side {
                OrderSide::BuyYes | OrderSide::SellYes => self.custody_yes[&e.market],
                OrderSide::BuyNo | OrderSide::SellNo => self.custody_no[&e.market],
            };
            let (size, cost, fee) = (e.size as i128, e.cost as i128, e.fee as i128);
            if matches!(e.side, OrderSide::BuyYes | OrderSide::BuyNo) {
                self.add(escrow, -(cost + fee));
                self.add(self.custody_collateral, cost + fee);
                self.add(outcome_account, -size);
                self.add(e.wallet_account, size);
            } else {
                self.add(escrow, -size);
                self.add(outcome_account, size);
                self.add(self.custody_collateral, -(cost - fee));
                self.add(e.wallet_account, cost - fee);
            }
            assert_eq!(self.balances[&escrow], e.escrowed as i128, "event's escrow balance agrees");
        } else if is!(OrderClosed) {
            let e = OrderClosed::deserialize(&mut body).unwrap();
            let escrow = self.escrow[&e.order];
            self.add(escrow, -(e.refunded as i128));
            self.add(e.refund_account, e.refunded as i128);
            assert_eq!(self.balances[&escrow], 0);
        }
    }
}

#[tokio::test]
async fn balances_rebuilt_from_events_alone_match_the_chain() {
    let mut env = Env::new().await;
    let mut ledger = Ledger::default();
    // the exchange was initialized by the harness; replay its set-up through a fresh market
    ledger.custody_collateral = custody_collateral_pda();
    let admin = env.admin.insecure_clone();
    let bridge = env.bridge.insecure_clone();
    let resolver = env.resolver.insecure_clone();
    let mk = MarketKeys::new("KXEVENTS");
    let close = env.now().await + 86_400;
    let (r, _, events) = env.send_traced(&[env.create_market_ix(&mk, close, 10_000)], &[&admin]).await;
    r.unwrap();
    ledger.apply_events(&events);
    assert_eq!(ledger.count, 1, "create_market emitted its event");

    let alice = env.user(50 * C).await;
    let bob = env.user(50 * C).await;
    let (a, b) = (alice.pubkey(), bob.pubkey());
    // wallets start with 50 collateral each (minted outside the program)
    ledger.add(env.collateral_ata(&a), 50 * C as i128);
    ledger.add(env.collateral_ata(&b), 50 * C as i128);
    // the bridge's float: 5 collateral, minted outside the program
    let bridge_key = bridge.pubkey();
    ledger.add(env.fund(&bridge_key, 5 * C).await, 5 * C as i128);
    env.outcome_atas(&a, &mk).await;
    env.outcome_atas(&b, &mk).await;
    let treasury = env.treasury;
    let order_a = order_pda(&mk.market, &a, 1);
    let order_b = order_pda(&mk.market, &b, 2);
    let a_yes = ata_of(&a, &mk.yes_mint);

    let steps: Vec<(Vec<solana_sdk::instruction::Instruction>, Keypair)> = vec![
        (vec![env.mint_set_ix(&a, &mk, 10 * C)], alice.insecure_clone()),
        (vec![env.merge_set_ix(&a, &mk, 2 * C)], alice.insecure_clone()),
        (vec![env.deposit_collateral_ix(&b, 30 * C, *b"bob-custodial-01")], bob.insecure_clone()),
        (vec![env.custody_mint_set_ix(&mk, 1, 20 * C)], bridge.insecure_clone()),
        (vec![env.custody_merge_set_ix(&mk, 2, 3 * C)], bridge.insecure_clone()),
        (vec![env.place_order_ix(&a, &mk, 1, OrderSide::BuyYes, 600_000, 5 * C, 100_000)], alice.insecure_clone()),
        // the steps are built before they run: name the orders by the ids they will get (1, 2, 3)
        (vec![env.settle_fill_id_ix(&mk, &order_a, 1, &a, OrderSide::BuyYes, 3, 2 * C, 550_000, 40_000)], bridge.insecure_clone()),
        (vec![env.place_order_ix(&b, &mk, 2, OrderSide::BuyNo, 400_000, 3 * C, 0)], bob.insecure_clone()),
        (vec![env.request_cancel_ix(&order_b, &b)], bob.insecure_clone()),
        (vec![env.place_order_ix(&a, &mk, 3, OrderSide::SellNo, 300_000, 4 * C, 50_000)], alice.insecure_clone()),
        (vec![env.settle_fill_id_ix(&mk, &order_pda(&mk.market, &a, 3), 3, &a, OrderSide::SellNo, 4, 4 * C, 350_000, 50_000)], bridge.insecure_clone()),
        (vec![env.close_order_id_ix(&mk, &order_a, 1, &a, OrderSide::BuyYes, 5)], bridge.insecure_clone()),
        (vec![env.custody_withdraw_ix(&mk, 6, Outcome::Yes, C, &a_yes)], bridge.insecure_clone()),
        (vec![env.deposit_tokens_ix(&a, &mk, Outcome::No, C)], alice.insecure_clone()),
        (vec![env.custody_withdraw_collateral_ix(1, 2 * C, &env.collateral_ata(&b))], bridge.insecure_clone()),
        // the two fills paid 40_000 + 50_000 in fees: all of it may be swept
        (vec![env.custody_sweep_ix(2, 90_000)], bridge.insecure_clone()),
        (vec![env.custody_fund_ix(3, C)], bridge.insecure_clone()),
    ];
    for (ixs, signer) in steps {
        let (r, _, events) = env.send_traced(&ixs, &[&signer]).await;
        r.unwrap();
        ledger.apply_events(&events);
    }
    env.advance_slots(FORCE_CLOSE_SLOTS).await;
    for (ix_, signer) in [
        (env.force_close_ix(&mk, &order_b, &b, OrderSide::BuyNo), bob.insecure_clone()),
        (env.close_order_ix(&mk, &order_pda(&mk.market, &a, 3), &a, OrderSide::SellNo, 7), bridge.insecure_clone()),
        (env.close_market_ix(&admin.pubkey(), &mk), admin.insecure_clone()),
        (env.determine_ix(&mk, 250_000), resolver.insecure_clone()),
    ] {
        let (r, _, events) = env.send_traced(&[ix_], &[&signer]).await;
        r.unwrap();
        ledger.apply_events(&events);
    }
    env.advance_time(DISPUTE_WINDOW_SECS).await;
    let yes = env.balance(&a_yes).await;
    let no = env.balance(&ata_of(&a, &mk.no_mint)).await;
    let (cy, cn) = (env.balance(&mk.custody_yes).await, env.balance(&mk.custody_no).await);
    for (ixs, signer) in [
        (vec![env.finalize_ix(&mk)], resolver.insecure_clone()),
        (vec![env.redeem_ix(&a, &mk, yes, no)], alice.insecure_clone()),
        (vec![env.custody_redeem_ix(&mk, 8, cy, cn)], bridge.insecure_clone()),
    ] {
        let (r, _, events) = env.send_traced(&ixs, &[&signer]).await;
        r.unwrap();
        ledger.apply_events(&events);
    }

    assert!(ledger.count >= 24, "one event per state change ({} seen)", ledger.count);
    let accounts: Vec<Pubkey> = ledger.balances.keys().copied().collect();
    for account in accounts {
        let rebuilt = ledger.balances[&account];
        assert_eq!(rebuilt, env.balance(&account).await as i128, "balance of {account} rebuilt from events");
    }
    assert!(ledger.balances.contains_key(&treasury) && ledger.balances.contains_key(&mk.vault));
    env.check_invariant_1(&mk).await;
}
