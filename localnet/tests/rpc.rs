//! The localnet binary over raw HTTP JSON-RPC: shapes, error codes, and that bad input
//! never takes the chain down.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

struct Localnet {
    child: Child,
    port: u16,
}

impl Drop for Localnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The upgrade authority the tests start localnet with.
const UPGRADE_AUTHORITY: &str = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";

fn start() -> Localnet {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["--port", &port.to_string(), "--slot-ms", "50", "--finality-lag", "3", "--upgrade-authority", UPGRADE_AUTHORITY])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("localnet starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("localnet printed its ready line").unwrap();
        if line.contains("listening on") {
            break;
        }
    }
    Localnet { child, port }
}

fn post(port: u16, body: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split("\r\n\r\n").nth(1).expect("an HTTP body");
    serde_json::from_str(body).expect("a JSON body")
}

fn call(port: u16, method: &str, params: Value) -> Value {
    post(port, &json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string())
}

#[test]
fn serves_validator_shapes_and_error_codes() {
    let net = start();
    let version = call(net.port, "getVersion", json!([]));
    assert_eq!(version["id"], 7);
    assert!(version["result"]["solana-core"].is_string());
    assert_eq!(call(net.port, "getHealth", json!([]))["result"], "ok");

    let hash = call(net.port, "getLatestBlockhash", json!([]));
    assert!(hash["result"]["context"]["slot"].is_u64());
    let blockhash = hash["result"]["value"]["blockhash"].as_str().unwrap().to_string();
    assert_eq!(call(net.port, "isBlockhashValid", json!([blockhash]))["result"]["value"], true);

    // Airdrop lands as a real transaction, visible with a status.
    let key = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";
    let sig = call(net.port, "requestAirdrop", json!([key, 2_000_000_000u64]))["result"].as_str().unwrap().to_string();
    assert_eq!(call(net.port, "getBalance", json!([key, {"commitment": "processed"}]))["result"]["value"], 2_000_000_000u64);
    let status = &call(net.port, "getSignatureStatuses", json!([[sig]]))["result"]["value"][0];
    assert!(status["slot"].is_u64() && status["err"].is_null());

    // Finalized reads trail the head: right after the airdrop, finalized has not seen it.
    let other = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T";
    let airdrop = call(net.port, "requestAirdrop", json!([other, 1_000_000_000u64]));
    assert!(airdrop["result"].is_string(), "{airdrop}");
    assert_eq!(call(net.port, "getBalance", json!([other, {"commitment": "finalized"}]))["result"]["value"], 0);
    assert_eq!(call(net.port, "getBalance", json!([other, {"commitment": "processed"}]))["result"]["value"], 1_000_000_000u64);

    assert_eq!(post(net.port, "{not json")["error"]["code"], -32700);
    assert_eq!(call(net.port, "noSuchMethod", json!([]))["error"]["code"], -32601);
    assert_eq!(call(net.port, "getBalance", json!(["not-a-key"]))["error"]["code"], -32602);
    assert_eq!(post(net.port, r#"{"jsonrpc":"2.0","id":1}"#)["error"]["code"], -32600);
}

#[test]
fn garbage_and_oversize_transactions_are_refused_and_the_chain_keeps_serving() {
    let net = start();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for raw in [vec![0u8; 3], vec![1u8; 200], vec![7u8; 4000]] {
        let reply = call(net.port, "sendTransaction", json!([b64.encode(&raw), {"encoding": "base64"}]));
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
    }
    assert_eq!(call(net.port, "sendTransaction", json!(["%%%"]))["error"]["code"], -32602);
    let slot = call(net.port, "getSlot", json!([{"commitment": "processed"}]))["result"].as_u64().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let later = call(net.port, "getSlot", json!([{"commitment": "processed"}]))["result"].as_u64().unwrap();
    assert!(later > slot, "slots advance on the clock");
}

#[test]
fn the_program_data_account_names_the_upgrade_authority() {
    let net = start();
    // ProgramData PDA of outcome_market under the BPF upgradeable loader
    let loader = anchor_lang::solana_program::bpf_loader_upgradeable::ID;
    let program_data = anchor_lang::prelude::Pubkey::find_program_address(&[outcome_market::ID.as_ref()], &loader).0;
    let reply = call(net.port, "getAccountInfo", json!([program_data.to_string(), {"encoding": "base64"}]));
    let value = &reply["result"]["value"];
    assert_eq!(value["owner"], loader.to_string(), "{reply}");
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.decode(value["data"][0].as_str().unwrap()).unwrap();
    let state: anchor_lang::prelude::ProgramData =
        anchor_lang::AccountDeserialize::try_deserialize(&mut &data[..]).expect("a ProgramData account");
    assert_eq!(state.upgrade_authority_address.map(|k| k.to_string()).as_deref(), Some(UPGRADE_AUTHORITY));
}

// ---------------------------------------------------------------- inner instructions

use solana_sdk::{
    instruction::Instruction,
    pubkey::Pubkey,
    signature::{Keypair, Signer},
    transaction::Transaction,
};

fn send_tx(port: u16, tx: &Transaction) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.encode(bincode::serialize(tx).unwrap());
    let reply = call(port, "sendTransaction", json!([raw, {"encoding": "base64"}]));
    reply["result"].as_str().unwrap_or_else(|| panic!("sent: {reply}")).to_string()
}

fn blockhash(port: u16) -> solana_sdk::hash::Hash {
    let reply = call(port, "getLatestBlockhash", json!([]));
    reply["result"]["value"]["blockhash"].as_str().unwrap().parse().unwrap()
}

/// getTransaction once the transaction is confirmed.
fn confirmed_tx(port: u16, sig: &str, encoding: &str) -> Value {
    for _ in 0..200 {
        let reply = call(port, "getTransaction", json!([sig, {"encoding": encoding, "commitment": "confirmed", "maxSupportedTransactionVersion": 0}]));
        if !reply["result"].is_null() {
            return reply["result"].clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{sig} never confirmed");
}

fn start_with_authority(authority: &Pubkey) -> Localnet {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["--port", &port.to_string(), "--slot-ms", "50", "--finality-lag", "3", "--upgrade-authority", &authority.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("localnet starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !lines.next().expect("a ready line").unwrap().contains("listening on") {}
    // the native program's `msg!` goes to stdout: keep reading it, or its writes fail
    std::thread::spawn(move || lines.for_each(drop));
    Localnet { child, port }
}

/// (program id, accounts, data, stack height) of each inner instruction of top-level instruction `index`.
fn inner_of(result: &Value, index: u64) -> Vec<(String, Vec<String>, Vec<u8>, u64)> {
    let meta = &result["meta"];
    let mut keys: Vec<String> = result["transaction"]["message"]["accountKeys"].as_array().map(|a| a.iter().map(|k| k.as_str().unwrap().to_string()).collect()).unwrap_or_default();
    for part in ["writable", "readonly"] {
        keys.extend(meta["loadedAddresses"][part].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()));
    }
    let entry = meta["innerInstructions"].as_array().unwrap().iter().find(|e| e["index"] == index).expect("an entry for the instruction");
    entry["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let key = |v: &Value| keys[v.as_u64().unwrap() as usize].clone();
            (
                key(&i["programIdIndex"]),
                i["accounts"].as_array().unwrap().iter().map(key).collect(),
                bs58::decode(i["data"].as_str().unwrap()).into_vec().unwrap(),
                i["stackHeight"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn get_transaction_serves_inner_instructions_as_a_validator_does() {
    use anchor_lang::{InstructionData, ToAccountMetas};
    use anchor_spl::associated_token::spl_associated_token_account as ata;
    use anchor_spl::token::spl_token;
    let admin = Keypair::new();
    let net = start_with_authority(&admin.pubkey());
    let a = admin.pubkey();
    call(net.port, "requestAirdrop", json!([a.to_string(), 10_000_000_000u64]));

    // a collateral mint, and the treasury's associated token account (the ATA program's CPIs)
    let mint = Keypair::new();
    let rent = 1_461_600;
    let treasury = ata::get_associated_token_address(&a, &mint.pubkey());
    let setup: Vec<Instruction> = vec![
        solana_sdk::system_instruction::create_account(&a, &mint.pubkey(), rent, 82, &spl_token::ID),
        spl_token::instruction::initialize_mint2(&spl_token::ID, &mint.pubkey(), &a, None, 6).unwrap(),
        ata::instruction::create_associated_token_account(&a, &a, &mint.pubkey(), &spl_token::ID),
    ];
    let tx = Transaction::new_signed_with_payer(&setup, Some(&a), &[&admin, &mint], blockhash(net.port));
    let setup_sig = send_tx(net.port, &tx);
    let result = confirmed_tx(net.port, &setup_sig, "json");
    assert!(result["meta"]["err"].is_null(), "{result}");
    let entries = result["meta"]["innerInstructions"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only the ATA instruction made CPIs: {entries:?}");
    let ata_cpis = inner_of(&result, 2);
    let programs: Vec<&str> = ata_cpis.iter().map(|(p, ..)| p.as_str()).collect();
    assert!(programs.contains(&spl_token::ID.to_string().as_str()) && programs.contains(&"11111111111111111111111111111111"), "{programs:?}");
    assert!(ata_cpis.iter().all(|(.., h)| *h == 2), "CPIs of a top-level instruction are at stack height 2");

    // initialize: the program's account creations (system and token CPIs), then its event as a self-CPI
    let pda = |seeds: &[&[u8]]| Pubkey::find_program_address(seeds, &outcome_market::ID).0;
    let event_authority = pda(&[b"__event_authority"]);
    let loader = anchor_lang::solana_program::bpf_loader_upgradeable::ID;
    let accounts = outcome_market::accounts::Initialize {
        admin: a,
        program_data: Pubkey::find_program_address(&[outcome_market::ID.as_ref()], &loader).0,
        exchange: pda(&[b"exchange"]),
        custody: pda(&[b"custody"]),
        collateral_mint: mint.pubkey(),
        custody_collateral: pda(&[b"custody_collateral"]),
        treasury,
        token_program: spl_token::ID,
        system_program: anchor_lang::system_program::ID,
        event_authority,
        program: outcome_market::ID,
    };
    let args = outcome_market::InitializeArgs {
        bridge_authority: a,
        resolver_authority: a,
        fee_rate_bps: 700,
        force_close_slots: 150,
        dispute_window_secs: 0,
    };
    let init = Instruction { program_id: outcome_market::ID, accounts: accounts.to_account_metas(None), data: outcome_market::instruction::Initialize { args }.data() };
    let tx = Transaction::new_signed_with_payer(&[init.clone()], Some(&a), &[&admin], blockhash(net.port));

    // simulateTransaction shows them on request, partially decoded
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.encode(bincode::serialize(&tx).unwrap());
    let sim = call(net.port, "simulateTransaction", json!([raw, {"encoding": "base64", "innerInstructions": true}]));
    assert!(sim["result"]["value"]["err"].is_null(), "{sim}");
    let sim_inner = &sim["result"]["value"]["innerInstructions"][0]["instructions"];
    assert_eq!(sim_inner.as_array().unwrap().last().unwrap()["programId"], outcome_market::ID.to_string(), "{sim}");
    let plain = call(net.port, "simulateTransaction", json!([raw, {"encoding": "base64"}]));
    assert!(plain["result"]["value"]["innerInstructions"].is_null());

    let sig = send_tx(net.port, &tx);
    for encoding in ["json", "base64"] {
        let result = confirmed_tx(net.port, &sig, encoding);
        assert!(result["meta"]["err"].is_null(), "{result}");
        if encoding == "base64" {
            // the same meta; account keys come from the transaction itself
            let json_meta = confirmed_tx(net.port, &sig, "json")["meta"]["innerInstructions"].clone();
            assert_eq!(result["meta"]["innerInstructions"], json_meta);
            continue;
        }
        let cpis = inner_of(&result, 0);
        let (program, accounts, data, height) = cpis.last().unwrap().clone();
        assert_eq!(program, outcome_market::ID.to_string(), "the last CPI is the event: {cpis:?}");
        assert_eq!(accounts, vec![event_authority.to_string()]);
        assert_eq!(height, 2);
        assert_eq!(&data[..8], anchor_lang::event::EVENT_IX_TAG_LE);
        use anchor_lang::{AnchorDeserialize, Discriminator};
        assert_eq!(&data[8..16], outcome_market::events::ExchangeInitialized::DISCRIMINATOR);
        let event = outcome_market::events::ExchangeInitialized::deserialize(&mut &data[16..]).unwrap();
        assert_eq!((event.admin, event.collateral_mint, event.treasury), (a, mint.pubkey(), treasury));
        let creations = cpis.iter().filter(|(p, ..)| p == "11111111111111111111111111111111").count();
        assert!(creations >= 3, "exchange, custody and custody_collateral created by CPI: {cpis:?}");
        assert!(!result["meta"]["logMessages"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().starts_with("Program data: ")), "no event in the log");
    }
}
