"""Builders bound to API keys and users' API usage tiers (read by the API's authenticator,
written by operator routes). Small tables beside the ledger: nothing here moves money, so
they are written straight through the database, not through the service's command path."""
from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select, update

from exchange import errors
from exchange.models import ApiKeyBuilder, ApiUsageTier, Builder
from exchange.models._base import now_ms

_bindings = ApiKeyBuilder.__table__
_tiers = ApiUsageTier.__table__
_builders = Builder.__table__


def builder_for_key(reader: Engine, key_id: str) -> str | None:
    with reader.connect() as conn:
        return conn.execute(select(_bindings.c.builder_code).where(_bindings.c.key_id == key_id)).scalar_one_or_none()


def bind_builder(writer: Engine, key_id: str, builder_code: str | None) -> None:
    """Bind (or with None, unbind) the builder credited on orders placed with this key."""
    with writer.begin() as conn:
        if builder_code is not None and conn.execute(
                select(_builders.c.code).where(_builders.c.code == builder_code)).first() is None:
            raise errors.NotFound(f"builder {builder_code} not found", code="builder_not_found")
        conn.execute(delete(_bindings).where(_bindings.c.key_id == key_id))
        if builder_code is not None:
            conn.execute(insert(_bindings).values(key_id=key_id, builder_code=builder_code, created_ms=now_ms()))


def tier_of(reader: Engine, user_id: int) -> str | None:
    with reader.connect() as conn:
        return conn.execute(select(_tiers.c.tier).where(_tiers.c.user_id == user_id)).scalar_one_or_none()


def set_tier(writer: Engine, user_id: int, tier: str | None) -> None:
    with writer.begin() as conn:
        if tier is None:
            conn.execute(delete(_tiers).where(_tiers.c.user_id == user_id))
        elif conn.execute(update(_tiers).where(_tiers.c.user_id == user_id)
                          .values(tier=tier, updated_ms=now_ms())).rowcount == 0:
            conn.execute(insert(_tiers).values(user_id=user_id, tier=tier, updated_ms=now_ms()))
