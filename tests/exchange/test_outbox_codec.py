"""The outbox contract's codec (exchange/outbox.py): every record kind survives encode ->
decode unchanged, and a payload that is not exactly its kind's record is refused."""
from __future__ import annotations

import json
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange import outbox as X

u64 = st.integers(min_value=0, max_value=X.MAX_U64)
text = st.text(max_size=40)


def _strategy(cls):
    """Every field drawn from its whole domain (read off the dataclass, so a new field is covered)."""
    kw = {}
    for name, hint in X._hints(cls).items():
        if hint is int:
            kw[name] = u64
        elif hint is str:
            kw[name] = text
        else:  # a Literal, or the optional ticker
            args = typing.get_args(hint)
            if type(None) in args:
                kw[name] = st.none() | text
            else:
                kw[name] = st.sampled_from(args)
    return st.builds(cls, **kw)


any_record = st.one_of(*[_strategy(t) for t in X.RECORD_TYPES])


@given(any_record)
def test_every_record_round_trips(record):
    kind, payload = X.encode(record)
    assert kind == record.kind
    back = X.decode(kind, payload)
    assert back == record and type(back) is type(record)
    assert X.decode(kind, json.loads(payload)) == record


def test_every_kind_of_the_design_is_there():
    assert set(X.KINDS) == {"create_market", "halt", "resume", "close_market", "determine", "finalize", "custody_fund",
                            "custody_mint_set", "custody_merge_set", "custody_redeem", "settle_fill", "close_order",
                            "custody_withdraw"}


def test_streams():
    assert X.stream_of(X.Halt("M")) == "M"
    assert X.stream_of(X.CustodyFund(1, 2, "j")) == X.EXCHANGE_STREAM
    assert X.stream_of(X.CustodyWithdraw(None, "cash", 1, "w", "id", 1)) == X.EXCHANGE_STREAM
    assert X.stream_of(X.CustodyWithdraw("M", "yes", 1, "w", "id", 1)) == "M"


@pytest.mark.parametrize("kind, payload, message", [
    ("nope", "{}", "unknown outbox kind"),
    ("halt", "[]", "not an object"),
    ("halt", '{"ticker": "M", "extra": 1}', "fields"),
    ("determine", '{"ticker": "M"}', "fields"),
    ("determine", '{"ticker": "M", "yes_payout": true}', "yes_payout"),
    ("determine", '{"ticker": "M", "yes_payout": 1.0}', "yes_payout"),
    ("determine", '{"ticker": "M", "yes_payout": -1}', "yes_payout"),
    ("determine", '{"ticker": "M", "yes_payout": 18446744073709551616}', "yes_payout"),
    ("custody_withdraw", '{"ticker": null, "asset": "usd", "amount": 1, "wallet": "w", "withdrawal_id": "i", "user_id": 1}', "asset"),
    ("halt", '{"ticker": 5}', "ticker"),
])
def test_bad_payloads_are_refused(kind, payload, message):
    with pytest.raises(X.OutboxError, match=message):
        X.decode(kind, payload)


def test_only_records_encode():
    with pytest.raises(X.OutboxError, match="not an outbox record"):
        X.encode({"ticker": "M"})  # type: ignore[arg-type]


@given(any_record, st.integers(1, X.MAX_U64), st.sampled_from([X.PENDING, X.APPLIED, X.REVERTED]),
       st.none() | text, st.none() | u64, st.booleans())
def test_stored_records_round_trip_as_json(record, seq, status, signature, slot, finalized):
    stored = X.OutboxRecord(X.stream_of(record), seq, "g", 5, record, status, signature, slot, finalized)
    assert X.stored_from_json(json.loads(json.dumps(X.stored_to_json(stored)))) == stored


def test_a_stored_record_missing_a_field_is_refused():
    stored = X.stored_to_json(X.OutboxRecord("M", 1, "g", 5, X.Halt("M")))
    del stored["group"]
    with pytest.raises(X.OutboxError, match="not a stored outbox record"):
        X.stored_from_json(stored)
