"""Finding, building and running the localnet binary (the Rust JSON-RPC chain in `localnet/`).

Used by `tandem localnet`, the pytest session fixture and the benchmark.
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_MARKER = "listening on"


class LocalnetError(RuntimeError):
    pass


def cargo_target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache" / "tandem" / "target")


def binary_path() -> Path:
    """TANDEM_LOCALNET_BIN, else the debug build under CARGO_TARGET_DIR."""
    explicit = os.environ.get("TANDEM_LOCALNET_BIN")
    return Path(explicit) if explicit else cargo_target_dir() / "debug" / "localnet"


def build(quiet: bool = False) -> Path:
    """`cargo build -p localnet` into the shared target dir; returns the binary."""
    env = {**os.environ, "CARGO_TARGET_DIR": str(cargo_target_dir())}
    cmd = ["cargo", "build", "-p", "localnet"] + (["-q"] if quiet else [])
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env)
    if result.returncode != 0:
        raise LocalnetError(f"`{' '.join(cmd)}` failed (exit {result.returncode})")
    path = cargo_target_dir() / "debug" / "localnet"
    if not path.exists():
        raise LocalnetError(f"cargo built, but {path} does not exist")
    return path


def ensure_binary(quiet: bool = False) -> Path:
    """The binary, built first when it is missing."""
    path = binary_path()
    if path.exists():
        return path
    if os.environ.get("TANDEM_LOCALNET_BIN"):
        raise LocalnetError(f"TANDEM_LOCALNET_BIN={path} does not exist")
    return build(quiet=quiet)


def command(
    binary: Path, port: int, slot_ms: int | None = None, finality_lag: int | None = None, upgrade_authority: object | None = None
) -> list[str]:
    """The localnet command line. `upgrade_authority` (a public key) is the program's upgrade
    authority, the only key that may `initialize` the exchange: pass the admin's."""
    cmd = [str(binary), "--port", str(port)]
    if slot_ms is not None:
        cmd += ["--slot-ms", str(slot_ms)]
    if finality_lag is not None:
        cmd += ["--finality-lag", str(finality_lag)]
    if upgrade_authority is not None:
        cmd += ["--upgrade-authority", str(upgrade_authority)]
    return cmd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Localnet:
    """A localnet child process on 127.0.0.1:`port`, ready once it printed its "listening on" line.

    `upgrade_authority`: the program's upgrade authority (the admin who will `initialize`).

    Output goes to a log file (not a pipe, so a chatty chain can never block on a full pipe);
    the file's tail is quoted if the chain fails to start.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        slot_ms: int | None = None,
        finality_lag: int | None = None,
        binary: Path | None = None,
        log_path: Path | None = None,
        upgrade_authority: object | None = None,
    ) -> None:
        self.port = port or free_port()
        self.upgrade_authority = upgrade_authority
        self.slot_ms = slot_ms
        self.finality_lag = finality_lag
        self.binary = binary
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="localnet-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> "Localnet":
        binary = self.binary or ensure_binary()
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command(binary, self.port, self.slot_ms, self.finality_lag, self.upgrade_authority),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_MARKER in self.log_path.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                raise LocalnetError(f"localnet exited with {self.process.returncode}:\n{self.log_tail()}")
            time.sleep(0.05)
        self.stop()
        raise LocalnetError(f"localnet not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "Localnet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
