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
