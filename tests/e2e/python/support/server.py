"""Start and stop a real `retouch serve` process on port 0 and look at it from outside.

Everything an end-to-end test needs about the process lives here: the listening line
(read with a timeout), the captured stderr log, the data directory, memory figures from
`/proc/<pid>/status`, and a SIGTERM stop that checks the exit code.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:(\d+))\s*$")

# The server is built in the debug profile; give it time to come up on a busy 2-core box.
START_TIMEOUT_S = 60.0


def retouch_bin() -> str:
    """The binary under test: `$RETOUCH_BIN`, or the workspace's debug build."""
    env = os.environ.get("RETOUCH_BIN")
    if env:
        return env
    root = Path(__file__).resolve().parents[4]
    return str(root / "target" / "debug" / "retouch")


@dataclass
class Server:
    """One running `retouch serve` process."""

    proc: subprocess.Popen[bytes]
    base: str
    port: int
    data_dir: Path
    work_dir: Path
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def proc_status(self) -> dict[str, int]:
        """VmRSS / VmHWM (kB) of the server process, from /proc."""
        out: dict[str, int] = {}
        text = Path(f"/proc/{self.pid}/status").read_text()
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def rss_kb(self) -> int:
        return self.proc_status()["VmRSS"]

    def hwm_kb(self) -> int:
        return self.proc_status()["VmHWM"]

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def is_running(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM without waiting."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        self.exit_code = self.proc.wait(timeout=timeout)
        return self.exit_code

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code (killing the process if it hangs)."""
        if self.proc.poll() is not None:
            self.exit_code = self.proc.returncode
            return self.exit_code
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(
                f"server did not exit within {timeout}s of SIGTERM; stderr tail:\n{self.stderr_tail()}"
            ) from None

    def stderr_tail(self, n: int = 40) -> str:
        try:
            lines = self.stderr_text().splitlines()
        except OSError:
            return "<no stderr>"
        return "\n".join(lines[-n:])

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def start_server(
    *extra_args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start `retouch serve --port 0` and wait for its listening line and /health."""
    work_dir = Path(tempfile.mkdtemp(prefix="retouch-e2e-"))
    if data_dir is None:
        data_dir = work_dir / "data"
    stderr_path = work_dir / "stderr.log"
    args = [
        retouch_bin(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    full_env = dict(os.environ)
    full_env.setdefault("RUST_LOG", "info")
    full_env.setdefault("RUST_BACKTRACE", "1")
    if env:
        full_env.update(env)
    stderr_file = stderr_path.open("wb")
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env=full_env,
    )
    stderr_file.close()
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        # Keep draining stdout so the server can never block on a full pipe.
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    deadline = time.monotonic() + START_TIMEOUT_S
    base = None
    port = 0
    first_line = None
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        first_line = line
        m = LISTENING.match(line)
        if m:
            base, port = m.group(1), int(m.group(2))
        break
    server = Server(
        proc=proc,
        base=base or "",
        port=port,
        data_dir=data_dir,
        work_dir=work_dir,
        stderr_path=stderr_path,
        stdout_lines=seen,
    )
    if base is None:
        tail = server.stderr_tail()
        server.cleanup()
        raise AssertionError(
            f"server did not print 'listening on http://127.0.0.1:<port>' within {START_TIMEOUT_S}s; "
            f"first stdout line: {first_line!r}; stderr:\n{tail}"
        )
    r = requests.get(server.url("/health"), timeout=10)
    if r.status_code != 200:
        server.cleanup()
        raise AssertionError(f"/health answered {r.status_code}: {r.text[:300]}")
    return server
