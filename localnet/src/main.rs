//! localnet: placeholder until issue #3 lands the JSON-RPC server.
fn main() {
    eprintln!("localnet: not built yet (issue #3)");
    std::process::exit(2);
}
