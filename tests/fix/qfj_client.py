"""QuickFIX/J as the gateway's client: tests/fix/qfj (a Maven project) built once per test
run, then one `java` process per FIX session, driven through stdin, reporting on stdout.

The first build fetches QuickFIX/J from Maven Central into ~/.m2 (a cold cache: about a
minute); later ones are offline-fast. Nothing is fetched at test time once the jar is built.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import simplefix

from tests.api.conftest import pem

PROJECT = Path(__file__).resolve().parent / "qfj"
JAR = PROJECT / "target" / "fix-test-client-1.jar"
_built = threading.Lock()


def build() -> None:
    with _built:
        sources = [PROJECT / "pom.xml", *(PROJECT / "src").rglob("*.java")]
        if JAR.exists() and (PROJECT / "target" / "lib").exists() and \
                JAR.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("mvn (Maven) is not installed: the FIX tests need it to build their QuickFIX/J client")
        done = subprocess.run([mvn, "-B", "-q", "package"], cwd=PROJECT, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"building tests/fix/qfj failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def parse(raw: str) -> dict[int, str]:
    """A received message's fields (the last value of a repeated tag; `all_of` for the others)."""
    parser = simplefix.FixParser()
    parser.append_buffer(raw.encode())
    m = parser.get_message()
    return {int(t): v.decode() for t, v in m.pairs}


def all_of(raw: str, tag: int) -> list[str]:
    return [f.split("=", 1)[1] for f in raw.split("\x01") if f.startswith(f"{tag}=")]


class QfjClient:
    def __init__(self, server, user, workdir: Path, *, target: str = "KalshiRT", reset: bool = True,
                 cancel_on_disconnect: bool = False) -> None:
        build()
        workdir.mkdir(parents=True, exist_ok=True)
        key_file = workdir / "key.pem"
        key_file.write_text(pem(user.private_key))
        classpath = os.pathsep.join([str(JAR), *(str(p) for p in sorted((PROJECT / "target" / "lib").glob("*.jar")))])
        args = ["java", "-cp", classpath, "tandem.FixClient", "host=127.0.0.1", f"port={server.fix_port}",
                f"sender={user.key_id}", f"target={target}", f"key={key_file}", f"cert={server.cert}",
                f"store={workdir / 'store'}", f"reset={'Y' if reset else 'N'}", f"cod={'Y' if cancel_on_disconnect else 'N'}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        self.noise: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                self.noise.append(line.rstrip())  # QuickFIX/J's own log lines
                continue
            if "raw" in event:
                event["fields"] = parse(event["raw"])
            self.events.put(event)

    def send(self, *parts: object) -> None:
        self.proc.stdin.write("\t".join(str(p) for p in parts) + "\n")
        self.proc.stdin.flush()
        self.wait(lambda e: e["event"] in ("done", "error"), what=f"the client to take {parts[0]}")

    def wait(self, match, timeout: float = 20.0, what: str = "a message", *, already: bool = False) -> dict:
        """The next event (in order) that `match`es; those before it are kept in `seen` (`already`:
        one seen while waiting for something else counts too)."""
        if already:
            for event in self.seen:
                if match(event):
                    return event
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                event = self.events.get(timeout=max(0.01, left))
            except queue.Empty:
                raise TimeoutError(f"no {what} within {timeout} s; seen: "
                                   f"{[e.get('raw', e['event']).replace(chr(1), '|') for e in self.seen[-10:]]}; rejects sent: "
                                   f"{[e['raw'].replace(chr(1), '|') for e in self.seen if e['event'] == 'sent' and e['fields'].get(35) in ('3', 'j')]}") from None
            self.seen.append(event)
            if event["event"] == "error":
                raise RuntimeError(event["text"])
            if match(event):
                return event

    def app(self, msg_type: str, timeout: float = 20.0, **expect: str) -> dict[int, str]:
        """The next received application message of `msg_type` (and, given, with these tag values: t150="F")."""
        want = {int(k[1:]): v for k, v in expect.items()}
        event = self.wait(lambda e: e["event"] == "app" and e["fields"].get(35) == msg_type and
                          all(e["fields"].get(t) == v for t, v in want.items()), timeout, f"35={msg_type} {expect}")
        return event["fields"] | {"raw": event["raw"]}

    def logon(self) -> None:
        self.wait(lambda e: e["event"] == "logon", 30, "Logon")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
