"""The gateway benchmark: retouch, Portkey's gateway and LiteLLM's proxy forwarding the same 4 MB
OpenAI image edit to the same mock upstream, one after another on one machine, against the
mock reached directly.

For each gateway it measures latency at concurrency 1 and 8 (after a warm-up), then, on a
freshly started gateway with the mock holding every request for a few seconds, the resident
memory while K requests are in flight. The mock hashes the image part of every request it
receives, so a gateway that drops or re-encodes the image is caught. Only the standard library
is used here; the measuring is done by the Rust driver (bench/gateway/driver).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = HERE / "work"
# A throwaway key for the loopback-only LiteLLM proxy (it will not start without one).
LITELLM_MASTER_KEY = "sk-bench-3f9a1c7e5b2d40688e1c3f5b7d9e0a2b4c6d8e0f1a3b5c7d"


@dataclass(frozen=True)
class Plan:
    """How much to measure: request counts per phase, and the memory test's shape."""

    mode: str
    warmup: int
    c1_requests: int
    c8_requests: int
    inflight: int
    hold_ms: int
    rounds: int


PLANS = {
    "full": Plan("full", warmup=30, c1_requests=300, c8_requests=800, inflight=16, hold_ms=4000,
                 rounds=5),
    "quick": Plan("quick", warmup=10, c1_requests=60, c8_requests=160, inflight=8, hold_ms=3000,
                  rounds=2),
}


@dataclass
class Gateway:
    """One way of reaching the mock: a command to start (None for direct) and how to call it."""

    name: str
    version: str
    how: str
    start: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    path: str = "/v1/images/edits"
    model: str = "gpt-image-1"
    headers: list[str] = field(default_factory=list)
    ready_path: str | None = None
    startup_s: float = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str | None, deadline_s: float, proc: subprocess.Popen) -> None:
    """Waits until the port accepts connections (and `path` answers, when given)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            if path is None:
                return
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready on port {port} after {deadline_s:.0f} s")


class Running:
    """A child process with its log in bench/gateway/work/logs, stopped on exit."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None):
        logs = WORK / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Our own process group (start_new_session), so workers the gateway forked go too.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def mock_stats(port: int, reset: bool = False) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/stats{'/reset' if reset else ''}",
        method="POST" if reset else "GET",
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


class Bench:
    def __init__(self, plan: Plan, driver: Path, image: Path, sha256: str):
        self.plan = plan
        self.driver = driver
        self.image = image
        self.sha256 = sha256

    def start_mock(self, delay_ms: int, tag: str) -> tuple[Running, int]:
        port = free_port()
        mock = Running(
            f"mock-{tag}",
            [
                str(self.driver / "mock-upstream"),
                "--port", str(port),
                "--delay-ms", str(delay_ms),
                "--expect-sha256", self.sha256,
            ],
        )
        wait_http(port, "/stats", 20, mock.proc)
        return mock, port

    def start_gateway(self, gw: Gateway, mock_port: int, tag: str) -> tuple[Running | None, int]:
        if gw.start is None:
            return None, mock_port
        port = free_port()
        fill = {"PORT": str(port), "MOCK": str(mock_port), "WORK": str(WORK),
                "DRIVER": str(self.driver)}
        cmd = [part.format(**fill) for part in gw.start]
        if gw.name == "litellm":
            write_litellm_config(mock_port)
        proc = Running(f"{gw.name}-{tag}", cmd, gw.env)
        try:
            wait_http(port, gw.ready_path, gw.startup_s, proc.proc)
        except RuntimeError as e:
            proc.stop()
            raise RuntimeError(f"{gw.name} {e}; see {proc.log_path}") from e
        return proc, port

    def loadgen(self, gw: Gateway, port: int, mock_port: int, *, concurrency: int,
                requests: int, warmup: int, settle_ms: int = 0, watch: int | None = None) -> dict:
        cmd = [
            str(self.driver / "loadgen"),
            "--url", f"http://127.0.0.1:{port}{gw.path}",
            "--image", str(self.image),
            "--model", gw.model,
            "--concurrency", str(concurrency),
            "--requests", str(requests),
            "--warmup", str(warmup),
            "--settle-ms", str(settle_ms),
        ]
        for header in gw.headers:
            cmd += ["--header", header.format(MOCK=mock_port)]
        if watch is not None:
            cmd += ["--watch-pid", str(watch)]
        mock_stats(mock_port, reset=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        result["mock"] = mock_stats(mock_port)
        result["sent"] = requests + warmup
        return result

    def run_latency(self, gws: list[Gateway]) -> dict[str, dict]:
        """Latency of every gateway, measured in interleaved rounds.

        All gateways (each with its own mock) run at once, idle but for the one being measured;
        each phase is split into rounds that visit the gateways in a rotating order, so a
        slow spell on this shared machine lands on all of them rather than on one.
        """
        entries: dict[str, dict] = {}
        running: dict[str, tuple[Gateway, Running, int, Running | None, int]] = {}
        try:
            for gw in gws:
                entry: dict = {"name": gw.name, "version": gw.version, "how": gw.how}
                entries[gw.name] = entry
                print(f"== {gw.name}: starting", flush=True)
                mock, mock_port = self.start_mock(0, f"{gw.name}-latency")
                try:
                    proc, port = self.start_gateway(gw, mock_port, "latency")
                except RuntimeError as e:
                    mock.stop()
                    entry["error"] = str(e)
                    print(f"   failed to start: {e}", flush=True)
                    continue
                running[gw.name] = (gw, mock, mock_port, proc, port)
                smoke = self.loadgen(gw, port, mock_port, concurrency=1, requests=1, warmup=0)
                if smoke["ok"] != 1:
                    entry["error"] = f"the first request failed: {smoke['first_failure']}"
                    print(f"   {entry['error'][:300]}", flush=True)
                    del running[gw.name]
                    if proc is not None:
                        proc.stop()
                    mock.stop()
            rounds = self.plan.rounds
            for concurrency, total in ((1, self.plan.c1_requests), (8, self.plan.c8_requests)):
                parts: dict[str, list[dict]] = {name: [] for name in running}
                names = list(running)
                for rnd in range(rounds):
                    order = names[rnd % len(names):] + names[:rnd % len(names)]
                    for name in order:
                        gw, _, mock_port, _, port = running[name]
                        warmup = self.plan.warmup if rnd == 0 else concurrency
                        parts[name].append(self.loadgen(
                            gw, port, mock_port, concurrency=concurrency,
                            requests=total // rounds, warmup=warmup))
                for name, results in parts.items():
                    merged = report.merge_rounds(results)
                    entries[name][f"c{concurrency}"] = merged
                    lat = merged["latency"]
                    print(f"   {name} c={concurrency}: p50 {lat['p50_ms']:.2f} ms  p90 "
                          f"{lat['p90_ms']:.2f}  p99 {lat['p99_ms']:.2f}  ok {merged['ok']}/"
                          f"{merged['requests']}  mock image ok {merged['mock']['image_ok']}/"
                          f"{merged['sent']}", flush=True)
        finally:
            for _, mock, _, proc, _ in running.values():
                if proc is not None:
                    proc.stop()
                mock.stop()
        return entries

    def run_memory(self, gw: Gateway) -> dict:
        k, hold = self.plan.inflight, self.plan.hold_ms
        print(f"== {gw.name}: memory, {k} requests held {hold} ms", flush=True)
        mock, mock_port = self.start_mock(hold, f"{gw.name}-memory")
        try:
            proc, port = self.start_gateway(gw, mock_port, "memory")
        except RuntimeError as e:
            mock.stop()
            return {"error": str(e)}
        try:
            assert proc is not None
            # Two requests first (lazy initialisation, pools), a pause, then the idle reading.
            r = self.loadgen(gw, port, mock_port, concurrency=k, requests=k, warmup=2,
                             settle_ms=1500, watch=proc.proc.pid)
        finally:
            proc.stop()
            mock.stop()
        mem = r["memory"]
        grown = (mem["peak_rss_kib"] - mem["idle_rss_kib"]) * 1024
        r["ratio"] = grown / (k * r["payload_bytes"])
        print(f"   idle {mem['idle_rss_kib'] / 1024:.1f} MiB, peak {mem['peak_rss_kib'] / 1024:.1f}"
              f" MiB, {r['ratio']:.2f}x payload per in-flight request; ok {r['ok']}/{k}",
              flush=True)
        return r


def write_litellm_config(mock_port: int) -> None:
    (WORK / "litellm.yaml").write_text(
        "# Written by bench.py for one run: one model alias routed to the mock upstream.\n"
        "model_list:\n"
        "  - model_name: bench-edit\n"
        "    litellm_params:\n"
        "      model: openai/gpt-image-1\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n"
        "      api_key: sk-test\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )


def gateways(retouch: Path) -> list[Gateway]:
    portkey_pkg = HERE / "node_modules/@portkey-ai/gateway"
    portkey_version = json.loads((portkey_pkg / "package.json").read_text())["version"]
    litellm_version = subprocess.run(
        [str(HERE / ".venv/bin/python"), "-c",
         "import importlib.metadata as m; print(m.version('litellm'))"],
        check=True, capture_output=True, text=True).stdout.strip()
    portkey_headers = [
        "x-portkey-provider: openai",
        "x-portkey-custom-host: http://127.0.0.1:{MOCK}/v1",
        "x-portkey-api-key: sk-test",
    ]
    return [
        Gateway("direct", "-", "the loader posts straight to the mock"),
        Gateway(
            "relay", "-", "`relay` (bench driver): reads the whole body into one buffer and "
            "forwards it with hyper/reqwest; no parsing, no logging — the floor for any gateway "
            "that buffers the request",
            start=["{DRIVER}/relay", "--port", "{PORT}", "--upstream", "http://127.0.0.1:{MOCK}"],
        ),
        Gateway(
            "retouch", retouch_version(), "`retouch serve`, Portkey headers "
            "(`x-portkey-provider: openai`, `x-portkey-custom-host`, `x-portkey-api-key`)",
            start=[str(retouch), "serve", "--port", "{PORT}", "--data-dir", "{WORK}/retouch-data"],
            env={"RUST_LOG": "info"},
            headers=portkey_headers,
            ready_path="/v1/models",
        ),
        *([Gateway(
            "retouch-before", os.environ.get("RETOUCH_BEFORE_VERSION", "?"),
            "an earlier retouch build (`RETOUCH_BEFORE_BIN`), run the same way, for a "
            "before/after comparison within one run",
            start=[os.environ.get("RETOUCH_BEFORE_BIN", ""), "serve", "--port", "{PORT}",
                   "--data-dir", "{WORK}/retouch-data"],
            env={"RUST_LOG": "info"},
            headers=portkey_headers,
            ready_path="/v1/models",
        )] if os.environ.get("RETOUCH_BEFORE_BIN") else []),
        Gateway(
            "portkey", portkey_version, "`@portkey-ai/gateway` on Node "
            f"{node_version()}, the same Portkey headers",
            start=["node", str(portkey_pkg / "build/start-server.js"), "--port={PORT}",
                   "--headless"],
            env={"NODE_ENV": "production"},
            headers=portkey_headers,
        ),
        Gateway(
            "litellm", litellm_version, "`litellm --config` proxy, model alias `bench-edit` = "
            "`openai/gpt-image-1` with `api_base` at the mock",
            start=[str(HERE / ".venv/bin/litellm"), "--config", "{WORK}/litellm.yaml",
                   "--host", "127.0.0.1", "--port", "{PORT}", "--num_workers", "1"],
            # Offline: the bundled model cost map instead of fetching it, no telemetry. The
            # proxy refuses to start without a master key, which callers then present.
            env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
                 "LITELLM_MASTER_KEY": LITELLM_MASTER_KEY},
            model="bench-edit",
            headers=[f"authorization: Bearer {LITELLM_MASTER_KEY}"],
            ready_path="/health/liveliness",
            startup_s=180,
        ),
    ]


def retouch_version() -> str:
    if os.environ.get("RETOUCH_VERSION"):
        return os.environ["RETOUCH_VERSION"]

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                              text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "crates")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def main() -> int:
    # A SIGTERM unwinds like Ctrl-C, so every `finally` stops the gateway and mock it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", type=Path, required=True, help="the driver's release dir")
    parser.add_argument("--retouch", type=Path, required=True, help="the retouch binary")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--only", help="comma-separated gateways to run (no doc is written)")
    args = parser.parse_args()
    plan = PLANS["quick" if args.quick else "full"]
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / f"{plan.mode}.json"
    doc = (results_dir / "quick.md") if args.quick else (ROOT / "docs/gateway-benchmark.md")

    if not args.report_only:
        WORK.mkdir(exist_ok=True)
        shutil.rmtree(WORK / "retouch-data", ignore_errors=True)
        image = WORK / "bench.png"
        subprocess.run([str(args.driver / "make-image"), "--out", str(image)], check=True)
        import hashlib

        sha = hashlib.sha256(image.read_bytes()).hexdigest()
        bench = Bench(plan, args.driver, image, sha)
        chosen = gateways(args.retouch)
        if args.only:
            names = set(args.only.split(","))
            chosen = [g for g in chosen if g.name in names]
        started = time.time()
        entries = bench.run_latency(chosen)
        for g in chosen:
            if g.start is not None and "error" not in entries[g.name]:
                entries[g.name]["memory"] = bench.run_memory(g)
        results = {
            "mode": plan.mode,
            "plan": plan.__dict__,
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "machine": machine(),
            "image": {"bytes": image.stat().st_size, "sha256": sha},
            "gateways": [entries[g.name] for g in chosen],
        }
        results["duration_s"] = round(time.time() - started, 1)
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        if args.only:
            out = results_dir / f"{plan.mode}-only-{args.only.replace(',', '-')}.json"
            out.write_text(json.dumps(results, indent=2) + "\n")
            print(f"wrote {out.relative_to(ROOT)} (no doc for a partial run)")
            return 0
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")

    results = json.loads(out.read_text())
    before_path = results_dir / "full-before-fix.json"
    before = json.loads(before_path.read_text()) if before_path.exists() else None
    doc.write_text(report.render(results, before))
    print(f"wrote {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
