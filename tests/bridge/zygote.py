"""A bridge launcher for the kill -9 test: this process imports everything once, then forks a
fresh `tandem bridge` process (the same `run_bridge` the command runs) each time it reads a
line on stdin and prints the child's pid. The test kills those children with SIGKILL: real
processes dying at arbitrary points, without paying Python's imports (~2-3 s on a loaded
2-core machine) twenty times over.

Run as `python -m tests.bridge.zygote` with the bridge's environment (TANDEM_HOME, DATABASE_URL,
RPC_URL, TANDEM_BRIDGE_*) and TANDEM_BRIDGE_TEST_LOG (where the children write).
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys


def _child() -> None:
    from bridge.runner import BridgeConfig, run_bridge
    from tandem.settings import Settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run_bridge(BridgeConfig.from_settings(Settings(), console=False)))


def main() -> None:
    import bridge.runner  # noqa: F401  (everything the child needs, imported before any fork)
    import exchange.outbox_reader  # noqa: F401
    import tandem.settings  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "start":
            continue
        pid = os.fork()
        if pid == 0:
            try:
                log = os.open(os.environ["TANDEM_BRIDGE_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.dup2(log, 1)
                os.dup2(log, 2)
                _child()
            finally:
                os._exit(0)
        print(pid, flush=True)
        # reap children that were killed, so they do not linger as zombies
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass


if __name__ == "__main__":
    main()
