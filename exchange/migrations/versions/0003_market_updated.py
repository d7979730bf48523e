"""markets record when they last changed (Kalshi's updated_time, the min/max_updated_ts filters)

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
    with op.batch_alter_table("markets") as batch:
        batch.add_column(sa.Column("updated_ms", sa.BigInteger(), nullable=False, server_default="0"))
    # Existing markets: the latest change the table already knows of.
    op.execute("UPDATE markets SET updated_ms = created_ms")
    op.execute("UPDATE markets SET updated_ms = determined_ms WHERE determined_ms IS NOT NULL AND determined_ms > updated_ms")
    op.execute("UPDATE markets SET updated_ms = finalized_ms WHERE finalized_ms IS NOT NULL AND finalized_ms > updated_ms")


def downgrade() -> None:
    with op.batch_alter_table("markets") as batch:
        batch.drop_column("updated_ms")
