"""subaccounts (each its own user row) and the cash transfers between them

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "subaccounts",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("parent_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("parent_user_id", "number", name="uq_subaccounts_parent_number"),
    )
    op.create_index("ix_subaccounts_parent_user_id", "subaccounts", ["parent_user_id"])
    op.create_table(
        "subaccount_transfers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("transfer_id", sa.String(length=40), nullable=False, unique=True),
        sa.Column("client_transfer_id", sa.String(length=64), nullable=False),
        sa.Column("parent_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("from_number", sa.Integer(), nullable=False),
        sa.Column("to_number", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("journal_id", sa.String(length=40), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("parent_user_id", "client_transfer_id", name="uq_subaccount_transfers_client"),
    )
    op.create_index("ix_subaccount_transfers_parent_user_id", "subaccount_transfers", ["parent_user_id"])


def downgrade() -> None:
    op.drop_table("subaccount_transfers")
    op.drop_table("subaccounts")
