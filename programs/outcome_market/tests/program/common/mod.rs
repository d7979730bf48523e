//! Test harness: outcome_market running natively inside a real Solana runtime
//! (solana-program-test's `processor!` mode) beside the real SPL Token and Associated
//! Token programs. Builders for every instruction, account readers and invariant checks.
#![allow(dead_code, deprecated)]

use anchor_lang::prelude::Pubkey;
use anchor_lang::{AccountDeserialize, InstructionData, ToAccountMetas};
use anchor_spl::associated_token::spl_associated_token_account as ata;
use anchor_spl::token::{spl_token, Mint, TokenAccount};
use outcome_market::error::OutcomeError;
use outcome_market::state::{Market, OrderSide, Outcome, WalletOrder};
use outcome_market::{accounts as acc, instruction as ixd, InitializeArgs, ONE_CONTRACT};
use solana_program_test::{BanksClientError, ProgramTest, ProgramTestContext};
use solana_sdk::{
    clock::Clock,
    compute_budget::ComputeBudgetInstruction,
    instruction::{Instruction, InstructionError},
    signature::{Keypair, Signer},
    system_instruction,
    transaction::{Transaction, TransactionError},
};

pub const FEE_RATE_BPS: u16 = 700;
pub const FORCE_CLOSE_SLOTS: u64 = 50;
pub const DISPUTE_WINDOW_SECS: i64 = 3_600;
pub const C: u64 = ONE_CONTRACT;

// Anchor's generated `entry` ties the accounts slice lifetime to its items, which
// `processor!` cannot express; leaking the slice (test-only) is the known workaround.
fn entry(
    program_id: &Pubkey,
    accounts: &[anchor_lang::prelude::AccountInfo],
    data: &[u8],
) -> anchor_lang::solana_program::entrypoint::ProgramResult {
    let accounts = Box::leak(Box::new(accounts.to_vec()));
    outcome_market::entry(program_id, accounts, data)
}

pub fn program_test() -> ProgramTest {
    ProgramTest::new("outcome_market", outcome_market::ID, native_events::processor_with_events!(entry))
}

/// The program's ProgramData address (BPF upgradeable loader, PDA `[program id]`).
pub fn program_data_pda() -> Pubkey {
    Pubkey::find_program_address(&[outcome_market::ID.as_ref()], &anchor_lang::solana_program::bpf_loader_upgradeable::ID).0
}

/// The ProgramData account a deployment of the program has, with `authority` as upgrade
/// authority. Native mode runs the program as a builtin, so program-test creates none; the
/// account is added as genesis state (as localnet does). Layout: bincode of
/// `UpgradeableLoaderState::ProgramData { slot, upgrade_authority_address }` (the ELF that
/// follows on a real deployment is not needed by anything that reads it).
pub fn program_data_account(authority: Option<Pubkey>) -> solana_sdk::account::Account {
    let mut data = 3u32.to_le_bytes().to_vec(); // enum tag: ProgramData
    data.extend_from_slice(&0u64.to_le_bytes()); // slot
    match authority {
        Some(key) => {
            data.push(1);
            data.extend_from_slice(key.as_ref());
        }
        None => data.push(0),
    }
    solana_sdk::account::Account {
        lamports: 1_000_000_000,
        data,
        owner: anchor_lang::solana_program::bpf_loader_upgradeable::ID,
        executable: false,
        rent_epoch: 0,
    }
}

/// What a refused transaction failed with.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A program error number (Anchor's, ours from 6000, or the token program's).
    Custom(u32),
    Other(String),
}

pub type TxResult = Result<(), Refusal>;

pub fn code(e: OutcomeError) -> u32 {
    anchor_lang::error::ERROR_CODE_OFFSET + e as u32
}

pub fn anchor_code(e: anchor_lang::error::ErrorCode) -> u32 {
    e as u32
}

#[track_caller]
pub fn expect_refused(r: TxResult, e: OutcomeError) {
    assert_eq!(r, Err(Refusal::Custom(code(e))), "expected {e:?}");
}

#[track_caller]
pub fn expect_anchor(r: TxResult, e: anchor_lang::error::ErrorCode) {
    assert_eq!(r, Err(Refusal::Custom(e as u32)), "expected {e:?}");
}

// ---------------------------------------------------------------- PDAs

pub fn pda(seeds: &[&[u8]]) -> Pubkey {
    Pubkey::find_program_address(seeds, &outcome_market::ID).0
}
pub fn exchange_pda() -> Pubkey {
    pda(&[b"exchange"])
}
pub fn custody_pda() -> Pubkey {
    pda(&[b"custody"])
}
pub fn custody_collateral_pda() -> Pubkey {
    pda(&[b"custody_collateral"])
}
pub fn order_pda(market: &Pubkey, owner: &Pubkey, nonce: u64) -> Pubkey {
    pda(&[b"order", market.as_ref(), owner.as_ref(), &nonce.to_le_bytes()])
}
/// Anchor's event authority (`#[event_cpi]`): signs the program's self-CPI events.
pub fn event_authority_pda() -> Pubkey {
    pda(&[b"__event_authority"])
}
pub fn escrow_pda(order: &Pubkey) -> Pubkey {
    pda(&[b"escrow", order.as_ref()])
}
pub fn ata_of(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    ata::get_associated_token_address(owner, mint)
}

/// The addresses of one market.
#[derive(Clone, Debug)]
pub struct MarketKeys {
    pub ticker: String,
    pub market: Pubkey,
    pub yes_mint: Pubkey,
    pub no_mint: Pubkey,
    pub vault: Pubkey,
    pub custody_yes: Pubkey,
    pub custody_no: Pubkey,
}

impl MarketKeys {
    pub fn new(ticker: &str) -> Self {
        let market = pda(&[b"market", ticker.as_bytes()]);
        MarketKeys {
            ticker: ticker.to_string(),
            market,
            yes_mint: pda(&[b"yes_mint", market.as_ref()]),
            no_mint: pda(&[b"no_mint", market.as_ref()]),
            vault: pda(&[b"vault", market.as_ref()]),
            custody_yes: pda(&[b"custody_yes", market.as_ref()]),
            custody_no: pda(&[b"custody_no", market.as_ref()]),
        }
    }
    pub fn mint(&self, o: Outcome) -> Pubkey {
        match o {
            Outcome::Yes => self.yes_mint,
            Outcome::No => self.no_mint,
        }
    }
    pub fn custody(&self, o: Outcome) -> Pubkey {
        match o {
            Outcome::Yes => self.custody_yes,
            Outcome::No => self.custody_no,
        }
    }
}

/// The program's events among a transaction's inner instructions (one list per top-level
/// instruction), as a reader finds them: self-CPIs of the program whose data starts with
/// Anchor's event tag; each returned as the event's discriminator and borsh fields.
pub fn events_in(account_keys: &[Pubkey], inner: &[Vec<solana_sdk::message::inner_instruction::InnerInstruction>]) -> Vec<Vec<u8>> {
    let tag = anchor_lang::event::EVENT_IX_TAG_LE;
    inner
        .iter()
        .flatten()
        .filter(|i| account_keys[i.instruction.program_id_index as usize] == outcome_market::ID && i.instruction.data.starts_with(tag))
        .inspect(|i| {
            assert_eq!(i.stack_height, 2, "an event is a CPI of a top-level instruction");
            assert_eq!(i.instruction.accounts.len(), 1, "its one account is the event authority");
            assert_eq!(account_keys[i.instruction.accounts[0] as usize], event_authority_pda());
        })
        .map(|i| i.instruction.data[tag.len()..].to_vec())
        .collect()
}

pub fn ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction { program_id: outcome_market::ID, accounts: accounts.to_account_metas(None), data: data.data() }
}

// ---------------------------------------------------------------- the environment

pub struct Env {
    pub ctx: ProgramTestContext,
    pub admin: Keypair,
    pub bridge: Keypair,
    pub resolver: Keypair,
    /// Mint authority of the collateral (tests print money with it).
    pub collateral_authority: Keypair,
    pub collateral_mint: Pubkey,
    pub treasury: Pubkey,
    tx_counter: u32,
    /// Order ids as the program assigned them (a mirror kept by `send`: each market counts
    /// the orders placed in it), so fills and closes name the order at an address now.
    order_ids: std::collections::HashMap<Pubkey, u64>,
    orders_placed: std::collections::HashMap<Pubkey, u64>,
}

impl Env {
    /// A started chain with the collateral mint and an initialized exchange.
    pub async fn new() -> Env {
        Self::with_program_test(program_test()).await
    }

    pub async fn with_program_test(pt: ProgramTest) -> Env {
        env_initialize(Self::bare(pt).await).await
    }

    /// A started chain with the collateral mint and treasury, the exchange not yet
    /// initialized; `admin` is the program's upgrade authority.
    pub async fn bare(pt: ProgramTest) -> Env {
        let admin = Keypair::new();
        let authority = admin.pubkey();
        Self::bare_with(pt, admin, Some(authority)).await
    }

    /// Like [`Env::bare`] with the given admin and upgrade authority (None: an immutable program).
    pub async fn bare_with(mut pt: ProgramTest, admin: Keypair, upgrade_authority: Option<Pubkey>) -> Env {
        pt.add_account(program_data_pda(), program_data_account(upgrade_authority));
        Self::bare_with_program_data(pt, admin).await
    }

    /// Like [`Env::bare`], with whatever ProgramData account `pt` already has (if any).
    pub async fn bare_with_program_data(pt: ProgramTest, admin: Keypair) -> Env {
        let ctx = pt.start_with_context().await;
        native_events::install();
        let mut env = Env {
            ctx,
            admin,
            bridge: Keypair::new(),
            resolver: Keypair::new(),
            collateral_authority: Keypair::new(),
            collateral_mint: Pubkey::default(),
            treasury: Pubkey::default(),
            tx_counter: 0,
            order_ids: Default::default(),
            orders_placed: Default::default(),
        };
        for k in [env.admin.pubkey(), env.bridge.pubkey(), env.resolver.pubkey()] {
            env.airdrop(&k, 10_000_000_000).await;
        }
        let authority = env.collateral_authority.pubkey();
        env.collateral_mint = env.create_mint(&authority, 6).await;
        let admin = env.admin.pubkey();
        env.treasury = env.ata(&admin, &env.collateral_mint.clone()).await;
        env
    }

    pub fn payer(&self) -> Keypair {
        self.ctx.payer.insecure_clone()
    }

    /// Sends one transaction paid by the test payer; each is made unique (a compute
    /// budget instruction with a counter) so equal instructions can be sent again.
    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        self.tx_counter += 1;
        let mut all = vec![ComputeBudgetInstruction::set_compute_unit_limit(1_400_000 - self.tx_counter)];
        all.extend_from_slice(ixs);
        let payer = self.payer();
        let mut keys: Vec<&Keypair> = vec![&payer];
        for s in signers {
            if s.pubkey() != payer.pubkey() && !keys.iter().any(|k| k.pubkey() == s.pubkey()) {
                keys.push(s);
            }
        }
        let blockhash = self.ctx.banks_client.get_latest_blockhash().await.unwrap();
        let tx = Transaction::new_signed_with_payer(&all, Some(&payer.pubkey()), &keys, blockhash);
        match self.ctx.banks_client.process_transaction(tx).await {
            Ok(()) => {
                self.note_orders(ixs);
                Ok(())
            }
            Err(e) => Err(match e {
                BanksClientError::TransactionError(TransactionError::InstructionError(_, InstructionError::Custom(c)))
                | BanksClientError::SimulationError {
                    err: TransactionError::InstructionError(_, InstructionError::Custom(c)),
                    ..
                } => Refusal::Custom(c),
                other => Refusal::Other(format!("{other:?}")),
            }),
        }
    }

    /// Like [`Env::send`], returning the transaction's log messages too.
    pub async fn send_logged(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> (TxResult, Vec<String>) {
        self.tx_counter += 1;
        let mut all = vec![ComputeBudgetInstruction::set_compute_unit_limit(1_400_000 - self.tx_counter)];
        all.extend_from_slice(ixs);
        let payer = self.payer();
        let mut keys: Vec<&Keypair> = vec![&payer];
        for s in signers {
            if s.pubkey() != payer.pubkey() && !keys.iter().any(|k| k.pubkey() == s.pubkey()) {
                keys.push(s);
            }
        }
        let blockhash = self.ctx.banks_client.get_latest_blockhash().await.unwrap();
        let tx = Transaction::new_signed_with_payer(&all, Some(&payer.pubkey()), &keys, blockhash);
        let out = self.ctx.banks_client.process_transaction_with_metadata(tx).await.unwrap();
        let logs = out.metadata.map(|m| m.log_messages).unwrap_or_default();
        let result = match out.result {
            Ok(()) => {
                self.note_orders(ixs);
                Ok(())
            }
            Err(TransactionError::InstructionError(_, InstructionError::Custom(c))) => Err(Refusal::Custom(c)),
            Err(other) => Err(Refusal::Other(format!("{other:?}"))),
        };
        (result, logs)
    }

    /// Like [`Env::send_logged`], returning the program's events too: the data (discriminator
    /// and borsh fields) of every self-CPI event in the transaction's inner instructions, in
    /// order. The runtime records inner instructions on simulation only (the banks interface
    /// returns none for processed transactions), so the transaction is simulated, then
    /// processed against the same state; the two runs' logs are checked to be the same. The
    /// logs returned are the simulation's, cut at 10 kB as a validator cuts them.
    pub async fn send_traced(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> (TxResult, Vec<String>, Vec<Vec<u8>>) {
        self.tx_counter += 1;
        let mut all = vec![ComputeBudgetInstruction::set_compute_unit_limit(1_400_000 - self.tx_counter)];
        all.extend_from_slice(ixs);
        let payer = self.payer();
        let mut keys: Vec<&Keypair> = vec![&payer];
        for s in signers {
            if s.pubkey() != payer.pubkey() && !keys.iter().any(|k| k.pubkey() == s.pubkey()) {
                keys.push(s);
            }
        }
        let blockhash = self.ctx.banks_client.get_latest_blockhash().await.unwrap();
        let tx = Transaction::new_signed_with_payer(&all, Some(&payer.pubkey()), &keys, blockhash);
        let simulated = self.ctx.banks_client.simulate_transaction(tx.clone()).await.unwrap();
        let details = simulated.simulation_details.expect("simulation details");
        let events = events_in(&tx.message.account_keys, details.inner_instructions.as_deref().unwrap_or_default());
        let out = self.ctx.banks_client.process_transaction_with_metadata(tx).await.unwrap();
        let logs = out.metadata.map(|m| m.log_messages).unwrap_or_default();
        // The simulation's log is cut at 10 kB as a validator's is (program-test's processing
        // path keeps it whole); up to the cut the two are the same run. The cut one is returned.
        let kept = details.logs.strip_suffix(&["Log truncated".to_string()]).unwrap_or(&details.logs);
        assert_eq!(&logs[..kept.len().min(logs.len())], kept, "the simulation ran the transaction as its execution did");
        let logs = details.logs;
        let result = match out.result {
            Ok(()) => {
                self.note_orders(ixs);
                Ok(())
            }
            Err(TransactionError::InstructionError(_, InstructionError::Custom(c))) => Err(Refusal::Custom(c)),
            Err(other) => Err(Refusal::Other(format!("{other:?}"))),
        };
        (result, logs, events)
    }

    /// After a landed transaction: its `place_order`s got the next ids of their markets.
    fn note_orders(&mut self, ixs: &[Instruction]) {
        use anchor_lang::Discriminator;
        for ix in ixs {
            if ix.program_id == outcome_market::ID && ix.data.starts_with(ixd::PlaceOrder::DISCRIMINATOR) {
                let (market, order) = (ix.accounts[2].pubkey, ix.accounts[3].pubkey);
                let count = self.orders_placed.entry(market).or_default();
                *count += 1;
                self.order_ids.insert(order, *count);
            }
        }
    }

    /// The id of the order now at `order` (0 if none was placed there).
    pub fn order_id(&self, order: &Pubkey) -> u64 {
        self.order_ids.get(order).copied().unwrap_or(0)
    }

    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) {
        let payer = self.payer();
        let ix = system_instruction::transfer(&payer.pubkey(), to, lamports);
        self.send(&[ix], &[]).await.expect("airdrop");
    }

    pub async fn create_mint(&mut self, authority: &Pubkey, decimals: u8) -> Pubkey {
        let mint = Keypair::new();
        let payer = self.payer();
        let rent = self.ctx.banks_client.get_rent().await.unwrap().minimum_balance(82);
        let ixs = [
            system_instruction::create_account(&payer.pubkey(), &mint.pubkey(), rent, 82, &spl_token::ID),
            spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), authority, None, decimals).unwrap(),
        ];
        self.send(&ixs, &[&mint]).await.expect("create mint");
        mint.pubkey()
    }

    /// The owner's associated token account of `mint`, created if missing.
    pub async fn ata(&mut self, owner: &Pubkey, mint: &Pubkey) -> Pubkey {
        let payer = self.payer();
        let ix = ata::instruction::create_associated_token_account_idempotent(&payer.pubkey(), owner, mint, &spl_token::ID);
        self.send(&[ix], &[]).await.expect("create ata");
        ata_of(owner, mint)
    }

    /// A funded wallet holding `collateral` base units in its collateral ATA.
    pub async fn user(&mut self, collateral: u64) -> Keypair {
        let user = Keypair::new();
        self.airdrop(&user.pubkey(), 1_000_000_000).await;
        self.fund(&user.pubkey(), collateral).await;
        user
    }

    pub async fn fund(&mut self, owner: &Pubkey, collateral: u64) -> Pubkey {
        let mint = self.collateral_mint;
        let account = self.ata(owner, &mint).await;
        if collateral > 0 {
            let authority = self.collateral_authority.insecure_clone();
            let ix = spl_token::instruction::mint_to(&spl_token::ID, &mint, &account, &authority.pubkey(), &[], collateral).unwrap();
            self.send(&[ix], &[&authority]).await.expect("fund");
        }
        account
    }

    pub fn collateral_ata(&self, owner: &Pubkey) -> Pubkey {
        ata_of(owner, &self.collateral_mint)
    }

    // ------------------------------------------------------------ reading state

    pub async fn raw(&mut self, key: &Pubkey) -> Option<solana_sdk::account::Account> {
        self.ctx.banks_client.get_account(*key).await.unwrap()
    }

    pub async fn balance(&mut self, token_account: &Pubkey) -> u64 {
        match self.raw(token_account).await {
            Some(a) => TokenAccount::try_deserialize(&mut &a.data[..]).expect("token account").amount,
            None => 0,
        }
    }

    pub async fn supply(&mut self, mint: &Pubkey) -> u64 {
        let a = self.raw(mint).await.expect("mint exists");
        Mint::try_deserialize(&mut &a.data[..]).expect("mint").supply
    }

    pub async fn market(&mut self, mk: &MarketKeys) -> Market {
        let a = self.raw(&mk.market).await.expect("market exists");
        Market::try_deserialize(&mut &a.data[..]).expect("market")
    }

    pub async fn order(&mut self, order: &Pubkey) -> Option<WalletOrder> {
        let a = self.raw(order).await?;
        if a.owner != outcome_market::ID {
            return None;
        }
        Some(WalletOrder::try_deserialize(&mut &a.data[..]).expect("order"))
    }

    pub async fn exchange(&mut self) -> outcome_market::state::Exchange {
        let a = self.raw(&exchange_pda()).await.expect("exchange");
        outcome_market::state::Exchange::try_deserialize(&mut &a.data[..]).unwrap()
    }

    pub async fn custody(&mut self) -> outcome_market::state::Custody {
        let a = self.raw(&custody_pda()).await.expect("custody");
        outcome_market::state::Custody::try_deserialize(&mut &a.data[..]).unwrap()
    }

    pub async fn clock(&mut self) -> Clock {
        self.ctx.banks_client.get_sysvar::<Clock>().await.unwrap()
    }

    pub async fn now(&mut self) -> i64 {
        self.clock().await.unix_timestamp
    }

    pub async fn advance_time(&mut self, secs: i64) {
        let mut clock = self.clock().await;
        clock.unix_timestamp += secs;
        self.ctx.set_sysvar(&clock);
    }

    pub async fn advance_slots(&mut self, n: u64) {
        let clock = self.clock().await;
        self.ctx.warp_to_slot(clock.slot + n).unwrap();
        // Keep the wall clock where the tests put it.
        let mut after = self.clock().await;
        after.unix_timestamp = after.unix_timestamp.max(clock.unix_timestamp);
        self.ctx.set_sysvar(&after);
    }

    // ------------------------------------------------------------ invariants

    /// Invariant 1: YES supply == NO supply == sets outstanding, and the vault holds
    /// sets × 1.000000 collateral until finalization, then at least what remains redeemable.
    pub async fn check_invariant_1(&mut self, mk: &MarketKeys) {
        let m = self.market(mk).await;
        let (yes, no, vault) = (self.supply(&mk.yes_mint).await, self.supply(&mk.no_mint).await, self.balance(&mk.vault).await);
        if m.status != outcome_market::state::MarketStatus::Finalized {
            assert_eq!(yes, m.sets_outstanding, "YES supply == sets");
            assert_eq!(no, m.sets_outstanding, "NO supply == sets");
            assert_eq!(vault, m.sets_outstanding, "vault == sets × 1.000000");
        } else {
            let redeemable = outcome_market::math::redemption(yes, no, m.yes_payout).unwrap();
            assert!(vault >= redeemable, "vault {vault} >= redeemable {redeemable}");
        }
    }

    // ------------------------------------------------------------ instruction builders

    pub fn initialize_ix(&self) -> Instruction {
        ix(
            acc::Initialize {
                admin: self.admin.pubkey(),
                program_data: program_data_pda(),
                exchange: exchange_pda(),
                custody: custody_pda(),
                collateral_mint: self.collateral_mint,
                custody_collateral: custody_collateral_pda(),
                treasury: self.treasury,
                token_program: spl_token::ID,
                system_program: anchor_lang::system_program::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::Initialize {
                args: InitializeArgs {
                    bridge_authority: self.bridge.pubkey(),
                    resolver_authority: self.resolver.pubkey(),
                    fee_rate_bps: FEE_RATE_BPS,
                    force_close_slots: FORCE_CLOSE_SLOTS,
                    dispute_window_secs: DISPUTE_WINDOW_SECS,
                },
            },
        )
    }

    pub fn create_market_ix(&self, mk: &MarketKeys, close_time: i64, tick_size: u64) -> Instruction {
        ix(
            acc::CreateMarket {
                admin: self.admin.pubkey(),
                exchange: exchange_pda(),
                market: mk.market,
                collateral_mint: self.collateral_mint,
                yes_mint: mk.yes_mint,
                no_mint: mk.no_mint,
                vault: mk.vault,
                custody: custody_pda(),
                custody_yes: mk.custody_yes,
                custody_no: mk.custody_no,
                token_program: spl_token::ID,
                system_program: anchor_lang::system_program::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::CreateMarket { ticker: mk.ticker.clone(), close_time, tick_size },
        )
    }

    /// A market closing in a day, one-cent tick.
    pub async fn create_market(&mut self, ticker: &str) -> MarketKeys {
        self.create_market_with_tick(ticker, 10_000).await
    }

    pub async fn create_market_with_tick(&mut self, ticker: &str, tick: u64) -> MarketKeys {
        let mk = MarketKeys::new(ticker);
        let close = self.now().await + 86_400;
        let admin = self.admin.insecure_clone();
        self.send(&[self.create_market_ix(&mk, close, tick)], &[&admin]).await.expect("create market");
        mk
    }

    pub fn admin_ix(&self, which: &str, mk: &MarketKeys) -> Instruction {
        let accounts = acc::MarketAdmin { admin: self.admin.pubkey(), exchange: exchange_pda(), market: mk.market, event_authority: event_authority_pda(), program: outcome_market::ID };
        match which {
            "halt" => ix(accounts, ixd::Halt {}),
            "resume" => ix(accounts, ixd::Resume {}),
            _ => panic!("unknown admin instruction {which}"),
        }
    }

    pub fn exchange_admin_ix(&self, which: &str) -> Instruction {
        let accounts = acc::AdminOnly { admin: self.admin.pubkey(), exchange: exchange_pda(), event_authority: event_authority_pda(), program: outcome_market::ID };
        match which {
            "pause" => ix(accounts, ixd::Pause {}),
            "unpause" => ix(accounts, ixd::Unpause {}),
            _ => panic!("unknown exchange instruction {which}"),
        }
    }

    pub fn close_market_ix(&self, closer: &Pubkey, mk: &MarketKeys) -> Instruction {
        ix(acc::CloseMarket { closer: *closer, exchange: exchange_pda(), market: mk.market, event_authority: event_authority_pda(), program: outcome_market::ID }, ixd::CloseMarket {})
    }

    pub fn determine_ix(&self, mk: &MarketKeys, yes_payout: u64) -> Instruction {
        ix(
            acc::Determine { resolver: self.resolver.pubkey(), exchange: exchange_pda(), market: mk.market, event_authority: event_authority_pda(), program: outcome_market::ID },
            ixd::Determine { yes_payout },
        )
    }

    pub fn finalize_ix(&self, mk: &MarketKeys) -> Instruction {
        ix(
            acc::Finalize { resolver: self.resolver.pubkey(), exchange: exchange_pda(), market: mk.market, vault: mk.vault, event_authority: event_authority_pda(), program: outcome_market::ID },
            ixd::Finalize {},
        )
    }

    /// Close, determine and finalize (after the dispute window) in one go.
    pub async fn resolve(&mut self, mk: &MarketKeys, yes_payout: u64) {
        let (admin, resolver) = (self.admin.insecure_clone(), self.resolver.insecure_clone());
        self.send(&[self.close_market_ix(&admin.pubkey(), mk)], &[&admin]).await.expect("close");
        self.send(&[self.determine_ix(mk, yes_payout)], &[&resolver]).await.expect("determine");
        self.advance_time(DISPUTE_WINDOW_SECS).await;
        self.send(&[self.finalize_ix(mk)], &[&resolver]).await.expect("finalize");
    }

    pub fn set_op_accounts(&self, user: &Pubkey, mk: &MarketKeys) -> acc::SetOperation {
        acc::SetOperation {
            user: *user,
            exchange: exchange_pda(),
            market: mk.market,
            user_collateral: self.collateral_ata(user),
            vault: mk.vault,
            yes_mint: mk.yes_mint,
            no_mint: mk.no_mint,
            user_yes: ata_of(user, &mk.yes_mint),
            user_no: ata_of(user, &mk.no_mint),
            token_program: spl_token::ID,
            event_authority: event_authority_pda(),
            program: outcome_market::ID,
        }
    }

    pub fn mint_set_ix(&self, user: &Pubkey, mk: &MarketKeys, amount: u64) -> Instruction {
        ix(self.set_op_accounts(user, mk), ixd::MintSet { amount })
    }

    pub fn merge_set_ix(&self, user: &Pubkey, mk: &MarketKeys, amount: u64) -> Instruction {
        ix(self.set_op_accounts(user, mk), ixd::MergeSet { amount })
    }

    /// Creates the user's YES/NO ATAs, then mints.
    pub async fn mint_set(&mut self, user: &Keypair, mk: &MarketKeys, amount: u64) -> TxResult {
        self.outcome_atas(&user.pubkey(), mk).await;
        self.send(&[self.mint_set_ix(&user.pubkey(), mk, amount)], &[user]).await
    }

    pub async fn outcome_atas(&mut self, owner: &Pubkey, mk: &MarketKeys) -> (Pubkey, Pubkey) {
        (self.ata(owner, &mk.yes_mint).await, self.ata(owner, &mk.no_mint).await)
    }

    pub fn redeem_ix(&self, user: &Pubkey, mk: &MarketKeys, yes_amount: u64, no_amount: u64) -> Instruction {
        ix(
            acc::Redeem {
                user: *user,
                exchange: exchange_pda(),
                market: mk.market,
                vault: mk.vault,
                yes_mint: mk.yes_mint,
                no_mint: mk.no_mint,
                user_yes: ata_of(user, &mk.yes_mint),
                user_no: ata_of(user, &mk.no_mint),
                user_collateral: self.collateral_ata(user),
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::Redeem { yes_amount, no_amount },
        )
    }

    pub fn custody_sets_accounts(&self, mk: &MarketKeys) -> acc::CustodySets {
        acc::CustodySets {
            bridge_authority: self.bridge.pubkey(),
            exchange: exchange_pda(),
            market: mk.market,
            custody: custody_pda(),
            custody_collateral: custody_collateral_pda(),
            vault: mk.vault,
            yes_mint: mk.yes_mint,
            no_mint: mk.no_mint,
            custody_yes: mk.custody_yes,
            custody_no: mk.custody_no,
            token_program: spl_token::ID,
            event_authority: event_authority_pda(),
            program: outcome_market::ID,
        }
    }

    pub fn custody_mint_set_ix(&self, mk: &MarketKeys, seq: u64, amount: u64) -> Instruction {
        ix(self.custody_sets_accounts(mk), ixd::CustodyMintSet { seq, amount })
    }

    /// `custody_mint_sets`: (seq, amount) records.
    pub fn custody_mint_sets_ix(&self, mk: &MarketKeys, records: &[(u64, u64)]) -> Instruction {
        let records = records.iter().map(|&(seq, amount)| outcome_market::SetArgs { seq, amount }).collect();
        ix(self.custody_sets_accounts(mk), ixd::CustodyMintSets { records })
    }

    pub fn custody_merge_sets_ix(&self, mk: &MarketKeys, records: &[(u64, u64)]) -> Instruction {
        let records = records.iter().map(|&(seq, amount)| outcome_market::SetArgs { seq, amount }).collect();
        ix(self.custody_sets_accounts(mk), ixd::CustodyMergeSets { records })
    }

    pub fn custody_merge_set_ix(&self, mk: &MarketKeys, seq: u64, amount: u64) -> Instruction {
        ix(self.custody_sets_accounts(mk), ixd::CustodyMergeSet { seq, amount })
    }

    pub fn custody_redeem_ix(&self, mk: &MarketKeys, seq: u64, yes_amount: u64, no_amount: u64) -> Instruction {
        ix(self.custody_sets_accounts(mk), ixd::CustodyRedeem { seq, yes_amount, no_amount })
    }

    pub fn custody_withdraw_ix(&self, mk: &MarketKeys, seq: u64, outcome: Outcome, amount: u64, destination: &Pubkey) -> Instruction {
        ix(
            acc::CustodyWithdraw {
                bridge_authority: self.bridge.pubkey(),
                exchange: exchange_pda(),
                market: mk.market,
                custody: custody_pda(),
                source: mk.custody(outcome),
                destination: *destination,
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::CustodyWithdraw { seq, outcome, amount },
        )
    }

    pub fn collateral_out_accounts(&self, destination: &Pubkey) -> acc::CustodyCollateralOut {
        acc::CustodyCollateralOut {
            bridge_authority: self.bridge.pubkey(),
            exchange: exchange_pda(),
            custody: custody_pda(),
            custody_collateral: custody_collateral_pda(),
            destination: *destination,
            token_program: spl_token::ID,
            event_authority: event_authority_pda(),
            program: outcome_market::ID,
        }
    }

    pub fn custody_withdraw_collateral_ix(&self, seq: u64, amount: u64, destination: &Pubkey) -> Instruction {
        ix(self.collateral_out_accounts(destination), ixd::CustodyWithdrawCollateral { seq, amount })
    }

    pub fn custody_sweep_ix(&self, seq: u64, amount: u64) -> Instruction {
        ix(self.collateral_out_accounts(&self.treasury), ixd::CustodySweep { seq, amount })
    }

    /// Collateral from the bridge authority's own collateral account into custody.
    pub fn custody_fund_ix(&self, seq: u64, amount: u64) -> Instruction {
        ix(
            acc::CustodyFund {
                bridge_authority: self.bridge.pubkey(),
                exchange: exchange_pda(),
                custody: custody_pda(),
                source: self.collateral_ata(&self.bridge.pubkey()),
                custody_collateral: custody_collateral_pda(),
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::CustodyFund { seq, amount },
        )
    }

    pub fn deposit_collateral_ix(&self, depositor: &Pubkey, amount: u64, account_ref: [u8; 16]) -> Instruction {
        ix(
            acc::DepositCollateral {
                depositor: *depositor,
                exchange: exchange_pda(),
                custody: custody_pda(),
                source: self.collateral_ata(depositor),
                custody_collateral: custody_collateral_pda(),
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::DepositCollateral { amount, account_ref },
        )
    }

    pub fn deposit_tokens_ix(&self, depositor: &Pubkey, mk: &MarketKeys, outcome: Outcome, amount: u64) -> Instruction {
        ix(
            acc::DepositTokens {
                depositor: *depositor,
                exchange: exchange_pda(),
                market: mk.market,
                source: ata_of(depositor, &mk.mint(outcome)),
                destination: mk.custody(outcome),
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::DepositTokens { outcome, amount, account_ref: [7u8; 16] },
        )
    }

    pub fn escrow_mint(&self, mk: &MarketKeys, side: OrderSide) -> Pubkey {
        match side {
            OrderSide::BuyYes | OrderSide::BuyNo => self.collateral_mint,
            OrderSide::SellYes => mk.yes_mint,
            OrderSide::SellNo => mk.no_mint,
        }
    }

    pub fn receive_mint(&self, mk: &MarketKeys, side: OrderSide) -> Pubkey {
        match side {
            OrderSide::BuyYes => mk.yes_mint,
            OrderSide::BuyNo => mk.no_mint,
            OrderSide::SellYes | OrderSide::SellNo => self.collateral_mint,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn place_order_ix(
        &self,
        owner: &Pubkey,
        mk: &MarketKeys,
        nonce: u64,
        side: OrderSide,
        limit_price: u64,
        size: u64,
        max_fee: u64,
    ) -> Instruction {
        let order = order_pda(&mk.market, owner, nonce);
        let escrow_mint = self.escrow_mint(mk, side);
        ix(
            acc::PlaceOrder {
                owner: *owner,
                exchange: exchange_pda(),
                market: mk.market,
                order,
                escrow_mint,
                escrow: escrow_pda(&order),
                source: ata_of(owner, &escrow_mint),
                token_program: spl_token::ID,
                system_program: anchor_lang::system_program::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::PlaceOrder { nonce, side, limit_price, size, max_fee },
        )
    }

    /// `settle_fill` naming the order now at `order` (see [`Env::order_id`]).
    #[allow(clippy::too_many_arguments)]
    pub fn settle_fill_ix(&self, mk: &MarketKeys, order: &Pubkey, owner: &Pubkey, side: OrderSide, seq: u64, size: u64, price: u64, fee: u64) -> Instruction {
        self.settle_fill_id_ix(mk, order, self.order_id(order), owner, side, seq, size, price, fee)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn settle_fill_id_ix(
        &self,
        mk: &MarketKeys,
        order: &Pubkey,
        order_id: u64,
        owner: &Pubkey,
        side: OrderSide,
        seq: u64,
        size: u64,
        price: u64,
        fee: u64,
    ) -> Instruction {
        ix(
            acc::SettleFill {
                bridge_authority: self.bridge.pubkey(),
                exchange: exchange_pda(),
                market: mk.market,
                custody: custody_pda(),
                order: *order,
                escrow: escrow_pda(order),
                custody_collateral: custody_collateral_pda(),
                custody_outcome: mk.custody(side_outcome(side)),
                wallet_account: ata_of(owner, &self.receive_mint(mk, side)),
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::SettleFill { seq, order_id, size, price, fee },
        )
    }

    /// `settle_fills`: several fills of the order now at `order`, as (seq, size, price, fee).
    pub fn settle_fills_ix(&self, mk: &MarketKeys, order: &Pubkey, owner: &Pubkey, side: OrderSide, fills: &[(u64, u64, u64, u64)]) -> Instruction {
        let mut ix_ = self.settle_fill_ix(mk, order, owner, side, 0, 0, 0, 0);
        let fills = fills.iter().map(|&(seq, size, price, fee)| outcome_market::FillArgs { seq, size, price, fee }).collect();
        ix_.data = ixd::SettleFills { order_id: self.order_id(order), fills }.data();
        ix_
    }

    pub fn close_order_ix(&self, mk: &MarketKeys, order: &Pubkey, owner: &Pubkey, side: OrderSide, seq: u64) -> Instruction {
        self.close_order_id_ix(mk, order, self.order_id(order), owner, side, seq)
    }

    pub fn close_order_id_ix(&self, mk: &MarketKeys, order: &Pubkey, order_id: u64, owner: &Pubkey, side: OrderSide, seq: u64) -> Instruction {
        ix(
            acc::CloseOrder {
                bridge_authority: self.bridge.pubkey(),
                exchange: exchange_pda(),
                market: mk.market,
                order: *order,
                owner: *owner,
                escrow: escrow_pda(order),
                refund_account: ata_of(owner, &self.escrow_mint(mk, side)),
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::CloseOrder { seq, order_id },
        )
    }

    pub fn request_cancel_ix(&self, order: &Pubkey, owner: &Pubkey) -> Instruction {
        ix(acc::RequestCancel { owner: *owner, exchange: exchange_pda(), order: *order, event_authority: event_authority_pda(), program: outcome_market::ID }, ixd::RequestCancel {})
    }

    pub fn force_close_ix(&self, mk: &MarketKeys, order: &Pubkey, owner: &Pubkey, side: OrderSide) -> Instruction {
        ix(
            acc::ForceClose {
                owner: *owner,
                exchange: exchange_pda(),
                order: *order,
                escrow: escrow_pda(order),
                refund_account: ata_of(owner, &self.escrow_mint(mk, side)),
                clock: solana_sdk::sysvar::clock::ID,
                token_program: spl_token::ID,
                event_authority: event_authority_pda(),
                program: outcome_market::ID,
            },
            ixd::ForceClose {},
        )
    }

    /// Gives custody `amount` sets of inventory: collateral deposited by a wallet and
    /// minted into custody's YES/NO with `seq`.
    pub async fn stock_custody(&mut self, mk: &MarketKeys, seq: u64, amount: u64) {
        let funder = self.user(amount).await;
        self.send(&[self.deposit_collateral_ix(&funder.pubkey(), amount, [1; 16])], &[&funder]).await.expect("deposit");
        let bridge = self.bridge.insecure_clone();
        self.send(&[self.custody_mint_set_ix(mk, seq, amount)], &[&bridge]).await.expect("custody_mint_set");
    }
}

async fn env_initialize(mut env: Env) -> Env {
    let admin = env.admin.insecure_clone();
    env.send(&[env.initialize_ix()], &[&admin]).await.expect("initialize");
    env
}

pub fn side_outcome(side: OrderSide) -> Outcome {
    match side {
        OrderSide::BuyYes | OrderSide::SellYes => Outcome::Yes,
        OrderSide::BuyNo | OrderSide::SellNo => Outcome::No,
    }
}
