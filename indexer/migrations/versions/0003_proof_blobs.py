"""proof of backing: each tree's leaves and each epoch's salts as one packed blob (owner: proof)

One row per user and tree made an epoch of a million positions a minute of inserts; one blob
per tree (and one of salts per epoch) is written in milliseconds and read back whole anyway
(a proof is rebuilt from all of its tree's leaves).

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_table("proof_leaves")
    op.drop_table("proof_salts")
    op.create_table(
        "proof_trees",
        sa.Column("epoch", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("ticker", sa.String(64), primary_key=True),
        sa.Column("asset", sa.String(4), primary_key=True),
        sa.Column("leaves", sa.LargeBinary(), nullable=False),  # user_id(8) || commit(32) || balance(8), by user_id
    )
    op.create_table(
        "proof_salts",
        sa.Column("epoch", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("salts", sa.LargeBinary(), nullable=False),  # user_id(8) || salt(32), by user_id
    )


def downgrade() -> None:
    op.drop_table("proof_salts")
    op.drop_table("proof_trees")
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
