//! `settle_fills`: several fills of one wallet order in one instruction (and, at the end,
//! `custody_mint_sets`/`custody_merge_sets`, the same for custody's set records). It is `settle_fill`
//! applied fill after fill (one code path): the same order state and the same events as
//! the fills sent one by one, each fill sequenced; all or nothing; and the checks that
//! span fills (remaining size, fee cap, custody's stock, the escrow) bind the batch as a whole.
use crate::common::*;
use anchor_lang::{AnchorDeserialize, Discriminator};
use outcome_market::error::OutcomeError;
use outcome_market::events::{CustodySetMerged, CustodySetMinted, FillSettled};
use outcome_market::state::OrderSide;
use solana_sdk::signature::{Keypair, Signer};

fn fills_of(events: &[Vec<u8>]) -> Vec<FillSettled> {
    events
        .iter()
        .filter(|d| d.starts_with(FillSettled::DISCRIMINATOR))
        .map(|d| FillSettled::deserialize(&mut &d[8..]).unwrap())
        .collect()
}

/// What a fill event says about the order, without what differs between two orders.
fn essence(e: &FillSettled) -> (u64, u64, u64, u64, u64, u64, u64) {
    (e.size, e.price, e.cost, e.fee, e.filled, e.escrowed, e.fees_paid)
}

struct World {
    env: Env,
    mk: MarketKeys,
    bridge: Keypair,
    w: Keypair,
}

/// A market with 20 sets in custody and 20 collateral of custodial cash, and a wallet with
/// 30 collateral and 20 sets of its own.
async fn world(ticker: &str) -> World {
    let mut env = Env::new().await;
    let mk = env.create_market(ticker).await;
    env.stock_custody(&mk, 1, 20 * C).await;
    let cash = env.user(20 * C).await;
    env.send(&[env.deposit_collateral_ix(&cash.pubkey(), 20 * C, [5; 16])], &[&cash]).await.unwrap();
    let w = env.user(50 * C).await;
    env.mint_set(&w, &mk, 20 * C).await.unwrap();
    let bridge = env.bridge.insecure_clone();
    World { env, mk, bridge, w }
}

#[tokio::test]
async fn a_batch_leaves_the_order_and_the_events_exactly_as_its_fills_one_by_one() {
    let World { mut env, mk, bridge, w } = world("KXBATCH").await;
    let wk = w.pubkey();
    // (seq offset, size, price, fee): uneven sizes and prices, fees up to the cumulative cap
    let fills = [(0, 2 * C, 550_000, 30_000), (1, 50_000, 500_000, 1_000), (2, C, 600_000, 16_000), (3, 3 * C, 450_000, 0)];
    for (side, limit) in [(OrderSide::BuyYes, 600_000), (OrderSide::SellNo, 450_000)] {
        let (one, batch) = if side == OrderSide::BuyYes { (1, 2) } else { (3, 4) };
        let (o_one, o_batch) = (order_pda(&mk.market, &wk, one), order_pda(&mk.market, &wk, batch));
        for nonce in [one, batch] {
            env.send(&[env.place_order_ix(&wk, &mk, nonce, side, limit, 8 * C, 100_000)], &[&w]).await.unwrap();
        }
        let seq0 = if side == OrderSide::BuyYes { 10 } else { 30 };
        // sells fill at or above their limit
        let sell_price = [450_000, 500_000, 460_000, 450_000];
        let mut single_events = Vec::new();
        for (k, &(off, size, price, fee)) in fills.iter().enumerate() {
            let price = if side == OrderSide::BuyYes { price } else { sell_price[k] };
            let (r, _, events) = env.send_traced(&[env.settle_fill_ix(&mk, &o_one, &wk, side, seq0 + off, size, price, fee)], &[&bridge]).await;
            assert_eq!(r, Ok(()), "{side:?} fill {k}");
            single_events.extend(fills_of(&events));
        }
        let batch_fills: Vec<_> = fills
            .iter()
            .enumerate()
            .map(|(k, &(off, size, price, fee))| (seq0 + 10 + off, size, if side == OrderSide::BuyYes { price } else { sell_price[k] }, fee))
            .collect();
        let (r, _, events) = env.send_traced(&[env.settle_fills_ix(&mk, &o_batch, &wk, side, &batch_fills)], &[&bridge]).await;
        assert_eq!(r, Ok(()), "{side:?} batch");
        let batch_events = fills_of(&events);
        assert_eq!(batch_events.len(), fills.len(), "one FillSettled per fill");
        assert_eq!(batch_events.iter().map(essence).collect::<Vec<_>>(), single_events.iter().map(essence).collect::<Vec<_>>());
        assert_eq!(batch_events.iter().map(|e| e.seq).collect::<Vec<_>>(), batch_fills.iter().map(|f| f.0).collect::<Vec<_>>());
        let (a, b) = (env.order(&o_one).await.unwrap(), env.order(&o_batch).await.unwrap());
        assert_eq!((a.filled, a.escrowed, a.fees_paid, a.fee_cap_basis), (b.filled, b.escrowed, b.fees_paid, b.fee_cap_basis));
        assert_eq!(env.balance(&escrow_pda(&o_one)).await, env.balance(&escrow_pda(&o_batch)).await);
        // fees accrue in custody fill by fill: the batch's last event counts all of them
        let fees: u64 = fills.iter().map(|f| f.3).sum();
        assert_eq!(batch_events.last().unwrap().fees_accrued, single_events.last().unwrap().fees_accrued + fees);
    }
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn a_batch_with_one_bad_fill_changes_nothing() {
    let World { mut env, mk, bridge, w } = world("KXBATCHBAD").await;
    let wk = w.pubkey();
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 5 * C, 100_000)], &[&w]).await.unwrap();
    let escrow_before = env.balance(&escrow_pda(&order)).await;
    let batch = |env: &Env, fills: &[(u64, u64, u64, u64)]| env.settle_fills_ix(&mk, &order, &wk, OrderSide::BuyYes, fills);
    let cases = [
        // the third fill's price is above the limit
        (batch(&env, &[(2, C, 500_000, 0), (3, C, 450_000, 0), (4, C, 510_000, 0)]), OutcomeError::PriceWorseThanLimit),
        // each fits the order alone, together they exceed its size
        (batch(&env, &[(2, 3 * C, 500_000, 0), (3, 3 * C, 500_000, 0)]), OutcomeError::FillExceedsSize),
        // two lots @ 50c: each lot's cap, 0.0175c, rounds up to 1c, both together still to 1c:
        // 1c of fee on each fits alone, not together
        (batch(&env, &[(2, 10_000, 500_000, 10_000), (3, 10_000, 500_000, 10_000)]), OutcomeError::FeeAboveCap),
        // the same seq twice in one batch
        (batch(&env, &[(2, C, 500_000, 0), (2, C, 500_000, 0)]), OutcomeError::SequenceReplayed),
        (batch(&env, &[(2, C, 500_000, 0), (3, C + 1, 500_000, 0)]), OutcomeError::InvalidSize),
        (batch(&env, &[]), OutcomeError::EmptyBatch),
    ];
    for (ix_, err) in cases {
        expect_refused(env.send(&[ix_], &[&bridge]).await, err);
    }
    // a batch naming another order id
    let mut wrong_id = batch(&env, &[(2, C, 500_000, 0)]);
    wrong_id.data = anchor_lang::InstructionData::data(&outcome_market::instruction::SettleFills {
        order_id: env.order_id(&order) + 1,
        fills: vec![outcome_market::FillArgs { seq: 2, size: C, price: 500_000, fee: 0 }],
    });
    expect_refused(env.send(&[wrong_id], &[&bridge]).await, OutcomeError::OrderIdMismatch);
    // nothing moved, and the good fills' seqs are still free
    let o = env.order(&order).await.unwrap();
    assert_eq!((o.filled, o.fees_paid), (0, 0));
    assert_eq!(env.balance(&escrow_pda(&order)).await, escrow_before);
    env.send(&[batch(&env, &[(2, C, 500_000, 0), (3, C, 450_000, 0), (4, C, 500_000, 0)])], &[&bridge]).await.unwrap();
    assert_eq!(env.order(&order).await.unwrap().filled, 3 * C);
}

#[tokio::test]
async fn custodys_stock_binds_the_batch_as_a_whole() {
    let World { mut env, mk, bridge, w } = world("KXBATCHSTOCK").await;
    let wk = w.pubkey();
    // custody holds 20 YES: two buys of 12 each fit alone, not together
    let buy = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, 30 * C, 0)], &[&w]).await.unwrap();
    let two = env.settle_fills_ix(&mk, &buy, &wk, OrderSide::BuyYes, &[(2, 12 * C, 500_000, 0), (3, 12 * C, 500_000, 0)]);
    expect_refused(env.send(&[two], &[&bridge]).await, OutcomeError::InsufficientBalance);
    // custody's collateral pays sales: leave it 5, then two sales of 4 NO at 0.70 (2.8 each)
    // fit alone, not together
    env.send(&[env.custody_withdraw_collateral_ix(1, 15 * C, &env.collateral_ata(&wk))], &[&bridge]).await.unwrap();
    let sell = order_pda(&mk.market, &wk, 2);
    env.send(&[env.place_order_ix(&wk, &mk, 2, OrderSide::SellNo, 700_000, 8 * C, 0)], &[&w]).await.unwrap();
    let two_sales = env.settle_fills_ix(&mk, &sell, &wk, OrderSide::SellNo, &[(4, 4 * C, 700_000, 0), (5, 4 * C, 700_000, 0)]);
    expect_refused(env.send(&[two_sales], &[&bridge]).await, OutcomeError::InsufficientBalance);
    // within the stock both settle
    env.send(&[env.settle_fills_ix(&mk, &buy, &wk, OrderSide::BuyYes, &[(2, 12 * C, 500_000, 0), (3, 8 * C, 500_000, 0)])], &[&bridge]).await.unwrap();
    env.send(&[env.settle_fills_ix(&mk, &sell, &wk, OrderSide::SellNo, &[(4, 4 * C, 700_000, 0), (5, 3 * C, 700_000, 0)])], &[&bridge]).await.unwrap();
    assert_eq!((env.order(&buy).await.unwrap().filled, env.order(&sell).await.unwrap().filled), (20 * C, 7 * C));
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn custody_set_batches_are_their_records_one_by_one_and_all_or_nothing() {
    let World { mut env, mk, bridge, .. } = world("KXSETS").await;
    // custody: 20 sets, 20 collateral of custodial cash
    let one_by_one = [(2, 3 * C), (3, C), (4, 2 * C)];
    let mut single = Vec::new();
    for &(seq, amount) in &one_by_one {
        let (r, _, events) = env.send_traced(&[env.custody_mint_set_ix(&mk, seq, amount)], &[&bridge]).await;
        assert_eq!(r, Ok(()));
        single.extend(events);
    }
    let (r, _, batch) = env.send_traced(&[env.custody_mint_sets_ix(&mk, &[(5, 3 * C), (6, C), (7, 2 * C)])], &[&bridge]).await;
    assert_eq!(r, Ok(()));
    let decode = |events: &[Vec<u8>]| -> Vec<CustodySetMinted> {
        events.iter().filter(|d| d.starts_with(CustodySetMinted::DISCRIMINATOR)).map(|d| CustodySetMinted::deserialize(&mut &d[8..]).unwrap()).collect()
    };
    let (single, batch) = (decode(&single), decode(&batch));
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6, 7]);
    // the same amounts; totals continue where the singles left them
    assert_eq!(batch.iter().map(|e| e.amount).collect::<Vec<_>>(), single.iter().map(|e| e.amount).collect::<Vec<_>>());
    assert_eq!(batch.iter().map(|e| e.sets_outstanding).collect::<Vec<_>>(), single.iter().map(|e| e.sets_outstanding + 6 * C).collect::<Vec<_>>());
    assert_eq!(batch.iter().map(|e| e.custody_collateral_balance).collect::<Vec<_>>(), single.iter().map(|e| e.custody_collateral_balance - 6 * C).collect::<Vec<_>>());
    assert_eq!(env.balance(&custody_collateral_pda()).await, batch.last().unwrap().custody_collateral_balance);
    assert_eq!(env.market(&mk).await.sets_outstanding, batch.last().unwrap().sets_outstanding);
    env.check_invariant_1(&mk).await;

    // custody's cash is 8 now: 5 + 5 fit alone, not together; nothing of a refused batch happens
    let before = env.market(&mk).await.sets_outstanding;
    let cases = [
        (env.custody_mint_sets_ix(&mk, &[(8, 5 * C), (9, 5 * C)]), OutcomeError::InsufficientBalance),
        (env.custody_mint_sets_ix(&mk, &[(8, C), (8, C)]), OutcomeError::SequenceReplayed),
        (env.custody_mint_sets_ix(&mk, &[(8, C), (9, 0)]), OutcomeError::ZeroAmount),
        (env.custody_mint_sets_ix(&mk, &[]), OutcomeError::EmptyBatch),
        (env.custody_merge_sets_ix(&mk, &[(8, 20 * C), (9, 20 * C)]), OutcomeError::InsufficientBalance),
        (env.custody_merge_sets_ix(&mk, &[]), OutcomeError::EmptyBatch),
    ];
    for (ix_, err) in cases {
        expect_refused(env.send(&[ix_], &[&bridge]).await, err);
    }
    assert_eq!(env.market(&mk).await.sets_outstanding, before);
    // a merge batch retires the sets and pays custody their collateral
    let (r, _, events) = env.send_traced(&[env.custody_merge_sets_ix(&mk, &[(8, 4 * C), (9, 6 * C)])], &[&bridge]).await;
    assert_eq!(r, Ok(()));
    let merged: Vec<CustodySetMerged> =
        events.iter().filter(|d| d.starts_with(CustodySetMerged::DISCRIMINATOR)).map(|d| CustodySetMerged::deserialize(&mut &d[8..]).unwrap()).collect();
    assert_eq!(merged.iter().map(|e| (e.seq, e.amount)).collect::<Vec<_>>(), vec![(8, 4 * C), (9, 6 * C)]);
    assert_eq!(merged[1].sets_outstanding, before - 10 * C);
    assert_eq!(env.balance(&custody_collateral_pda()).await, merged[1].custody_collateral_balance);
    env.check_invariant_1(&mk).await;
}
