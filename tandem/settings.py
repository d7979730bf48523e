"""Every setting of every part, read once from flags or the environment (DESIGN.md, Command line)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    tandem_home: Path = Field(default=Path(".tandem"), alias="TANDEM_HOME")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    rpc_url: str = Field(default="http://127.0.0.1:8899", alias="RPC_URL")
    # Where the program is deployed under another id than the IDL's (a devnet deploy of your own).
    program_id: str | None = Field(default=None, alias="TANDEM_PROGRAM_ID")
    # An existing collateral mint (USDC on mainnet, devnet USDC); unset: `tandem chain init` creates one.
    collateral_mint: str | None = Field(default=None, alias="TANDEM_COLLATERAL_MINT")
    api_host: str = Field(default="127.0.0.1", alias="TANDEM_API_HOST")
    api_port: int = Field(default=8000, alias="TANDEM_API_PORT")
    localnet_port: int = Field(default=8899, alias="TANDEM_LOCALNET_PORT")
    # Proof of backing (indexer/epochs.py): an epoch every this many finalized slots (150 = about a
    # minute at 400 ms slots); how many epochs of trees (leaves, salts) are kept for proofs.
    proof_epoch_slots: int = Field(default=150, ge=1, alias="TANDEM_PROOF_EPOCH_SLOTS")
    proof_keep_epochs: int = Field(default=48, ge=1, alias="TANDEM_PROOF_KEEP_EPOCHS")
    # API: the operator role's bearer token (unset: generated on start into TANDEM_HOME/operator.token),
    # how far a signed request's KALSHI-ACCESS-TIMESTAMP may be from the server clock, per-key rate limits.
    operator_token: str | None = Field(default=None, alias="TANDEM_OPERATOR_TOKEN")
    api_auth_window_ms: int = Field(default=30_000, alias="TANDEM_API_AUTH_WINDOW_MS")
    api_rate_read_per_s: float = Field(default=100.0, alias="TANDEM_API_RATE_READ")
    api_rate_write_per_s: float = Field(default=100.0, alias="TANDEM_API_RATE_WRITE")
    # FIX gateway (fix/, served by `tandem api` when a port is set): its port and interface, and its TLS
    # certificate and key (unset: a self-signed pair generated once under TANDEM_HOME/fix/).
    fix_port: int | None = Field(default=None, alias="TANDEM_FIX_PORT")
    fix_host: str = Field(default="127.0.0.1", alias="TANDEM_FIX_HOST")
    fix_cert: Path | None = Field(default=None, alias="TANDEM_FIX_CERT")
    fix_key: Path | None = Field(default=None, alias="TANDEM_FIX_KEY")
    # Indexer (`tandem indexer`): its port (it also serves the dashboard), how often it polls the
    # finalized slot, how often the custodial sums are recomputed in full (between, they are kept
    # from the ledger entries added), when the bridge's lag is a break, how long a gap in a
    # stream's on-chain seqs may last, history sampling, balance checks, a webhook for breaks.
    indexer_host: str = Field(default="127.0.0.1", alias="TANDEM_INDEXER_HOST")
    indexer_port: int = Field(default=8001, alias="TANDEM_INDEXER_PORT")
    indexer_poll_s: float = Field(default=0.4, alias="TANDEM_INDEXER_POLL_S")
    indexer_full_every_s: float = Field(default=10.0, alias="TANDEM_INDEXER_FULL_EVERY_S")
    indexer_lag_max_seqs: int = Field(default=256, alias="TANDEM_INDEXER_LAG_MAX_SEQS")
    indexer_lag_max_s: float = Field(default=60.0, alias="TANDEM_INDEXER_LAG_MAX_S")
    indexer_gap_grace_slots: int = Field(default=64, alias="TANDEM_INDEXER_GAP_GRACE_SLOTS")
    indexer_sample_s: float = Field(default=1.0, alias="TANDEM_INDEXER_SAMPLE_S")
    indexer_balance_check_s: float = Field(default=10.0, alias="TANDEM_INDEXER_BALANCE_CHECK_S")
    indexer_webhook_url: str | None = Field(default=None, alias="TANDEM_INDEXER_WEBHOOK_URL")
    # Bridge (bridge/runner.py): transactions in flight per stream, records per transaction,
    # v0 transactions with a lookup table per market, poll period, and whether it brings up the
    # exchange on chain itself when `chain init` has not (localnet).
    bridge_max_in_flight: int = Field(default=16, alias="TANDEM_BRIDGE_MAX_IN_FLIGHT")
    bridge_max_records_per_tx: int = Field(default=64, alias="TANDEM_BRIDGE_MAX_RECORDS_PER_TX")
    bridge_lookup_tables: bool = Field(default=False, alias="TANDEM_BRIDGE_LOOKUP_TABLES")
    bridge_poll_ms: int = Field(default=50, alias="TANDEM_BRIDGE_POLL_MS")
    bridge_init_chain: bool = Field(default=True, alias="TANDEM_BRIDGE_INIT_CHAIN")

    @property
    def db_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under TANDEM_HOME."""
        if self.database_url:
            return self.database_url
        self.tandem_home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.tandem_home / 'tandem.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        """Keypairs generated at run time; never committed."""
        path = self.tandem_home / "keys"
        path.mkdir(parents=True, exist_ok=True)
        return path


@lru_cache
def get_settings() -> Settings:
    return Settings()
