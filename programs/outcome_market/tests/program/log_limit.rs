//! Transaction logs stop at 10 kB ("Log truncated"); events are not in them. Every event is
//! a self-CPI of the program (Anchor's `emit_cpi!` format), recorded in the transaction's
//! inner instructions, which nothing truncates. So a bridge transaction may hold as many
//! records as fit: what bounds it is the 1232-byte packet and the runtime's instruction trace
//! (64 instructions, top level and inner together), never the log. These tests send a bridge
//! transaction whose log is cut and recover every event from it, pin the trace budget, and
//! measure how many fills of one order a v0 transaction with a lookup table carries.
use crate::common::*;
use anchor_lang::{AnchorDeserialize, Discriminator};
use outcome_market::events::{CustodySetMerged, CustodySetMinted, FillSettled};
use outcome_market::state::OrderSide;
use solana_sdk::address_lookup_table::{instruction as alt, AddressLookupTableAccount};
use solana_sdk::instruction::Instruction;
use solana_sdk::message::{v0, VersionedMessage};
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::VersionedTransaction;

/// solana-log-collector's LOG_MESSAGES_BYTES_LIMIT: the sum of the messages' lengths.
const LOG_LIMIT: usize = 10_000;
/// A transaction on the wire (PACKET_DATA_SIZE).
const PACKET: usize = 1_232;
/// 1.75 cents per contract: within the cumulative fee cap however a fill is split.
const FEE: u64 = 17_500;

fn decoded<E: AnchorDeserialize + Discriminator>(events: &[Vec<u8>]) -> Vec<E> {
    events
        .iter()
        .filter(|d| d.starts_with(E::DISCRIMINATOR))
        .map(|d| E::deserialize(&mut &d[8..]).expect("an event the IDL describes"))
        .collect()
}

/// A market with custody stocked, and a wallet's buy-YES order of `size` contracts at 0.50.
async fn order_env(ticker: &str, size: u64) -> (Env, MarketKeys, Keypair, anchor_lang::prelude::Pubkey) {
    let mut env = Env::new().await;
    let mk = env.create_market(ticker).await;
    env.stock_custody(&mk, 1, 100 * C).await;
    let w = env.user(size + 20 * C).await;
    let wk = w.pubkey();
    env.outcome_atas(&wk, &mk).await;
    let order = order_pda(&mk.market, &wk, 1);
    env.send(&[env.place_order_ix(&wk, &mk, 1, OrderSide::BuyYes, 500_000, size, 10 * C)], &[&w]).await.unwrap();
    (env, mk, w, order)
}

#[tokio::test]
async fn a_bridge_transaction_past_the_log_limit_keeps_every_event_in_its_inner_instructions() {
    let (mut env, mk, w, order) = order_env("KXLOG", 40 * C).await;
    let wk = w.pubkey();
    let bridge = env.bridge.insecure_clone();
    // custodial cash for the custody mints in the big transaction
    let funder = env.user(5 * C).await;
    env.send(&[env.deposit_collateral_ix(&funder.pubkey(), 5 * C, [2; 16])], &[&funder]).await.unwrap();

    // 4 custody records and 36 fills of one order: 1 + 4 × 5 + (3 + 36) = 60 of the trace's 64
    let fills: Vec<(u64, u64, u64, u64)> = (6..42).map(|seq| (seq, C, 500_000, FEE)).collect();
    let ixs: Vec<Instruction> = vec![
        env.custody_mint_set_ix(&mk, 2, C),
        env.custody_mint_set_ix(&mk, 3, C),
        env.custody_mint_set_ix(&mk, 4, C),
        env.custody_merge_set_ix(&mk, 5, C),
        env.settle_fills_ix(&mk, &order, &wk, OrderSide::BuyYes, &fills),
    ];
    let (r, logs, events) = env.send_traced(&ixs, &[&bridge]).await;
    assert_eq!(r, Ok(()));
    let log_bytes: usize = logs.iter().map(|l| l.len()).sum();
    println!("log: {} lines, {log_bytes} bytes kept; {} events in inner instructions", logs.len(), events.len());
    assert!(logs.iter().any(|l| l == "Log truncated"), "the log was cut ({log_bytes} bytes)");
    assert!(log_bytes <= LOG_LIMIT + "Log truncated".len());
    assert!(!logs.iter().any(|l| l.starts_with("Program data: ")), "no event is logged");

    // every event is there, in order, whole
    assert_eq!(events.len(), 4 + 36);
    let minted = decoded::<CustodySetMinted>(&events);
    assert_eq!(minted.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert_eq!(decoded::<CustodySetMerged>(&events).iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5]);
    let settled = decoded::<FillSettled>(&events);
    assert_eq!(settled.iter().map(|e| e.seq).collect::<Vec<_>>(), (6..42).collect::<Vec<_>>());
    for (k, e) in settled.iter().enumerate() {
        let n = k as u64 + 1;
        assert_eq!((e.order, e.stream, e.size, e.price, e.cost, e.fee), (order, mk.market, C, 500_000, C / 2, FEE));
        assert_eq!((e.filled, e.fees_paid), (n * C, n * FEE), "fill {n} states the order after it");
    }
    let last = settled.last().unwrap();
    let o = env.order(&order).await.unwrap();
    assert_eq!((o.filled, o.escrowed, o.fees_paid), (last.filled, last.escrowed, last.fees_paid));
    assert_eq!(env.balance(&ata_of(&wk, &mk.yes_mint)).await, 36 * C);
    // and every seq is applied: each one again is refused
    expect_refused(env.send(&[env.settle_fill_ix(&mk, &order, &wk, OrderSide::BuyYes, 41, C, 500_000, 0)], &[&bridge]).await, outcome_market::error::OutcomeError::SequenceReplayed);
    env.check_invariant_1(&mk).await;
}

#[tokio::test]
async fn the_instruction_trace_bounds_a_transaction_at_three_plus_one_per_fill() {
    let (mut env, mk, w, order) = order_env("KXTRACE", 70 * C).await;
    let wk = w.pubkey();
    let bridge = env.bridge.insecure_clone();
    let fills = |from: u64, n: u64| -> Vec<(u64, u64, u64, u64)> { (from..from + n).map(|seq| (seq, C, 500_000, FEE)).collect() };
    // Env::send adds a compute budget instruction: 1 + (3 + 61) = 65 > 64
    let over = env.settle_fills_ix(&mk, &order, &wk, OrderSide::BuyYes, &fills(2, 61));
    match env.send(&[over], &[&bridge]).await {
        Err(Refusal::Other(e)) => assert!(e.contains("MaxInstructionTraceLengthExceeded"), "{e}"),
        other => panic!("expected MaxInstructionTraceLengthExceeded, got {other:?}"),
    }
    assert_eq!(env.order(&order).await.unwrap().filled, 0, "nothing of it happened");
    // 1 + (3 + 60) = 64: fits exactly
    let (r, _, events) = env.send_traced(&[env.settle_fills_ix(&mk, &order, &wk, OrderSide::BuyYes, &fills(2, 60))], &[&bridge]).await;
    assert_eq!(r, Ok(()));
    assert_eq!(decoded::<FillSettled>(&events).len(), 60);
    assert_eq!(env.order(&order).await.unwrap().filled, 60 * C);
}

/// The v0 transaction the bridge sends: the bridge authority pays and signs, everything else
/// comes from the market's lookup table.
fn v0_fills_tx(env: &Env, bridge: &Keypair, table: &AddressLookupTableAccount, mk: &MarketKeys, order: &anchor_lang::prelude::Pubkey, owner: &anchor_lang::prelude::Pubkey, prefix: &[Instruction], n: u64) -> VersionedTransaction {
    let fills: Vec<(u64, u64, u64, u64)> = (0..n).map(|i| (100 + i, C, 500_000, FEE)).collect();
    let mut ixs = prefix.to_vec();
    ixs.push(env.settle_fills_ix(mk, order, owner, OrderSide::BuyYes, &fills));
    let message = v0::Message::try_compile(&bridge.pubkey(), &ixs, std::slice::from_ref(table), env.ctx.last_blockhash).unwrap();
    VersionedTransaction::try_new(VersionedMessage::V0(message), &[bridge]).unwrap()
}

fn wire_size(tx: &VersionedTransaction) -> usize {
    bincode::serialize(tx).unwrap().len()
}

/// The most fills whose transaction fits a packet.
fn most_fills(env: &Env, bridge: &Keypair, table: &AddressLookupTableAccount, mk: &MarketKeys, order: &anchor_lang::prelude::Pubkey, owner: &anchor_lang::prelude::Pubkey, prefix: &[Instruction]) -> u64 {
    let mut n = 1;
    while wire_size(&v0_fills_tx(env, bridge, table, mk, order, owner, prefix, n + 1)) <= PACKET {
        n += 1;
    }
    n
}

#[tokio::test]
async fn a_v0_transaction_with_the_markets_lookup_table_carries_at_least_twenty_fills_of_one_order() {
    let (mut env, mk, w, order) = order_env("KXVZERO", 60 * C).await;
    let wk = w.pubkey();
    let bridge = env.bridge.insecure_clone();
    env.airdrop(&bridge.pubkey(), 10_000_000_000).await;
    // the lookup table: every account of a fill but the bridge authority (signer, fee payer)
    // and the program (a program id must be a static key)
    let probe = env.settle_fills_ix(&mk, &order, &wk, OrderSide::BuyYes, &[(1, C, 500_000, 0)]);
    let addresses: Vec<_> = probe.accounts.iter().map(|a| a.pubkey).filter(|k| *k != bridge.pubkey() && *k != outcome_market::ID).collect();
    let slot = env.clock().await.slot;
    env.advance_slots(1).await;
    let (create, table_key) = alt::create_lookup_table(bridge.pubkey(), bridge.pubkey(), slot);
    let extend = alt::extend_lookup_table(table_key, bridge.pubkey(), Some(bridge.pubkey()), addresses.clone());
    env.send(&[create, extend], &[&bridge]).await.unwrap();
    env.advance_slots(1).await; // addresses added in a slot are usable from the next one
    env.ctx.last_blockhash = env.ctx.banks_client.get_latest_blockhash().await.unwrap();
    let table = AddressLookupTableAccount { key: table_key, addresses };

    let plain = most_fills(&env, &bridge, &table, &mk, &order, &wk, &[]);
    let budget = [
        solana_sdk::compute_budget::ComputeBudgetInstruction::set_compute_unit_limit(1_400_000),
        solana_sdk::compute_budget::ComputeBudgetInstruction::set_compute_unit_price(1),
    ];
    let with_budget = most_fills(&env, &bridge, &table, &mk, &order, &wk, &budget);
    let legacy = {
        let mut n = 1;
        let tx = |n: u64| {
            let fills: Vec<(u64, u64, u64, u64)> = (0..n).map(|i| (100 + i, C, 500_000, FEE)).collect();
            let ix_ = env.settle_fills_ix(&mk, &order, &wk, OrderSide::BuyYes, &fills);
            solana_sdk::transaction::Transaction::new_signed_with_payer(&[ix_], Some(&bridge.pubkey()), &[&bridge], env.ctx.last_blockhash)
        };
        while bincode::serialize(&tx(n + 1)).unwrap().len() <= PACKET {
            n += 1;
        }
        n
    };
    println!(
        "fills of one order per transaction (1232 bytes): v0 + lookup table {plain} ({} bytes), \
         with 2 compute budget instructions {with_budget}, legacy {legacy}",
        wire_size(&v0_fills_tx(&env, &bridge, &table, &mk, &order, &wk, &[], plain))
    );
    assert!(plain >= 20 && with_budget >= 20, "{plain} / {with_budget} fills");
    assert!(wire_size(&v0_fills_tx(&env, &bridge, &table, &mk, &order, &wk, &[], plain + 1)) > PACKET);

    // and the fullest one lands, every fill applied
    let tx = v0_fills_tx(&env, &bridge, &table, &mk, &order, &wk, &[], plain);
    env.ctx.banks_client.process_transaction(tx).await.unwrap();
    assert_eq!(env.order(&order).await.unwrap().filled, plain * C);
}
