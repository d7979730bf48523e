"""Kalshi's RFQs and the quotes answering them (communications)

Revision ID: 0007
Revises: 0006
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "rfqs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rfq_id", sa.String(length=40), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("parent_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("ticker", sa.String(length=64), sa.ForeignKey("markets.ticker"), nullable=False),
        sa.Column("contracts", sa.BigInteger(), nullable=False),
        sa.Column("rest_remainder", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancellation_reason", sa.String(length=32), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_rfqs_parent_user_id", "rfqs", ["parent_user_id"])
    op.create_index("ix_rfqs_ticker", "rfqs", ["ticker"])
    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("quote_id", sa.String(length=40), nullable=False, unique=True),
        sa.Column("rfq_id", sa.String(length=40), sa.ForeignKey("rfqs.rfq_id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("parent_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("yes_bid", sa.BigInteger(), nullable=False),
        sa.Column("no_bid", sa.BigInteger(), nullable=False),
        sa.Column("rest_remainder", sa.Boolean(), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("accepted_side", sa.String(length=3), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=32), nullable=True),
        sa.Column("rfq_order_id", sa.String(length=40), nullable=True),
        sa.Column("quote_order_id", sa.String(length=40), nullable=True),
        sa.Column("trade_id", sa.String(length=40), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("accepted_ms", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_ms", sa.BigInteger(), nullable=True),
        sa.Column("executed_ms", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_quotes_rfq_id", "quotes", ["rfq_id"])
    op.create_index("ix_quotes_parent_user_id", "quotes", ["parent_user_id"])


def downgrade() -> None:
    op.drop_table("quotes")
    op.drop_table("rfqs")
