"""Proof of backing: the Merkle-sum tree of DESIGN.md ("Proof of backing"), byte for byte. Pure: no I/O.

SHA-256 throughout; integers are 8-byte big-endian unsigned.
- leaf: commit = SHA256("tandem-leaf" || epoch || user_id || salt), hash = SHA256(0x00 || commit || balance)
- padding to a power of two: hash SHA256(0x02), sum 0; leaves sorted by commit
- node: SHA256(0x01 || left_hash || left_sum || right_hash || right_sum), sum = left + right (< 2^64)

The build keeps each level as ONE bytes buffer (no Python object per node), built with one
struct.pack and hashed slice by slice, so a 2^20-leaf tree costs about three million SHA-256
calls, one sort and little else (bench/proof.py measures it; the variants tried, C-level map
pipelines, joins, a process pool, were slower). A proof's path is read out of those buffers.
"""
from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import add
from typing import Any

LEAF_DOMAIN = b"tandem-leaf"
LEAF_TAG, NODE_TAG, PAD_TAG = b"\x00", b"\x01", b"\x02"
PAD_HASH = hashlib.sha256(PAD_TAG).digest()
MAX_U64 = (1 << 64) - 1
SALT_LEN = 32
HASH_LEN = 32
RECORD = HASH_LEN + 8  # one tree node in a level buffer: hash || sum
ASSETS = ("yes", "no", "cash")

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof that does not hold; `check` names what failed (format, commit, overflow, path, root_sum, backing, ...)."""

    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check
        self.message = message


def u64(value: int) -> bytes:
    if not 0 <= value <= MAX_U64:
        raise ProofError("overflow", f"{value} does not fit in 64 bits unsigned")
    return value.to_bytes(8, "big")


def leaf_commit(epoch: int, user_id: int, salt: bytes) -> bytes:
    if len(salt) != SALT_LEN:
        raise ProofError("format", f"salt must be {SALT_LEN} bytes, got {len(salt)}")
    return _sha256(LEAF_DOMAIN + u64(epoch) + u64(user_id) + salt).digest()


def leaf_hash(commit: bytes, balance: int) -> bytes:
    return _sha256(LEAF_TAG + commit + u64(balance)).digest()


def node_hash(left_hash: bytes, left_sum: int, right_hash: bytes, right_sum: int) -> bytes:
    return _sha256(NODE_TAG + left_hash + u64(left_sum) + right_hash + u64(right_sum)).digest()


def _layout(fmt: str) -> struct.Struct:
    """A whole-level struct layout, compiled for this call only: struct.pack's own cache would keep
    up to 100 of these (tens of MB each for large trees) alive in a long-running indexer."""
    return struct.Struct(fmt)


def _pieces(buf: bytes, width: int) -> map:
    """buf cut into consecutive `width`-byte bytes objects, lazily and without Python frames."""
    end = len(buf)
    return map(buf.__getitem__, map(slice, range(0, end, width), range(width, end + width, width)))


_LEAF = 1 + RECORD  # a leaf's preimage: 0x00 || commit || balance
_PAIR = 1 + 2 * RECORD  # a node's preimage: 0x01 || left record || right record


@dataclass(frozen=True)
class Tree:
    """A built tree.

    `levels[k]` holds level k's nodes as their parents' preimages: pair p of level k sits at
    p * 81 as 0x01 || hash(2p) || sum(2p) || hash(2p+1) || sum(2p+1), the exact bytes hashed
    into node p of level k+1. One buffer per level, no object per node.
    """

    epoch: int
    count: int  # real leaves (users); the rest of level 0 is padding
    leaves: bytes = field(repr=False)  # the leaves' preimages 0x00 || commit || balance, sorted by commit
    levels: tuple[bytes, ...] = field(repr=False)  # every level below the root, leaves first
    root_hash: bytes
    root_sum: int

    def _commit(self, index: int) -> bytes:
        return self.leaves[index * _LEAF + 1 : index * _LEAF + 1 + HASH_LEN]

    def balance(self, index: int) -> int:
        return int.from_bytes(self.leaves[index * _LEAF + 1 + HASH_LEN : (index + 1) * _LEAF], "big")

    def index_of(self, commit: bytes) -> int:
        """The leaf index of `commit` (binary search over the sorted leaves); KeyError if absent."""
        i = bisect.bisect_left(range(self.count), commit, key=self._commit)
        if i == self.count or self._commit(i) != commit:
            raise KeyError(commit.hex())
        return i

    def path(self, index: int) -> list[PathStep]:
        """Siblings from the leaf up; `side` is where the sibling sits."""
        steps = []
        for level in self.levels:
            sibling = index ^ 1
            at = (sibling >> 1) * _PAIR + 1 + (sibling & 1) * RECORD
            steps.append(PathStep("L" if sibling < index else "R", level[at : at + HASH_LEN],
                                  int.from_bytes(level[at + HASH_LEN : at + RECORD], "big")))
            index >>= 1
        return steps


def leaf_commits(epoch: int, user_ids: Sequence[int], salts: Sequence[bytes]) -> list[bytes]:
    """Every user's leaf commit (a plain comprehension: measured faster here than packing first)."""
    prefix = LEAF_DOMAIN + u64(epoch)
    sha256 = _sha256
    return [sha256(prefix + u.to_bytes(8, "big") + s).digest() for u, s in zip(user_ids, salts)]


def build_tree(epoch: int, user_ids: Sequence[int], salts: Sequence[bytes], balances: Sequence[int]) -> Tree:
    """The tree over one asset's custodial balances at one epoch (user_ids[i] holds balances[i], salted with salts[i])."""
    n = len(user_ids)
    if len(salts) != n or len(balances) != n:
        raise ValueError("user_ids, salts and balances must have the same length")
    u64(epoch)
    if n:
        if min(user_ids) < 0 or max(user_ids) > MAX_U64 or len(set(user_ids)) != n:
            raise ValueError("user ids must be distinct 64-bit unsigned integers")
        if set(map(len, salts)) != {SALT_LEN}:
            raise ValueError(f"every salt must be {SALT_LEN} bytes")
    return tree_of_commits(epoch, leaf_commits(epoch, user_ids, salts), balances)


def tree_of_commits(epoch: int, commits: Sequence[bytes], balances: Sequence[int]) -> Tree:
    """The tree over leaves already committed (commits[i] holds balances[i]); how a stored epoch is rebuilt."""
    n = len(commits)
    if len(balances) != n:
        raise ValueError("commits and balances must have the same length")
    if n and (min(balances) < 0 or set(map(len, commits)) != {HASH_LEN}):
        raise ValueError(f"balances must be non-negative and commits {HASH_LEN} bytes")
    # All sums are non-negative, so no node sum overflows iff the root's does not.
    if sum(balances) > MAX_U64:
        raise ProofError("overflow", "the balances sum to more than 64 bits: the tree is refused")

    # Every step below works on a whole level at once: one struct.pack/unpack, one join, one sort.
    records = list(map(bytes.__add__, commits, _pieces(struct.pack(f">{n}Q", *balances), 8)))
    del commits  # (the caller may still hold it; if not, its memory is back before the sort)
    records.sort()  # by commit (commits are distinct: the balance after it never decides)
    leaves = LEAF_TAG + LEAF_TAG.join(records) if records else b""  # every leaf's preimage 0x00 || commit || balance
    del records
    sha256 = _sha256
    hashes = [sha256(leaves[i : i + _LEAF]).digest() for i in range(0, len(leaves), _LEAF)]
    sums = list(_layout(f">{'33xQ' * n}").unpack(leaves))
    size = 1 << (n - 1).bit_length() if n > 1 else 1
    hashes += [PAD_HASH] * (size - n)
    sums += [0] * (size - n)

    levels = []
    while len(sums) > 1:
        left_right = iter(hashes), iter(sums)
        pairs = zip(repeat(1), *left_right, *left_right)  # (0x01, h[2p], s[2p], h[2p+1], s[2p+1])
        level = _layout(f">{'B32sQ32sQ' * (len(sums) // 2)}").pack(*chain.from_iterable(pairs))
        levels.append(level)
        hashes = [sha256(level[i : i + _PAIR]).digest() for i in range(0, len(level), _PAIR)]
        sums = list(map(add, sums[0::2], sums[1::2]))
    return Tree(epoch, n, leaves, tuple(levels), hashes[0], sums[0])


@dataclass(frozen=True)
class PathStep:
    side: str  # "L" | "R": where the sibling sits
    hash: bytes
    sum: int


@dataclass(frozen=True)
class Proof:
    epoch: int
    slot: int
    ticker: str | None  # None for cash
    asset: str  # yes | no | cash
    commit: bytes
    salt: bytes
    user_id: int
    balance: int
    path: tuple[PathStep, ...]
    root_hash: bytes
    root_sum: int
    custody_account: str  # base58 address of the custody token account holding this asset

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "slot": self.slot,
            "ticker": self.ticker,
            "asset": self.asset,
            "commit": self.commit.hex(),
            "salt": self.salt.hex(),
            "user_id": self.user_id,
            "balance": self.balance,
            "path": [{"side": s.side, "hash": s.hash.hex(), "sum": s.sum} for s in self.path],
            "root": {"hash": self.root_hash.hex(), "sum": self.root_sum},
            "custody_account": self.custody_account,
        }

    @classmethod
    def from_json(cls, data: Any) -> Proof:
        """Parse and type-check a proof document; ProofError("format", ...) naming the bad field."""
        if not isinstance(data, dict):
            raise ProofError("format", "a proof is a JSON object")
        root = _field(data, "root", dict)
        path = _field(data, "path", list)
        asset = _field(data, "asset", str)
        if asset not in ASSETS:
            raise ProofError("format", f"asset must be one of {', '.join(ASSETS)}, got {asset!r}")
        ticker = data.get("ticker")
        if asset == "cash" and ticker is not None:
            raise ProofError("format", "ticker must be null for cash")
        if asset != "cash" and not (isinstance(ticker, str) and ticker):
            raise ProofError("format", "ticker must be a market ticker for yes/no")
        steps = []
        for i, step in enumerate(path):
            if not isinstance(step, dict) or step.get("side") not in ("L", "R"):
                raise ProofError("format", f"path[{i}].side must be \"L\" or \"R\"")
            steps.append(PathStep(step["side"], _hex(step, "hash", HASH_LEN, f"path[{i}]."), _int(step, "sum", f"path[{i}].")))
        return cls(
            epoch=_int(data, "epoch"),
            slot=_int(data, "slot"),
            ticker=ticker,
            asset=asset,
            commit=_hex(data, "commit", HASH_LEN),
            salt=_hex(data, "salt", SALT_LEN),
            user_id=_int(data, "user_id"),
            balance=_int(data, "balance"),
            path=tuple(steps),
            root_hash=_hex(root, "hash", HASH_LEN, "root."),
            root_sum=_int(root, "sum", "root."),
            custody_account=_field(data, "custody_account", str),
        )


def _field(data: dict, name: str, kind: type, where: str = "") -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProofError("format", f"{where}{name} is missing or not a {kind.__name__}")
    return value


def _int(data: dict, name: str, where: str = "") -> int:
    value = _field(data, name, int, where)
    if not 0 <= value <= MAX_U64:
        raise ProofError("format", f"{where}{name} must be a 64-bit unsigned integer")
    return value


def _hex(data: dict, name: str, length: int, where: str = "") -> bytes:
    value = _field(data, name, str, where)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ProofError("format", f"{where}{name} is not hex") from None
    if len(raw) != length:
        raise ProofError("format", f"{where}{name} must be {length} bytes, got {len(raw)}")
    return raw


def make_proof(tree: Tree, *, user_id: int, salt: bytes, slot: int, ticker: str | None, asset: str,
               custody_account: str) -> Proof:
    """The proof of `user_id`'s leaf (found by its commit); KeyError if the user is not in the tree."""
    commit = leaf_commit(tree.epoch, user_id, salt)
    index = tree.index_of(commit)
    return Proof(tree.epoch, slot, ticker, asset, commit, salt, user_id, tree.balance(index), tuple(tree.path(index)),
                 tree.root_hash, tree.root_sum, custody_account)


def verify_path(proof: Proof) -> None:
    """The offline half: the leaf is this user's and the path rebuilds the root. Raises ProofError naming the check."""
    if leaf_commit(proof.epoch, proof.user_id, proof.salt) != proof.commit:
        raise ProofError("commit", "commit is not SHA256(\"tandem-leaf\" || epoch || user_id || salt)")
    h, s = leaf_hash(proof.commit, proof.balance), proof.balance
    for i, step in enumerate(proof.path):
        if s + step.sum > MAX_U64:
            raise ProofError("overflow", f"the sum at path[{i}] overflows 64 bits")
        h = node_hash(step.hash, step.sum, h, s) if step.side == "L" else node_hash(h, s, step.hash, step.sum)
        s += step.sum
    if h != proof.root_hash:
        raise ProofError("path", "the path does not rebuild root.hash")
    if s != proof.root_sum:
        raise ProofError("root_sum", f"the path sums to {s}, root.sum says {proof.root_sum}")


def check_backing(proof: Proof, custody_balance: int) -> None:
    """The on-chain half: what the tree claims is at most what custody holds."""
    if proof.root_sum > custody_balance:
        raise ProofError("backing", f"root.sum {proof.root_sum} exceeds the custody account's balance {custody_balance}")
