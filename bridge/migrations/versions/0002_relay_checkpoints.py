"""the relay's checkpoints (chain -> CLOB at confirmed, deposits at finalized)

Revision ID: b0002
Revises: b0001
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b0002"
down_revision: Union[str, None] = "b0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "bridge_relay_checkpoints",
        sa.Column("name", sa.String(16), primary_key=True),  # "confirmed" | "finalized"
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(96), nullable=False),  # the newest program transaction handled
        sa.Column("handled", sa.BigInteger(), nullable=False),  # events handed over so far (console)
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bridge_relay_checkpoints")
