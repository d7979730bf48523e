//! localnet: outcome_market running natively inside a real Solana runtime
//! (solana-program-test), served over Solana JSON-RPC on 127.0.0.1.
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::sync::Mutex;

mod chain;
mod encode;
mod rpc;

#[derive(Parser, Debug)]
#[command(about = "Tandem's local chain: Solana JSON-RPC over a real runtime running outcome_market")]
struct Args {
    /// JSON-RPC port on 127.0.0.1.
    #[arg(long, default_value_t = 8899)]
    port: u16,
    /// Slot duration in milliseconds.
    #[arg(long, default_value_t = 400)]
    slot_ms: u64,
    /// Slots by which `finalized` trails the head (`confirmed` trails by one).
    #[arg(long, default_value_t = 4)]
    finality_lag: u64,
    /// Upgrade authority of the deployed program (a base58 public key), as
    /// `solana-test-validator --upgradeable-program` takes it: only this key may `initialize`
    /// the exchange. Without it the program is deployed immutable and cannot be initialized.
    #[arg(long)]
    upgrade_authority: Option<anchor_lang::prelude::Pubkey>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    // program-test logs every instruction at debug level unless told otherwise: the
    // transaction logs are served over RPC, so the console only needs warnings. tarpc (the
    // banks client) warns on every call that no OpenTelemetry subscriber is installed, and
    // solana_metrics reports every burned fee as a warning-level datapoint.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn,tarpc=error,solana_metrics=error");
    }
    let chain = Arc::new(Mutex::new(chain::Chain::start(args.finality_lag, args.upgrade_authority).await));

    let clock = chain.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(args.slot_ms.max(1)));
        loop {
            tick.tick().await;
            clock.lock().await.advance_slot().await;
        }
    });

    let app = rpc::router(chain);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{}: {e}", args.port));
    println!("localnet listening on http://127.0.0.1:{}", args.port);
    axum::serve(listener, app).await.expect("server failed");
}
