"""The indexer's own tables (its Alembic history is indexer/migrations, version table
`alembic_version_indexer`), in the exchange's database but never touching its tables.

- `indexer_checkpoints`: per commitment, the newest transaction stored and the slot up to
  which every program transaction has been stored (advanced in the same transaction as what
  was read).
- `indexer_events`: every program event once, unique by (signature, instruction, event);
  `finalized` turns true when the finalized follower stores it. Derived state (markets,
  wallet orders, balances) is applied when an event becomes finalized, exactly once.
- `indexer_markets`, `indexer_orders`, `indexer_balances`: what the events say.
- `indexer_balance_checks`: derived balances compared with account reads.
- `indexer_violations`: permanent findings at ingestion (a fill beyond its order's limit).
- `indexer_breaks`: reconciliation breaks, open and cleared; `indexer_samples`: history;
  `indexer_seq_progress`: how far invariant 3 has verified each stream.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

checkpoints = Table(
    "indexer_checkpoints",
    metadata,
    Column("commitment", String(16), primary_key=True),
    Column("slot", BigInteger, nullable=True),
    Column("signature", String(96), nullable=True),
    Column("synced_slot", BigInteger, nullable=False, default=0),
    Column("updated_ms", BigInteger, nullable=False),
)

events = Table(
    "indexer_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("signature", String(96), nullable=False),
    Column("instruction_index", Integer, nullable=False),
    Column("event_index", Integer, nullable=False),
    Column("slot", BigInteger, nullable=False),
    Column("block_time", BigInteger, nullable=True),
    Column("name", String(48), nullable=False),
    Column("market", String(48), nullable=True),  # the market account, when the event names one
    Column("stream", String(64), nullable=True),  # bridge stream (ticker or "_exchange") of sequenced events
    Column("seq", BigInteger, nullable=True),  # bridge sequence number (sequenced events, seq > 0)
    Column("data", Text, nullable=False),  # JSON: the event's fields (chain.follower.ProgramEvent.fields)
    Column("finalized", Boolean, nullable=False, default=False),
    Column("ingested_ms", BigInteger, nullable=False),
    UniqueConstraint("signature", "instruction_index", "event_index", name="uq_indexer_events_position"),
    Index("ix_indexer_events_stream_seq", "stream", "seq"),
    Index("ix_indexer_events_name_slot", "name", "slot"),
)

markets = Table(
    "indexer_markets",
    metadata,
    Column("market", String(48), primary_key=True),
    Column("ticker", String(64), nullable=False, unique=True),
    Column("yes_mint", String(48), nullable=False),
    Column("no_mint", String(48), nullable=False),
    Column("vault", String(48), nullable=False),
    Column("custody_yes", String(48), nullable=False),
    Column("custody_no", String(48), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_slot", BigInteger, nullable=False),
)

orders = Table(
    "indexer_orders",
    metadata,
    Column("order", String(48), primary_key=True),
    Column("market", String(48), nullable=False),
    Column("ticker", String(64), nullable=False),
    Column("owner", String(48), nullable=False),
    Column("side", String(8), nullable=False),  # BuyYes | BuyNo | SellYes | SellNo
    Column("limit_price", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("max_fee", BigInteger, nullable=False),
    Column("escrow", String(48), nullable=False),
    Column("filled", BigInteger, nullable=False, default=0),
    Column("fees_paid", BigInteger, nullable=False, default=0),
    Column("status", String(20), nullable=False),  # open | filled | cancel_requested | closed
    Column("placed_slot", BigInteger, nullable=False),
    Column("cancel_requested_slot", BigInteger, nullable=True),
    Column("force_close_slot", BigInteger, nullable=True),
    Column("closed_slot", BigInteger, nullable=True),
    Index("ix_indexer_orders_status", "status"),
)

balances = Table(
    "indexer_balances",
    metadata,
    Column("account", String(48), primary_key=True),  # the token account
    Column("owner", String(48), nullable=False),
    Column("mint", String(48), nullable=False),
    Column("ticker", String(64), nullable=True),  # null for collateral
    Column("asset", String(12), nullable=False),  # yes | no | collateral
    Column("amount", BigInteger, nullable=False, default=0),  # what the program's events moved
    # what moved without an event (plain SPL transfers, mint_to), learned from account reads;
    # only for accounts the program does not own (custody, vaults and escrows must match exactly)
    Column("external", BigInteger, nullable=False, default=0),
    Column("updated_slot", BigInteger, nullable=False),
    Index("ix_indexer_balances_owner", "owner"),
)

balance_checks = Table(
    "indexer_balance_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slot", BigInteger, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("checked", Integer, nullable=False),
    Column("mismatches", Integer, nullable=False),
    Column("detail", Text, nullable=False),  # JSON list of {account, owner, asset, ticker, derived, actual}
)

violations = Table(
    "indexer_violations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("ticker", String(64), nullable=True),
    Column("slot", BigInteger, nullable=False),
    Column("signature", String(96), nullable=False),
    Column("detail", Text, nullable=False),
)

breaks = Table(
    "indexer_breaks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("ticker", String(64), nullable=True),
    Column("first_slot", BigInteger, nullable=False),
    Column("last_slot", BigInteger, nullable=False),
    Column("cleared_slot", BigInteger, nullable=True),
    Column("detail", Text, nullable=False),
    Column("opened_ms", BigInteger, nullable=False),
    Column("cleared_ms", BigInteger, nullable=True),
    Index("ix_indexer_breaks_open", "cleared_slot", "kind"),
)

# Invariant 3 per stream: every seq <= verified_through is settled for good (its one event seen,
# or reverted and absent); passes check only above it.
seq_progress = Table(
    "indexer_seq_progress",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("verified_through", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

samples = Table(
    "indexer_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slot", BigInteger, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("body", Text, nullable=False),  # JSON sample (see indexer/interface: reconciliation/history)
)
