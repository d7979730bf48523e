"""Run-time keypairs: Solana CLI file format, owner-only, stable across runs."""
from __future__ import annotations

import json
import stat

import pytest
from solders.keypair import Keypair

from chain.keys import keypair_path, load_or_create, read_keypair, write_keypair


def test_generated_once_then_reused(tmp_path):
    first = load_or_create(tmp_path / "keys", "admin")
    again = load_or_create(tmp_path / "keys", "admin")
    assert first.pubkey() == again.pubkey()
    assert load_or_create(tmp_path / "keys", "bridge").pubkey() != first.pubkey()


def test_solana_cli_format_and_permissions(tmp_path):
    kp = Keypair()
    path = keypair_path(tmp_path, "x")
    write_keypair(path, kp)
    raw = json.loads(path.read_text())
    assert raw == list(bytes(kp)) and len(raw) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_keypair(path).pubkey() == kp.pubkey()
    assert not list(tmp_path.glob("*.tmp"))


def test_not_a_keypair_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="not a Solana keypair file"):
        read_keypair(path)
