"""the typed outbox contract (groups, what the bridge applied), reverted fills, deposit
references, deposits credited once per (signature, instruction), custody withdrawals

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("group_id", sa.String(length=40), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.String(length=10), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("signature", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("slot", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("applied_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("finalized", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("revert_reason", sa.String(length=200), nullable=True))
        batch.create_index("ix_outbox_stream_status_seq", ["stream", "status", "seq"])
        batch.create_index("ix_outbox_stream_group", ["stream", "group_id"])
    # Records written before groups existed: each one its own group. (Their payloads predate
    # exchange/outbox.py; no bridge has read them.)
    op.execute("UPDATE outbox SET group_id = 'pre-0004-' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("reverted_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("revert_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deposit_reference", sa.String(length=32), nullable=True))
        batch.create_unique_constraint("uq_users_deposit_reference", ["deposit_reference"])
    op.create_table(
        "deposits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("ix_index", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=4), nullable=False),
        sa.Column("ticker", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("journal_id", sa.String(length=40), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("signature", "ix_index", name="uq_deposits_signature_ix"),
    )
    op.create_index("ix_deposits_user_id", "deposits", ["user_id"])
    op.create_table(
        "custody_withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(length=64), nullable=True),
        sa.Column("asset", sa.String(length=4), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("wallet", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=True),
        sa.Column("journal_id", sa.String(length=40), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("withdrawal_id"),
    )
    op.create_index("ix_custody_withdrawals_user_id", "custody_withdrawals", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_custody_withdrawals_user_id", "custody_withdrawals")
    op.drop_table("custody_withdrawals")
    op.drop_index("ix_deposits_user_id", "deposits")
    op.drop_table("deposits")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_deposit_reference", type_="unique")
        batch.drop_column("deposit_reference")
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("revert_reason")
        batch.drop_column("reverted_ms")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_stream_group")
        batch.drop_index("ix_outbox_stream_status_seq")
        for column in ("revert_reason", "finalized", "applied_ms", "slot", "signature", "status", "group_id"):
            batch.drop_column(column)
