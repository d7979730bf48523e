"""the indexer's tables: checkpoints, events, derived markets/orders/balances, checks, breaks, samples

Revision ID: 0001
Revises:
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "indexer_checkpoints",
        sa.Column("commitment", sa.String(16), primary_key=True),
        sa.Column("slot", sa.BigInteger(), nullable=True),
        sa.Column("signature", sa.String(96), nullable=True),
        sa.Column("synced_slot", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "indexer_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("signature", sa.String(96), nullable=False),
        sa.Column("instruction_index", sa.Integer(), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(48), nullable=False),
        sa.Column("market", sa.String(48), nullable=True),
        sa.Column("stream", sa.String(64), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("finalized", sa.Boolean(), nullable=False),
        sa.Column("ingested_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("signature", "instruction_index", "event_index", name="uq_indexer_events_position"),
    )
    op.create_index("ix_indexer_events_stream_seq", "indexer_events", ["stream", "seq"])
    op.create_index("ix_indexer_events_name_slot", "indexer_events", ["name", "slot"])
    op.create_table(
        "indexer_markets",
        sa.Column("market", sa.String(48), primary_key=True),
        sa.Column("ticker", sa.String(64), nullable=False, unique=True),
        sa.Column("yes_mint", sa.String(48), nullable=False),
        sa.Column("no_mint", sa.String(48), nullable=False),
        sa.Column("vault", sa.String(48), nullable=False),
        sa.Column("custody_yes", sa.String(48), nullable=False),
        sa.Column("custody_no", sa.String(48), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_slot", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "indexer_orders",
        sa.Column("order", sa.String(48), primary_key=True),
        sa.Column("market", sa.String(48), nullable=False),
        sa.Column("ticker", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(48), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("limit_price", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("max_fee", sa.BigInteger(), nullable=False),
        sa.Column("escrow", sa.String(48), nullable=False),
        sa.Column("filled", sa.BigInteger(), nullable=False),
        sa.Column("fees_paid", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("placed_slot", sa.BigInteger(), nullable=False),
        sa.Column("cancel_requested_slot", sa.BigInteger(), nullable=True),
        sa.Column("force_close_slot", sa.BigInteger(), nullable=True),
        sa.Column("closed_slot", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_indexer_orders_status", "indexer_orders", ["status"])
    op.create_table(
        "indexer_balances",
        sa.Column("account", sa.String(48), primary_key=True),
        sa.Column("owner", sa.String(48), nullable=False),
        sa.Column("mint", sa.String(48), nullable=False),
        sa.Column("ticker", sa.String(64), nullable=True),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("external", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_slot", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_indexer_balances_owner", "indexer_balances", ["owner"])
    op.create_table(
        "indexer_balance_checks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "indexer_violations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ticker", sa.String(64), nullable=True),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(96), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "indexer_breaks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ticker", sa.String(64), nullable=True),
        sa.Column("first_slot", sa.BigInteger(), nullable=False),
        sa.Column("last_slot", sa.BigInteger(), nullable=False),
        sa.Column("cleared_slot", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("cleared_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_indexer_breaks_open", "indexer_breaks", ["cleared_slot", "kind"])
    op.create_table(
        "indexer_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("indexer_samples", "indexer_breaks", "indexer_violations", "indexer_balance_checks", "indexer_balances",
                  "indexer_orders", "indexer_markets", "indexer_events", "indexer_checkpoints"):
        op.drop_table(table)
