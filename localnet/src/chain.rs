//! The chain: a solana-program-test bank with outcome_market loaded natively, plus
//! the history a validator's RPC serves and program-test does not keep: transactions
//! by signature and by address, account versions per slot (so `finalized` reads see
//! older state than `processed`), and every account key ever touched (program-test
//! cannot scan accounts, getProgramAccounts needs to).
use std::collections::{BTreeSet, HashMap};

use anchor_lang::prelude::{AccountInfo, Pubkey};
use solana_program_test::{BanksClientError, ProgramTest, ProgramTestContext};
use solana_sdk::{
    account::{Account, ReadableAccount},
    commitment_config::CommitmentLevel,
    hash::Hash,
    message::{inner_instruction::InnerInstruction, VersionedMessage},
    signature::{Signature, Signer},
    transaction::{TransactionError, VersionedTransaction},
};

/// A transaction as the RPC reports it.
#[derive(Clone)]
pub struct TxRecord {
    pub slot: u64,
    pub block_time: i64,
    pub tx: VersionedTransaction,
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub fee: u64,
    pub pre_balances: Vec<u64>,
    pub post_balances: Vec<u64>,
    pub pre_token: Vec<(usize, Account)>,
    pub post_token: Vec<(usize, Account)>,
    pub token_decimals: HashMap<Pubkey, u8>,
    pub compute_units: u64,
    /// Addresses a v0 message loaded through lookup tables (writable, then readonly), which
    /// follow the static keys in the transaction's account list.
    pub loaded_writable: Vec<Pubkey>,
    pub loaded_readonly: Vec<Pubkey>,
    /// The CPIs each top-level instruction made (one list per instruction, in order), as the
    /// runtime recorded them: what a validator serves as `meta.innerInstructions`.
    pub inner: Vec<Vec<InnerInstruction>>,
}

/// What a simulation (preflight) found.
pub struct Simulation {
    pub err: Option<TransactionError>,
    pub logs: Vec<String>,
    pub units: u64,
    /// Inner instructions per top-level instruction (empty lists when the transaction was
    /// refused before it ran).
    pub inner: Vec<Vec<InnerInstruction>>,
}

pub struct Chain {
    pub ctx: ProgramTestContext,
    pub slot: u64,
    pub finality_lag: u64,
    pub genesis_hash: Hash,
    /// Recent blockhashes with the slot they appeared in (newest last).
    pub blockhashes: Vec<(Hash, u64)>,
    pub txs: HashMap<Signature, TxRecord>,
    /// Signatures touching each address, oldest first.
    pub by_address: HashMap<Pubkey, Vec<Signature>>,
    /// Every account key ever seen, for scans.
    pub known: BTreeSet<Pubkey>,
    /// Versions written by our transactions: (slot, account or None when closed), oldest first.
    pub versions: HashMap<Pubkey, Vec<(u64, Option<Account>)>>,
    pub start_unix: i64,
    airdrops: u64,
}

/// Blockhashes stay valid for this many slots, as on a cluster.
pub const BLOCKHASH_VALID_SLOTS: u64 = 150;

// Anchor's generated `entry` ties the accounts slice lifetime to its items, which
// `processor!` cannot express. The slice outlives the call, so extending the borrow
// for its duration is sound; unlike the usual Box::leak workaround it does not leak
// memory in a long-running chain.
fn entry(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> anchor_lang::solana_program::entrypoint::ProgramResult {
    let accounts: &[AccountInfo] = unsafe { std::mem::transmute::<&[AccountInfo], &[AccountInfo]>(accounts) };
    outcome_market::entry(program_id, accounts, data)
}

/// The ProgramData account of a deployment of outcome_market whose upgrade authority is
/// `authority` (None: deployed immutable). The native program is a builtin, which has no
/// ProgramData, yet `initialize` is gated on the upgrade authority it names: localnet writes
/// it at genesis, at the address and in the layout the BPF upgradeable loader uses.
pub fn program_data_account(authority: Option<Pubkey>) -> (Pubkey, Account) {
    let loader = anchor_lang::solana_program::bpf_loader_upgradeable::ID;
    let address = Pubkey::find_program_address(&[outcome_market::ID.as_ref()], &loader).0;
    // bincode of UpgradeableLoaderState::ProgramData { slot, upgrade_authority_address }: enum tag
    // u32 3, slot u64, Option<Pubkey> as a 0/1 byte and the key (the ELF after it is not needed here)
    let mut data = 3u32.to_le_bytes().to_vec();
    data.extend_from_slice(&0u64.to_le_bytes());
    match authority {
        Some(key) => {
            data.push(1);
            data.extend_from_slice(key.as_ref());
        }
        None => data.push(0),
    }
    let account = Account { lamports: 1_000_000_000, data, owner: loader, executable: false, rent_epoch: 0 };
    (address, account)
}

impl Chain {
    pub async fn start(finality_lag: u64, upgrade_authority: Option<Pubkey>) -> Chain {
        let mut pt = ProgramTest::new("outcome_market", outcome_market::ID, native_events::processor_with_events!(entry));
        let (program_data, account) = program_data_account(upgrade_authority);
        pt.add_account(program_data, account);
        // An SBF build, where a machine has the toolchain, replaces the native program.
        if std::path::Path::new("target/deploy/outcome_market.so").exists() {
            std::env::set_var("BPF_OUT_DIR", "target/deploy");
            pt.prefer_bpf(true);
        }
        let ctx = pt.start_with_context().await;
        native_events::install();
        let genesis_hash = ctx.genesis_config().hash();
        let slot = ctx.banks_client.clone().get_root_slot().await.unwrap_or(0);
        let blockhash = ctx.last_blockhash;
        let mut chain = Chain {
            ctx,
            slot,
            finality_lag,
            genesis_hash,
            blockhashes: vec![(blockhash, slot)],
            txs: HashMap::new(),
            by_address: HashMap::new(),
            known: BTreeSet::new(),
            versions: HashMap::new(),
            airdrops: 0,
            start_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
        };
        chain.known.insert(chain.ctx.payer.pubkey());
        chain
    }

    /// One slot on: a new bank and a new blockhash; old blockhashes age out.
    pub async fn advance_slot(&mut self) {
        let next = self.slot + 1;
        if self.ctx.warp_to_slot(next).is_ok() {
            self.slot = next;
            if let Ok(hash) = self.ctx.banks_client.get_latest_blockhash().await {
                if self.blockhashes.last().map(|(h, _)| *h) != Some(hash) {
                    self.blockhashes.push((hash, self.slot));
                }
            }
            let oldest = self.slot.saturating_sub(BLOCKHASH_VALID_SLOTS);
            self.blockhashes.retain(|(_, s)| *s >= oldest);
        }
    }

    pub fn latest_blockhash(&self) -> (Hash, u64) {
        let (hash, slot) = *self.blockhashes.last().expect("a blockhash");
        (hash, slot + BLOCKHASH_VALID_SLOTS)
    }

    pub fn blockhash_valid(&self, hash: &Hash) -> bool {
        self.blockhashes.iter().any(|(h, _)| h == hash)
    }

    /// The slot a commitment level reads at.
    pub fn slot_at(&self, level: CommitmentLevel) -> u64 {
        match level {
            CommitmentLevel::Processed => self.slot,
            CommitmentLevel::Confirmed => self.slot.saturating_sub(1),
            CommitmentLevel::Finalized => self.slot.saturating_sub(self.finality_lag),
        }
    }

    pub fn block_time(&self, slot: u64) -> i64 {
        self.start_unix + (slot as i64) * 400 / 1000
    }

    /// An account as of `level`: the newest version at or below its slot; accounts our
    /// transactions never wrote come from the bank (genesis state).
    pub async fn account(&mut self, key: &Pubkey, level: CommitmentLevel) -> Option<Account> {
        let at = self.slot_at(level);
        if let Some(versions) = self.versions.get(key) {
            if let Some((_, acc)) = versions.iter().rev().find(|(s, _)| *s <= at) {
                return acc.clone();
            }
        }
        self.bank_account(key).await
    }

    pub async fn bank_account(&mut self, key: &Pubkey) -> Option<Account> {
        self.ctx.banks_client.get_account(*key).await.ok().flatten()
    }

    fn record_version(&mut self, key: Pubkey, account: Option<Account>) {
        self.known.insert(key);
        let slot = self.slot;
        let versions = self.versions.entry(key).or_default();
        if let Some(last) = versions.last_mut() {
            if last.0 == slot {
                last.1 = account;
                return;
            }
        }
        versions.push((slot, account));
        // Only versions a finalized read can still need are kept.
        let keep_from = slot.saturating_sub(self.finality_lag + 1);
        while versions.len() > 1 && versions[1].0 <= keep_from {
            versions.remove(0);
        }
    }

    /// requestAirdrop: a real transfer from the faucet (program-test's funded payer),
    /// so the airdrop has a signature, a status and a transaction like on a cluster.
    pub async fn airdrop(&mut self, key: &Pubkey, lamports: u64) -> Result<Signature, String> {
        self.airdrops += 1;
        let payer = self.ctx.payer.insecure_clone();
        let (blockhash, _) = self.latest_blockhash();
        let tx = solana_sdk::transaction::Transaction::new_signed_with_payer(
            &[
                // Makes each airdrop a distinct transaction even for the same target and amount.
                solana_sdk::compute_budget::ComputeBudgetInstruction::set_compute_unit_price(self.airdrops),
                solana_sdk::system_instruction::transfer(&payer.pubkey(), key, lamports),
            ],
            Some(&payer.pubkey()),
            &[&payer],
            blockhash,
        );
        let record = self.execute(tx.into()).await.map_err(|e| e.to_string())?;
        match record.err {
            None => Ok(record.tx.signatures[0]),
            Some(err) => Err(format!("airdrop failed: {err}")),
        }
    }

    /// Runs the transaction against the current bank without committing it. The bank is the
    /// one `execute` commits to (program-test keeps every commitment level on the working
    /// bank, and nothing else runs between the two while the chain is locked), so a
    /// simulation right before an execution is the same run.
    pub async fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BanksClientError> {
        let result = self.ctx.banks_client.simulate_transaction_with_commitment(tx.clone(), CommitmentLevel::Processed).await?;
        let (logs, units, inner) = result
            .simulation_details
            .map(|d| (d.logs, d.units_consumed, d.inner_instructions.unwrap_or_default()))
            .unwrap_or_default();
        Ok(Simulation { err: result.result.and_then(|r| r.err()), logs, units, inner })
    }

    /// The addresses a v0 message loads through its lookup tables (writable, readonly), read
    /// from the tables as they are now; empty for legacy messages or unknown tables (the
    /// runtime then refuses the transaction anyway).
    pub async fn loaded_addresses(&mut self, tx: &VersionedTransaction) -> (Vec<Pubkey>, Vec<Pubkey>) {
        use solana_sdk::address_lookup_table::state::AddressLookupTable;
        let (mut writable, mut readonly) = (Vec::new(), Vec::new());
        for lookup in tx.message.address_table_lookups().unwrap_or_default() {
            let Some(table) = self.bank_account(&lookup.account_key).await else { continue };
            let Ok(table) = AddressLookupTable::deserialize(&table.data) else { continue };
            let pick = |indexes: &[u8]| indexes.iter().filter_map(|i| table.addresses.get(*i as usize).copied()).collect::<Vec<_>>();
            writable.extend(pick(&lookup.writable_indexes));
            readonly.extend(pick(&lookup.readonly_indexes));
        }
        (writable, readonly)
    }

    /// Executes a transaction in the current slot and records it, with its inner instructions.
    /// program-test's banks interface returns none for a processed transaction (its runtime
    /// records them only when simulating), so they come from a simulation of the same
    /// transaction on the same state: `preflight` when the caller just ran one, else one here.
    pub async fn execute(&mut self, tx: VersionedTransaction) -> Result<TxRecord, BanksClientError> {
        self.execute_after(tx, None).await
    }

    pub async fn execute_after(&mut self, tx: VersionedTransaction, preflight: Option<Simulation>) -> Result<TxRecord, BanksClientError> {
        let sim = match preflight {
            Some(sim) => sim,
            None => self.simulate(&tx).await?,
        };
        // The simulation's log is cut at 10 kB ("Log truncated") as a validator cuts a
        // transaction's log; program-test's processing path keeps it whole. Served: the cut one.
        let (inner, cut_logs) = (sim.inner, sim.logs);
        // every account the transaction loads, in the runtime's order: static keys, then the
        // lookup tables' writable and readonly addresses
        let (loaded_writable, loaded_readonly) = self.loaded_addresses(&tx).await;
        let mut keys: Vec<Pubkey> = tx.message.static_account_keys().to_vec();
        keys.extend(loaded_writable.iter().chain(loaded_readonly.iter()).copied());
        for key in &keys {
            if !self.versions.contains_key(key) {
                // The state before our first write stands for every earlier slot.
                let before = self.bank_account(key).await;
                self.versions.insert(*key, vec![(0, before)]);
            }
        }
        let (pre_balances, pre_token, mut decimals) = self.snapshot(&keys).await;
        let fee = self
            .ctx
            .banks_client
            .get_fee_for_message(match &tx.message {
                VersionedMessage::Legacy(m) => m.clone(),
                VersionedMessage::V0(_) => Default::default(),
            })
            .await
            .ok()
            .flatten()
            .unwrap_or(5_000 * tx.signatures.len() as u64);
        let outcome = self.ctx.banks_client.process_transaction_with_metadata(tx.clone()).await?;
        let (post_balances, post_token, post_decimals) = self.snapshot(&keys).await;
        decimals.extend(post_decimals);
        for key in &keys {
            let account = self.bank_account(key).await;
            self.record_version(*key, account);
        }
        let (logs, units) = outcome
            .metadata
            .map(|m| (m.log_messages, m.compute_units_consumed))
            .unwrap_or_default();
        let logs = if cut_logs.is_empty() { logs } else { cut_logs };
        let record = TxRecord {
            slot: self.slot,
            block_time: self.block_time(self.slot),
            tx: tx.clone(),
            err: outcome.result.err(),
            logs,
            fee,
            pre_balances,
            post_balances,
            pre_token,
            post_token,
            token_decimals: decimals,
            compute_units: units,
            loaded_writable,
            loaded_readonly,
            inner,
        };
        let sig = tx.signatures[0];
        for key in keys {
            self.by_address.entry(key).or_default().push(sig);
        }
        self.txs.insert(sig, record.clone());
        Ok(record)
    }

    /// Balances of `keys` and their SPL token accounts, with the decimals of their mints.
    async fn snapshot(&mut self, keys: &[Pubkey]) -> (Vec<u64>, Vec<(usize, Account)>, HashMap<Pubkey, u8>) {
        let mut balances = Vec::with_capacity(keys.len());
        let mut tokens = Vec::new();
        let mut decimals = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            let account = self.bank_account(key).await;
            balances.push(account.as_ref().map(|a| a.lamports).unwrap_or(0));
            if let Some(account) = account {
                if let Some((mint, _, _)) = crate::encode::token_account_fields(&account) {
                    if !decimals.contains_key(&mint) {
                        if let Some(m) = self.bank_account(&mint).await {
                            if let Some(d) = crate::encode::mint_decimals(&m) {
                                decimals.insert(mint, d);
                            }
                        }
                    }
                    tokens.push((i, account));
                }
            }
        }
        (balances, tokens, decimals)
    }

    /// Status of a signature: (slot, err) if known.
    pub fn status(&self, sig: &Signature) -> Option<&TxRecord> {
        self.txs.get(sig)
    }

    /// Every known key, with its account as of `level`, owned by `owner`.
    pub async fn owned_by(&mut self, owner: &Pubkey, level: CommitmentLevel) -> Vec<(Pubkey, Account)> {
        let keys: Vec<Pubkey> = self.known.iter().copied().collect();
        let mut out = Vec::new();
        for key in keys {
            if let Some(acc) = self.account(&key, level).await {
                if acc.owner() == owner {
                    out.push((key, acc));
                }
            }
        }
        out
    }
}
