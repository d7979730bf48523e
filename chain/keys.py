"""Keypairs generated at run time under TANDEM_HOME/keys (never committed).

Files use the Solana CLI format (a JSON array of the 64 secret-key bytes), so
`solana` and `anchor` can use them too (e.g. as the deploy wallet on devnet).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from solders.keypair import Keypair


def keypair_path(keys_dir: Path, name: str) -> Path:
    return keys_dir / f"{name}.json"


def write_keypair(path: Path, keypair: Keypair) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # created owner-only from the start, then renamed into place: never world-readable, never half-written
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(list(bytes(keypair)), fh)
    os.replace(tmp, path)


def read_keypair(path: Path) -> Keypair:
    raw = json.loads(Path(path).read_text())
    if not (isinstance(raw, list) and len(raw) == 64):
        raise ValueError(f"{path}: not a Solana keypair file (expected a JSON array of 64 bytes)")
    return Keypair.from_bytes(bytes(raw))


def load_or_create(keys_dir: Path, name: str) -> Keypair:
    """The keypair named `name`, generated on first use."""
    path = keypair_path(keys_dir, name)
    if path.exists():
        return read_keypair(path)
    keypair = Keypair()
    write_keypair(path, keypair)
    return keypair
