"""bridge transactions (persisted before sending) and per-market lookup tables

Revision ID: b0001
Revises:
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "bridge_txs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("seqs", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(96), nullable=True, unique=True),
        sa.Column("blockhash", sa.String(64), nullable=True),
        sa.Column("last_valid_height", sa.BigInteger(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_bridge_txs_stream_status", "bridge_txs", ["stream", "status"])
    op.create_index("ix_bridge_txs_stream_last_seq", "bridge_txs", ["stream", "last_seq"])
    op.create_table(
        "bridge_lookup_tables",
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("addresses", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bridge_lookup_tables")
    op.drop_index("ix_bridge_txs_stream_last_seq", "bridge_txs")
    op.drop_index("ix_bridge_txs_stream_status", "bridge_txs")
    op.drop_table("bridge_txs")
