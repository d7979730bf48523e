//! Validator-shaped JSON for accounts, token amounts, errors and transactions.
use std::collections::HashMap;

use anchor_lang::prelude::Pubkey;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde_json::{json, Value};
use solana_sdk::{
    account::Account,
    message::{inner_instruction::InnerInstruction, VersionedMessage},
    transaction::TransactionError,
};

use crate::chain::TxRecord;

const TOKEN_PROGRAMS: [Pubkey; 2] = [anchor_spl::token::ID, solana_sdk::pubkey!("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")];

/// (mint, owner, amount) of an SPL token account.
pub fn token_account_fields(account: &Account) -> Option<(Pubkey, Pubkey, u64)> {
    if !TOKEN_PROGRAMS.contains(&account.owner) || account.data.len() < 165 || account.data.len() == 82 {
        return None;
    }
    let d = &account.data;
    let mint = Pubkey::try_from(&d[0..32]).ok()?;
    let owner = Pubkey::try_from(&d[32..64]).ok()?;
    let amount = u64::from_le_bytes(d[64..72].try_into().ok()?);
    Some((mint, owner, amount))
}

/// (decimals, supply) of an SPL mint.
pub fn mint_fields(account: &Account) -> Option<(u8, u64)> {
    if !TOKEN_PROGRAMS.contains(&account.owner) || account.data.len() < 82 || account.data.len() == 165 {
        return None;
    }
    let supply = u64::from_le_bytes(account.data[36..44].try_into().ok()?);
    Some((account.data[44], supply))
}

pub fn mint_decimals(account: &Account) -> Option<u8> {
    mint_fields(account).map(|(d, _)| d)
}

pub fn ui_token_amount(amount: u64, decimals: u8) -> Value {
    let ui = amount as f64 / 10f64.powi(decimals as i32);
    let s = if decimals == 0 {
        amount.to_string()
    } else {
        let scale = 10u64.pow(decimals as u32);
        let frac = format!("{:0width$}", amount % scale, width = decimals as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { (amount / scale).to_string() } else { format!("{}.{}", amount / scale, frac) }
    };
    json!({"amount": amount.to_string(), "decimals": decimals, "uiAmount": ui, "uiAmountString": s})
}

/// An account in `encoding` (base64, base58, base64+zstd is answered as base64), with an optional dataSlice.
pub fn ui_account(account: &Account, encoding: &str, slice: Option<(usize, usize)>) -> Value {
    let mut data: &[u8] = &account.data;
    if let Some((offset, length)) = slice {
        let start = offset.min(data.len());
        let end = (start + length).min(data.len());
        data = &data[start..end];
    }
    let data = match encoding {
        "base58" => json!([bs58::encode(data).into_string(), "base58"]),
        _ => json!([B64.encode(data), "base64"]),
    };
    json!({
        "data": data,
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": account.owner.to_string(),
        "rentEpoch": u64::MAX,
        "space": account.data.len(),
    })
}

pub fn tx_error(err: &Option<TransactionError>) -> Value {
    match err {
        None => Value::Null,
        Some(e) => serde_json::to_value(e).unwrap_or_else(|_| json!(e.to_string())),
    }
}

fn token_balances(entries: &[(usize, Account)], decimals: &HashMap<Pubkey, u8>) -> Value {
    Value::Array(
        entries
            .iter()
            .filter_map(|(index, account)| {
                let (mint, owner, amount) = token_account_fields(account)?;
                Some(json!({
                    "accountIndex": index,
                    "mint": mint.to_string(),
                    "owner": owner.to_string(),
                    "programId": account.owner.to_string(),
                    "uiTokenAmount": ui_token_amount(amount, *decimals.get(&mint).unwrap_or(&0)),
                }))
            })
            .collect(),
    )
}

/// `meta.innerInstructions` as a validator serves it in getTransaction (`json` and `base64`
/// alike): one entry per top-level instruction that made CPIs, in order, each CPI compiled
/// against the transaction's account list (static keys, then loaded addresses), data base58.
pub fn inner_instructions(inner: &[Vec<InnerInstruction>]) -> Value {
    Value::Array(
        inner
            .iter()
            .enumerate()
            .filter(|(_, list)| !list.is_empty())
            .map(|(index, list)| {
                json!({
                    "index": index,
                    "instructions": list.iter().map(|i| json!({
                        "programIdIndex": i.instruction.program_id_index,
                        "accounts": i.instruction.accounts,
                        "data": bs58::encode(&i.instruction.data).into_string(),
                        "stackHeight": i.stack_height,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// simulateTransaction's `innerInstructions`: the same entries with each CPI partially
/// decoded (program and accounts as addresses), the form a validator uses there for
/// programs it does not parse.
pub fn inner_instructions_decoded(inner: &[Vec<InnerInstruction>], keys: &[Pubkey]) -> Value {
    let key = |i: u8| keys.get(i as usize).map(|k| k.to_string()).unwrap_or_default();
    Value::Array(
        inner
            .iter()
            .enumerate()
            .filter(|(_, list)| !list.is_empty())
            .map(|(index, list)| {
                json!({
                    "index": index,
                    "instructions": list.iter().map(|i| json!({
                        "programId": key(i.instruction.program_id_index),
                        "accounts": i.instruction.accounts.iter().map(|a| key(*a)).collect::<Vec<_>>(),
                        "data": bs58::encode(&i.instruction.data).into_string(),
                        "stackHeight": i.stack_height,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// getTransaction's result in the `json` (or `base64`) encoding.
pub fn transaction(record: &TxRecord, encoding: &str) -> Value {
    let message = &record.tx.message;
    let header = message.header();
    let transaction = if encoding == "base64" {
        json!([B64.encode(bincode::serialize(&record.tx).unwrap_or_default()), "base64"])
    } else {
        let instructions: Vec<Value> = message
            .instructions()
            .iter()
            .map(|ix| json!({
                "programIdIndex": ix.program_id_index,
                "accounts": ix.accounts,
                "data": bs58::encode(&ix.data).into_string(),
                "stackHeight": null,
            }))
            .collect();
        let mut msg = json!({
            "accountKeys": message.static_account_keys().iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "header": {
                "numRequiredSignatures": header.num_required_signatures,
                "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
            },
            "instructions": instructions,
            "recentBlockhash": message.recent_blockhash().to_string(),
        });
        if let VersionedMessage::V0(v0) = message {
            msg["addressTableLookups"] = Value::Array(
                v0.address_table_lookups
                    .iter()
                    .map(|l| json!({
                        "accountKey": l.account_key.to_string(),
                        "writableIndexes": l.writable_indexes,
                        "readonlyIndexes": l.readonly_indexes,
                    }))
                    .collect(),
            );
        }
        json!({
            "signatures": record.tx.signatures.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "message": msg,
        })
    };
    let status = match &record.err {
        None => json!({"Ok": null}),
        Some(_) => json!({"Err": tx_error(&record.err)}),
    };
    let version = match message {
        VersionedMessage::Legacy(_) => json!("legacy"),
        VersionedMessage::V0(_) => json!(0),
    };
    json!({
        "slot": record.slot,
        "blockTime": record.block_time,
        "version": version,
        "transaction": transaction,
        "meta": {
            "err": tx_error(&record.err),
            "status": status,
            "fee": record.fee,
            "preBalances": record.pre_balances,
            "postBalances": record.post_balances,
            "innerInstructions": inner_instructions(&record.inner),
            "logMessages": record.logs,
            "preTokenBalances": token_balances(&record.pre_token, &record.token_decimals),
            "postTokenBalances": token_balances(&record.post_token, &record.token_decimals),
            "rewards": [],
            "loadedAddresses": {
                "writable": record.loaded_writable.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                "readonly": record.loaded_readonly.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            },
            "computeUnitsConsumed": record.compute_units,
        },
    })
}
