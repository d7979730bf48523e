"""Without TANDEM_OPERATOR_TOKEN the server generates one, prints it once, keeps it across restarts."""
from __future__ import annotations

import re
import stat

import httpx

from tests.api.conftest import start_server


def _status(server, token: str) -> httpx.Response:
    return httpx.get(f"{server.base}/operator/fee_schedules", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_generated_operator_token_is_printed_once_and_survives_a_restart(tmp_path):
    db = f"sqlite:///{tmp_path / 'tandem.db'}"
    server = start_server(db, tmp_path, TANDEM_OPERATOR_TOKEN="")
    try:
        found = re.search(r"operator token \(generated, saved to (\S+)\): (\S+)", server.log.read_text())
        assert found, server.log.read_text()
        path, token = found.group(1), found.group(2)
        assert path == str(tmp_path / "operator.token")
        assert stat.S_IMODE((tmp_path / "operator.token").stat().st_mode) == 0o600
        assert _status(server, token).status_code == 200
        refused = _status(server, token + "x")
        assert refused.status_code == 401 and set(refused.json()["error"]) >= {"code", "message"}
    finally:
        server.stop()

    server = start_server(db, tmp_path, TANDEM_OPERATOR_TOKEN="")
    try:
        text = server.log.read_text()
        assert token not in text and f"operator token: in {path}" in text
        assert _status(server, token).status_code == 200
    finally:
        server.stop()
