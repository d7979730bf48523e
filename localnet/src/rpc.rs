//! Solana JSON-RPC over HTTP: request parsing, dispatch, and every method, answered in
//! the shapes (and with the error codes) a validator uses.
use std::str::FromStr;
use std::sync::Arc;

use anchor_lang::prelude::Pubkey;
use axum::{extract::State, routing::post, Router};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{json, Value};
use solana_sdk::{
    commitment_config::CommitmentLevel,
    hash::Hash,
    message::VersionedMessage,
    packet::PACKET_DATA_SIZE,
    signature::Signature,
    transaction::{TransactionError, VersionedTransaction},
};
use tokio::sync::Mutex;

use crate::chain::Chain;
use crate::encode;

type Shared = Arc<Mutex<Chain>>;

pub fn router(chain: Shared) -> Router {
    Router::new().route("/", post(handle)).with_state(chain)
}

/// A JSON-RPC error: code, message, optional data.
pub struct RpcError(i64, String, Option<Value>);

impl RpcError {
    fn invalid_params(msg: impl Into<String>) -> Self {
        RpcError(-32602, msg.into(), None)
    }
}

type RpcResult = Result<Value, RpcError>;

async fn handle(State(chain): State<Shared>, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let reply = match serde_json::from_str::<Value>(&body) {
        Err(_) => error_reply(Value::Null, RpcError(-32700, "Parse error".into(), None)),
        Ok(Value::Array(batch)) if !batch.is_empty() => {
            let mut out = Vec::with_capacity(batch.len());
            for request in batch {
                out.push(one(&chain, request).await);
            }
            Value::Array(out)
        }
        Ok(request) => one(&chain, request).await,
    };
    ([("content-type", "application/json")], reply.to_string()).into_response()
}

fn error_reply(id: Value, RpcError(code, message, data): RpcError) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "error": error, "id": id})
}

async fn one(chain: &Shared, request: Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error_reply(id, RpcError(-32600, "Invalid request".into(), None));
    };
    let params = match request.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p.clone(),
        Some(_) => return error_reply(id, RpcError::invalid_params("Invalid params: expected an array")),
    };
    let mut chain = chain.lock().await;
    match call(&mut chain, method, &params).await {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(e) => error_reply(id, e),
    }
}

// -- parameters ----------------------------------------------------------------------------

fn config(params: &[Value], index: usize) -> Value {
    params.get(index).cloned().filter(Value::is_object).unwrap_or(json!({}))
}

fn commitment(cfg: &Value) -> CommitmentLevel {
    match cfg.get("commitment").and_then(Value::as_str) {
        Some("processed") | Some("recent") | Some("single") => CommitmentLevel::Processed,
        Some("confirmed") | Some("singleGossip") => CommitmentLevel::Confirmed,
        _ => CommitmentLevel::Finalized,
    }
}

/// getTransaction and getSignaturesForAddress do not serve `processed`, as on a validator.
fn at_least_confirmed(level: CommitmentLevel) -> CommitmentLevel {
    match level {
        CommitmentLevel::Finalized => CommitmentLevel::Finalized,
        _ => CommitmentLevel::Confirmed,
    }
}

fn pubkey(params: &[Value], index: usize) -> Result<Pubkey, RpcError> {
    let s = params.get(index).and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("Invalid params: missing pubkey"))?;
    Pubkey::from_str(s).map_err(|_| RpcError::invalid_params("Invalid param: Invalid"))
}

fn signature(s: &Value) -> Result<Signature, RpcError> {
    s.as_str()
        .and_then(|s| Signature::from_str(s).ok())
        .ok_or_else(|| RpcError::invalid_params("Invalid param: Invalid"))
}

fn u64_param(params: &[Value], index: usize) -> Result<u64, RpcError> {
    params.get(index).and_then(Value::as_u64).ok_or_else(|| RpcError::invalid_params("Invalid params: expected an integer"))
}

fn data_slice(cfg: &Value) -> Option<(usize, usize)> {
    let s = cfg.get("dataSlice")?;
    Some((s.get("offset")?.as_u64()? as usize, s.get("length")?.as_u64()? as usize))
}

fn encoding(cfg: &Value) -> String {
    cfg.get("encoding").and_then(Value::as_str).unwrap_or("base64").to_string()
}

/// A wire transaction (base64 by default, base58 on request), size-checked like a validator.
fn decode_tx(params: &[Value]) -> Result<VersionedTransaction, RpcError> {
    let raw = params.get(0).and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("Invalid params: missing transaction"))?;
    let bytes = match config(params, 1).get("encoding").and_then(Value::as_str) {
        Some("base58") => bs58::decode(raw).into_vec().map_err(|e| RpcError::invalid_params(format!("invalid base58 encoding: {e}")))?,
        _ => B64.decode(raw).map_err(|e| RpcError::invalid_params(format!("invalid base64 encoding: {e}")))?,
    };
    if bytes.len() > PACKET_DATA_SIZE {
        return Err(RpcError::invalid_params(format!(
            "base64 encoded solana_transaction::versioned::VersionedTransaction too large: {} bytes (max: encoded/raw {}/{})",
            raw.len(),
            (PACKET_DATA_SIZE + 2) / 3 * 4,
            PACKET_DATA_SIZE
        )));
    }
    let tx: VersionedTransaction = bincode::deserialize(&bytes)
        .map_err(|e| RpcError::invalid_params(format!("failed to deserialize solana_transaction::versioned::VersionedTransaction: {e}")))?;
    if tx.signatures.is_empty() || tx.sanitize().is_err() {
        return Err(RpcError::invalid_params("invalid transaction: Transaction failed to sanitize accounts offsets correctly"));
    }
    if tx.verify_with_results().iter().any(|ok| !ok) {
        return Err(RpcError(-32003, "Transaction signature verification failure".into(), None));
    }
    Ok(tx)
}

fn context(chain: &Chain, value: Value) -> Value {
    json!({"context": {"slot": chain.slot, "apiVersion": "2.3.13"}, "value": value})
}

// -- methods -------------------------------------------------------------------------------

async fn call(chain: &mut Chain, method: &str, params: &[Value]) -> RpcResult {
    match method {
        "getHealth" => Ok(json!("ok")),
        "getVersion" => Ok(json!({"solana-core": "2.3.13", "feature-set": 3640012085u32})),
        "getGenesisHash" => Ok(json!(chain.genesis_hash.to_string())),
        "getSlot" => Ok(json!(chain.slot_at(commitment(&config(params, 0))))),
        "getBlockHeight" => Ok(json!(chain.slot_at(commitment(&config(params, 0))))),
        "getEpochInfo" => {
            let slot = chain.slot_at(commitment(&config(params, 0)));
            let schedule = chain.ctx.genesis_config().epoch_schedule.clone();
            let (epoch, slot_index) = schedule.get_epoch_and_slot_index(slot);
            Ok(json!({
                "absoluteSlot": slot, "blockHeight": slot, "epoch": epoch, "slotIndex": slot_index,
                "slotsInEpoch": schedule.get_slots_in_epoch(epoch), "transactionCount": chain.txs.len(),
            }))
        }
        "getLatestBlockhash" => {
            let (hash, last_valid) = chain.latest_blockhash();
            Ok(context(chain, json!({"blockhash": hash.to_string(), "lastValidBlockHeight": last_valid})))
        }
        "isBlockhashValid" => {
            let hash = params
                .get(0)
                .and_then(Value::as_str)
                .and_then(|s| Hash::from_str(s).ok())
                .ok_or_else(|| RpcError::invalid_params("Invalid param: Invalid"))?;
            Ok(context(chain, json!(chain.blockhash_valid(&hash))))
        }
        "getFeeForMessage" => {
            let raw = params.get(0).and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("Invalid params: missing message"))?;
            let bytes = B64.decode(raw).map_err(|e| RpcError::invalid_params(format!("invalid base64 encoding: {e}")))?;
            let message: VersionedMessage = bincode::deserialize(&bytes).map_err(|e| RpcError::invalid_params(format!("invalid message: {e}")))?;
            let fee = match message {
                VersionedMessage::Legacy(m) => chain.ctx.banks_client.get_fee_for_message(m).await.ok().flatten(),
                VersionedMessage::V0(m) => Some(5_000 * m.header.num_required_signatures as u64),
            };
            Ok(context(chain, json!(fee)))
        }
        "getMinimumBalanceForRentExemption" => {
            let size = u64_param(params, 0)? as usize;
            let rent = chain.ctx.banks_client.get_rent().await.map_err(|e| RpcError(-32603, e.to_string(), None))?;
            Ok(json!(rent.minimum_balance(size)))
        }
        "getBalance" => {
            let key = pubkey(params, 0)?;
            let level = commitment(&config(params, 1));
            let lamports = chain.account(&key, level).await.map(|a| a.lamports).unwrap_or(0);
            Ok(context(chain, json!(lamports)))
        }
        "getAccountInfo" => {
            let key = pubkey(params, 0)?;
            let cfg = config(params, 1);
            let account = chain.account(&key, commitment(&cfg)).await;
            let value = account.map(|a| encode::ui_account(&a, &encoding(&cfg), data_slice(&cfg))).unwrap_or(Value::Null);
            Ok(context(chain, value))
        }
        "getMultipleAccounts" => {
            let keys = params.get(0).and_then(Value::as_array).ok_or_else(|| RpcError::invalid_params("Invalid params: expected an array of pubkeys"))?;
            if keys.len() > 100 {
                return Err(RpcError::invalid_params("Too many inputs provided; max 100"));
            }
            let cfg = config(params, 1);
            let mut values = Vec::with_capacity(keys.len());
            for k in keys {
                let key = pubkey(std::slice::from_ref(k), 0)?;
                let account = chain.account(&key, commitment(&cfg)).await;
                values.push(account.map(|a| encode::ui_account(&a, &encoding(&cfg), data_slice(&cfg))).unwrap_or(Value::Null));
            }
            Ok(context(chain, Value::Array(values)))
        }
        "getProgramAccounts" => get_program_accounts(chain, params).await,
        "getTokenAccountBalance" => {
            let key = pubkey(params, 0)?;
            let level = commitment(&config(params, 1));
            let account = chain.account(&key, level).await;
            let (mint, _, amount) = account
                .as_ref()
                .and_then(encode::token_account_fields)
                .ok_or_else(|| RpcError::invalid_params("Invalid param: not a Token account"))?;
            let decimals = chain.account(&mint, level).await.as_ref().and_then(encode::mint_decimals).unwrap_or(0);
            Ok(context(chain, encode::ui_token_amount(amount, decimals)))
        }
        "getTokenSupply" => {
            let key = pubkey(params, 0)?;
            let account = chain.account(&key, commitment(&config(params, 1))).await;
            let (decimals, supply) = account
                .as_ref()
                .and_then(encode::mint_fields)
                .ok_or_else(|| RpcError::invalid_params("Invalid param: not a Token mint"))?;
            Ok(context(chain, encode::ui_token_amount(supply, decimals)))
        }
        "getTokenAccountsByOwner" => get_token_accounts_by_owner(chain, params).await,
        "requestAirdrop" => {
            let key = pubkey(params, 0)?;
            let lamports = u64_param(params, 1)?;
            let sig = chain.airdrop(&key, lamports).await.map_err(|e| RpcError(-32603, e, None))?;
            Ok(json!(sig.to_string()))
        }
        "sendTransaction" => send_transaction(chain, params).await,
        "simulateTransaction" => {
            let tx = decode_tx(params)?;
            let sim = chain.simulate(&tx).await.map_err(|e| RpcError(-32603, e.to_string(), None))?;
            // as a validator: inner instructions only on request (`innerInstructions: true`)
            let inner = if config(params, 1).get("innerInstructions").and_then(Value::as_bool).unwrap_or(false) {
                let (writable, readonly) = chain.loaded_addresses(&tx).await;
                let mut keys = tx.message.static_account_keys().to_vec();
                keys.extend(writable.into_iter().chain(readonly));
                encode::inner_instructions_decoded(&sim.inner, &keys)
            } else {
                Value::Null
            };
            Ok(context(chain, json!({
                "err": encode::tx_error(&sim.err), "logs": sim.logs, "accounts": null,
                "unitsConsumed": sim.units, "returnData": null, "innerInstructions": inner,
            })))
        }
        "getSignatureStatuses" => {
            let sigs = params.get(0).and_then(Value::as_array).ok_or_else(|| RpcError::invalid_params("Invalid params: expected an array of signatures"))?;
            if sigs.len() > 256 {
                return Err(RpcError::invalid_params("Too many inputs provided; max 256"));
            }
            let mut values = Vec::with_capacity(sigs.len());
            for s in sigs {
                let sig = signature(s)?;
                values.push(match chain.status(&sig) {
                    None => Value::Null,
                    Some(record) => {
                        let depth = chain.slot.saturating_sub(record.slot);
                        let (confirmations, status) = if depth >= chain.finality_lag {
                            (Value::Null, "finalized")
                        } else if depth >= 1 {
                            (json!(depth), "confirmed")
                        } else {
                            (json!(0), "processed")
                        };
                        let err = encode::tx_error(&record.err);
                        let status_obj = if record.err.is_none() { json!({"Ok": null}) } else { json!({"Err": err.clone()}) };
                        json!({"slot": record.slot, "confirmations": confirmations, "err": err, "status": status_obj, "confirmationStatus": status})
                    }
                });
            }
            Ok(context(chain, Value::Array(values)))
        }
        "getTransaction" => {
            let sig = params.get(0).ok_or_else(|| RpcError::invalid_params("Invalid params: missing signature")).and_then(signature)?;
            let cfg = config(params, 1);
            let visible = match chain.status(&sig) {
                Some(record) => record.slot <= chain.slot_at(at_least_confirmed(commitment(&cfg))),
                None => false,
            };
            if !visible {
                return Ok(Value::Null);
            }
            let record = chain.status(&sig).expect("checked");
            Ok(encode::transaction(record, cfg.get("encoding").and_then(Value::as_str).unwrap_or("json")))
        }
        "getSignaturesForAddress" => {
            let key = pubkey(params, 0)?;
            let cfg = config(params, 1);
            let limit = cfg.get("limit").and_then(Value::as_u64).unwrap_or(1000);
            if limit == 0 || limit > 1000 {
                return Err(RpcError::invalid_params("Invalid limit; max 1000"));
            }
            let before = cfg.get("before").filter(|v| !v.is_null()).map(signature).transpose()?;
            let until = cfg.get("until").filter(|v| !v.is_null()).map(signature).transpose()?;
            let max_slot = chain.slot_at(at_least_confirmed(commitment(&cfg)));
            let sigs = chain.by_address.get(&key).cloned().unwrap_or_default();
            let mut out = Vec::new();
            let mut started = before.is_none();
            for sig in sigs.iter().rev() {
                if !started {
                    started = Some(*sig) == before;
                    continue;
                }
                if Some(*sig) == until {
                    break;
                }
                let Some(record) = chain.status(sig) else { continue };
                if record.slot > max_slot {
                    continue;
                }
                let depth = chain.slot.saturating_sub(record.slot);
                let status = if depth >= chain.finality_lag { "finalized" } else { "confirmed" };
                out.push(json!({
                    "signature": sig.to_string(), "slot": record.slot, "err": encode::tx_error(&record.err),
                    "memo": null, "blockTime": record.block_time, "confirmationStatus": status,
                }));
                if out.len() as u64 >= limit {
                    break;
                }
            }
            Ok(Value::Array(out))
        }
        _ => Err(RpcError(-32601, "Method not found".into(), None)),
    }
}

async fn send_transaction(chain: &mut Chain, params: &[Value]) -> RpcResult {
    let tx = decode_tx(params)?;
    let cfg = config(params, 1);
    let sig = tx.signatures[0];
    if !chain.blockhash_valid(tx.message.recent_blockhash()) {
        return Err(RpcError(
            -32002,
            "Transaction simulation failed: Blockhash not found".into(),
            Some(json!({"err": "BlockhashNotFound", "logs": [], "accounts": null, "unitsConsumed": 0, "returnData": null})),
        ));
    }
    let skip_preflight = cfg.get("skipPreflight").and_then(Value::as_bool).unwrap_or(false);
    // A preflight of this very transaction is the run its execution repeats: its inner
    // instructions are the execution's (see `Chain::execute`), so they are not recorded twice.
    let mut preflight = None;
    if !skip_preflight {
        let mut sim = chain.simulate(&tx).await.map_err(|e| RpcError(-32603, e.to_string(), None))?;
        let mut of_this_transaction = true;
        if sim.err == Some(TransactionError::AlreadyProcessed) {
            // A validator's preflight ignores the status cache and runs a duplicate against
            // the current state; the bank's simulation does not, so run the same message
            // under another live blockhash (preflight does not check signatures).
            if let Some(other) = chain.blockhashes.iter().rev().map(|(h, _)| *h).find(|h| h != tx.message.recent_blockhash()) {
                let mut twin = tx.clone();
                twin.message.set_recent_blockhash(other);
                if let Ok(twin_sim) = chain.simulate(&twin).await {
                    sim = twin_sim;
                    of_this_transaction = false;
                }
            }
        }
        if let Some(err) = &sim.err {
            let n = sim.logs.len();
            return Err(RpcError(
                -32002,
                format!("Transaction simulation failed: Error processing Instruction: {err}; {n} log messages"),
                Some(json!({"err": encode::tx_error(&sim.err), "logs": sim.logs, "accounts": null, "unitsConsumed": sim.units, "returnData": null})),
            ));
        }
        if of_this_transaction {
            preflight = Some(sim);
        }
    }
    // A validator forwards a duplicate and the bank drops it: the signature comes back, nothing runs twice.
    if chain.status(&sig).is_some() {
        return Ok(json!(sig.to_string()));
    }
    match chain.execute_after(tx, preflight).await {
        Ok(_) => Ok(json!(sig.to_string())),
        // Refused before execution (e.g. the fee payer cannot pay): nothing lands.
        Err(e) => Err(RpcError(-32002, format!("Transaction simulation failed: {e}"), Some(json!({"err": e.to_string(), "logs": []})))),
    }
}

/// getProgramAccounts with dataSize and memcmp filters.
async fn get_program_accounts(chain: &mut Chain, params: &[Value]) -> RpcResult {
    let program = pubkey(params, 0)?;
    let cfg = config(params, 1);
    let filters = cfg.get("filters").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut parsed = Vec::with_capacity(filters.len());
    for f in &filters {
        if let Some(size) = f.get("dataSize").and_then(Value::as_u64) {
            parsed.push((None, Some(size as usize)));
        } else if let Some(m) = f.get("memcmp") {
            let offset = m.get("offset").and_then(Value::as_u64).ok_or_else(|| RpcError::invalid_params("Invalid params: memcmp offset"))? as usize;
            let raw = m.get("bytes").and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("Invalid params: memcmp bytes"))?;
            let bytes = match m.get("encoding").and_then(Value::as_str) {
                Some("base64") => B64.decode(raw).map_err(|_| RpcError::invalid_params("Invalid params: memcmp bytes"))?,
                _ => bs58::decode(raw).into_vec().map_err(|_| RpcError::invalid_params("Invalid params: memcmp bytes"))?,
            };
            parsed.push((Some((offset, bytes)), None));
        } else {
            return Err(RpcError::invalid_params("Invalid params: unknown filter"));
        }
    }
    let level = commitment(&cfg);
    let enc = encoding(&cfg);
    let slice = data_slice(&cfg);
    let mut out = Vec::new();
    for (key, account) in chain.owned_by(&program, level).await {
        let ok = parsed.iter().all(|(memcmp, size)| match (memcmp, size) {
            (_, Some(size)) => account.data.len() == *size,
            (Some((offset, bytes)), None) => account.data.get(*offset..*offset + bytes.len()) == Some(bytes.as_slice()),
            _ => true,
        });
        if ok {
            out.push(json!({"pubkey": key.to_string(), "account": encode::ui_account(&account, &enc, slice)}));
        }
    }
    let value = Value::Array(out);
    if cfg.get("withContext").and_then(Value::as_bool).unwrap_or(false) {
        Ok(context(chain, value))
    } else {
        Ok(value)
    }
}

/// getTokenAccountsByOwner with a {mint} or {programId} filter.
async fn get_token_accounts_by_owner(chain: &mut Chain, params: &[Value]) -> RpcResult {
    let owner = pubkey(params, 0)?;
    let filter = params.get(1).cloned().unwrap_or(Value::Null);
    let mint = filter.get("mint").map(|m| pubkey(std::slice::from_ref(m), 0)).transpose()?;
    let program = filter.get("programId").map(|p| pubkey(std::slice::from_ref(p), 0)).transpose()?;
    if mint.is_none() && program.is_none() {
        return Err(RpcError::invalid_params("Invalid params: expected a mint or programId filter"));
    }
    let cfg = config(params, 2);
    let level = commitment(&cfg);
    let program = program.unwrap_or(anchor_spl::token::ID);
    let enc = encoding(&cfg);
    let mut out = Vec::new();
    for (key, account) in chain.owned_by(&program, level).await {
        if let Some((m, o, _)) = encode::token_account_fields(&account) {
            if o == owner && mint.map_or(true, |want| want == m) {
                out.push(json!({"pubkey": key.to_string(), "account": encode::ui_account(&account, &enc, data_slice(&cfg))}));
            }
        }
    }
    Ok(context(chain, Value::Array(out)))
}
