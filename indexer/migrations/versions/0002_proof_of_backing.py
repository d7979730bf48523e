"""proof of backing: epochs, tree roots, per-user salts, leaves (indexer/epochs.py; owner: proof)

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "proof_epochs",
        sa.Column("epoch", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "proof_roots",
        sa.Column("epoch", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("ticker", sa.String(64), primary_key=True),
        sa.Column("asset", sa.String(4), primary_key=True),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("root_sum", sa.BigInteger(), nullable=False),
        sa.Column("leaves", sa.Integer(), nullable=False),
        sa.Column("custody_account", sa.String(48), nullable=False),
        sa.Column("custody_balance", sa.BigInteger(), nullable=False),
        sa.Column("custody_historical", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "proof_salts",
        sa.Column("epoch", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("salt", sa.String(64), nullable=False),
    )
    op.create_table(
        "proof_leaves",
        sa.Column("epoch", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("ticker", sa.String(64), primary_key=True),
        sa.Column("asset", sa.String(4), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("commit", sa.String(64), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("proof_leaves", "proof_salts", "proof_roots", "proof_epochs"):
        op.drop_table(table)
