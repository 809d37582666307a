"""Runs the fill benchmark: every engine on every photo × size × mask case, one process per job,
then scores the fills and writes the results (JSON), the report (Markdown) and the picture grid.

`run.sh` prepares the venv and the Rust driver and then calls this; see `run.sh --help`.
Engines run one after another, never side by side, so each has the whole machine. Their repeats
are interleaved: each case runs in rounds, every engine once per round in a fresh process, so a
burst of load from elsewhere on a shared machine lands on all engines alike rather than on
whichever one happened to be running.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import inputs
import metrics
import probes
import report

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Engine:
    name: str  # the job's engine id
    label: str  # the name the report shows
    runner: str  # "rust" (the driver) or "python" (peers.py)
    kind: str  # "ours" | "diffusion" | "patchmatch" | "synthesis"
    # Largest size it runs at (None = all). texture-synthesis needs 20-130 s per 1024 px fill on
    # the 2-core machine, which alone would push the full run past 30 min; no target needs it.
    max_size: int | None = None


ENGINES: tuple[Engine, ...] = (
    Engine("retouch", "retouch-fill", "rust", "ours"),
    Engine("opencv-telea", "OpenCV TELEA", "python", "diffusion"),
    Engine("opencv-ns", "OpenCV NS", "python", "diffusion"),
    Engine("inpaint-telea", "inpaint (Rust, Telea)", "rust", "diffusion"),
    Engine("pypatchmatch", "pypatchmatch", "python", "patchmatch"),
    Engine("patchmatch-cython", "patchmatch-cython", "python", "patchmatch"),
    Engine("texture-synthesis", "texture-synthesis", "rust", "synthesis", max_size=512),
)


@dataclass(frozen=True)
class Settings:
    mode: str
    sizes: list[int]
    photos: list[str]
    rounds: int  # interleaved rounds per case; an engine past the budget sits out the rest
    repeats: int  # fills per engine per round (a round's first fill is its process's cold one)
    budget_s: float  # an engine that has spent this long on one case starts no further round
    cap_s: float  # skip an engine at a size where its predicted time per fill exceeds this


QUICK = Settings("quick", [256, 512], ["astronaut"], rounds=2, repeats=3, budget_s=2.0, cap_s=20.0)
# Five rounds in the full run: with three, a cheap case (fills of 10-50 ms) could have every
# round disturbed by load from elsewhere; the three time misses of the last three-round run were
# such cases, each within target in other runs. The extra rounds cost the fast engines little,
# and the slow peers still stop at the case budget.
FULL = Settings("full", [256, 512, 1024], list(inputs.PHOTOS), rounds=5, repeats=3, budget_s=3.0, cap_s=60.0)

SEED = 1


def run_job(
    engine: Engine, case: inputs.Case, out: Path, settings: Settings, driver: Path, jobs: Path
) -> dict:
    job = {
        "engine": engine.name,
        "image": str(case.image_path),
        "mask": str(case.mask_path),
        "output": str(out),
        "repeats": settings.repeats,
        # Within a round, no new fill starts after the round's share of the case budget.
        "budget_s": settings.budget_s / settings.rounds,
        "seed": SEED,
    }
    job_path = jobs / f"{case.key}-{engine.name}.json"
    job_path.write_text(json.dumps(job))
    if engine.runner == "rust":
        cmd = [str(driver), str(job_path)]
    else:
        cmd = [sys.executable, str(HERE / "peers.py"), str(job_path)]
    # Generous: the cap is on one predicted fill, a job runs one to `repeats` fills.
    timeout = settings.cap_s * 4 + 60
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine.name} exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_output(case: inputs.Case, out: Path) -> tuple[np.ndarray, np.ndarray, Image.Image]:
    """The case's truth (RGB), its hole (bool) and the engine's output image."""
    truth = np.asarray(Image.open(case.truth_path).convert("RGB"))
    hole = np.asarray(Image.open(case.mask_path).convert("L")) > 0
    return truth, hole, Image.open(out)


def score_output(
    truth: np.ndarray, hole: np.ndarray, filled: Image.Image, sentinel: tuple[int, int, int]
) -> dict[str, float]:
    """Every metric of `metrics.score`, plus unfilled hole pixels and altered alpha."""
    rgb = np.asarray(filled.convert("RGB"))
    scores = metrics.score(rgb, truth, hole)
    # Hole pixels still exactly the sentinel colour: left unfilled, or copied from inside the hole.
    scores["hole_sentinel"] = float(np.count_nonzero(hole & np.all(rgb == sentinel, axis=2)))
    if filled.mode == "RGBA":
        # The input is opaque; an engine that returns RGBA must keep it so.
        alpha = np.asarray(filled)[..., 3]
        scores["alpha_changed"] = float(np.count_nonzero(alpha != 255))
    return scores


def _warm(times: list[float]) -> list[float]:
    """A process's fills without its first (cold: 3-15% slower), unless that is all it ran."""
    return times[1:] or times


def case_time(jobs: list[list[float]]) -> float:
    """An engine's time on one case, from its rounds (one list of fill times per process): the
    median of the warm fills of its fastest round. On a machine shared with other work a burst
    of load slows whatever runs during it, and slows an engine that uses both cores more than
    one that uses a single core; the least-disturbed round is the closest to the idle 2-core
    machine the targets assume, for every engine alike."""
    return min(float(np.median(_warm(times))) for times in jobs)


def pooled_time(jobs: list[list[float]]) -> float:
    """The median of the warm fills of all rounds together (kept in the results beside
    `case_time`, to show how much the load moved the figures)."""
    return float(np.median([t for times in jobs for t in _warm(times)]))


def run_all(settings: Settings, work: Path, driver: Path, log) -> list[dict]:
    cases = inputs.write_cases(work / "inputs", settings.photos, settings.sizes)
    outputs, jobs = work / "outputs", work / "jobs"
    outputs.mkdir(parents=True, exist_ok=True)
    jobs.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    # Slowest median seen per engine at the previous size, to predict the next one.
    slowest: dict[str, tuple[int, float]] = {}
    for case in cases:
        runs: list[tuple[Engine, dict, Path]] = []
        for engine in ENGINES:
            row = {"photo": case.photo, "size": case.size, "mask": case.mask_type, "engine": engine.name}
            rows.append(row)
            if engine.max_size is not None and case.size > engine.max_size:
                row.update(
                    status="skipped", note=f"not run above {engine.max_size} px (time budget of the run)"
                )
                continue
            prev = slowest.get(engine.name)
            if prev is not None and prev[0] < case.size:
                predicted = prev[1] * (case.size / prev[0]) ** 2
                if predicted > settings.cap_s:
                    row.update(
                        status="skipped",
                        note=f"predicted {predicted:.0f} s per fill > cap {settings.cap_s:.0f} s",
                    )
                    continue
            runs.append((engine, row, outputs / f"{case.key}-{engine.name}.png"))
        # Rounds: every engine still within the case budget runs once per round, in turn.
        done: dict[str, list[dict]] = {engine.name: [] for engine, _, _ in runs}
        for _ in range(settings.rounds):
            for engine, row, out in runs:
                results = done[engine.name]
                spent = sum(t for r in results for t in r["times_s"])
                if row.get("status") == "failed" or (results and spent >= settings.budget_s):
                    continue
                try:
                    results.append(run_job(engine, case, out, settings, driver, jobs))
                except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as err:
                    row.update(status="failed", note=str(err)[-300:])
                    log(f"  {case.key:28} {engine.name:18} FAILED {row['note']}")
        for engine, row, out in runs:
            results = done[engine.name]
            if row.get("status") == "failed":
                continue
            per_job = [r["times_s"] for r in results]
            median = case_time(per_job)
            peak = max(results, key=lambda r: r["rss_peak_kib"])
            truth, hole, filled = load_output(case, out)
            row.update(
                status="ok",
                output=str(out.relative_to(work)),
                times_s=per_job,
                median_s=median,
                pooled_median_s=pooled_time(per_job),
                rss_before_fill_kib=peak["rss_before_fill_kib"],
                rss_peak_kib=peak["rss_peak_kib"],
                **score_output(truth, hole, filled, case.sentinel),
            )
            if engine.name == report.OURS:
                # The target probes (see `probes.py`), for our fills only.
                row["probes"] = probes.probe_scores(np.asarray(filled.convert("RGB")), truth, hole)
            done_size, done_time = slowest.get(engine.name, (case.size, 0.0))
            if done_size != case.size:
                done_time = 0.0
            slowest[engine.name] = (case.size, max(done_time, median))
            fills = sum(len(t) for t in per_job)
            log(
                f"  {case.key:28} {engine.name:18} {median * 1000:9.1f} ms  n={fills}/{len(per_job)}"
                f"  psnr {row['psnr']:6.2f}  gmsd {row['gmsd']:.3f}  grad {row['grad_ratio']:.2f}"
            )
    return rows


def environment(settings: Settings, started: float, load_before: tuple[float, ...]) -> dict:
    return {
        "mode": settings.mode,
        "sizes": settings.sizes,
        "photos": {p: inputs.photo_native_size(p) for p in settings.photos},
        "rounds": settings.rounds,
        "repeats": settings.repeats,
        "budget_s": settings.budget_s,
        "cap_s": settings.cap_s,
        "seed": SEED,
        "mask_coverage": {
            m: {str(s): inputs.coverage(inputs.make_mask(m, s)) for s in settings.sizes}
            for m in inputs.MASK_TYPES
        },
        "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "wall_s": time.time() - started,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def versions() -> dict:
    """The machine, the toolchain, and the version of every engine in the run."""
    from importlib import metadata

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    out = {
        "cpu": cpu,
        "nproc": len(os.sched_getaffinity(0)),
        "mem": f"{mem_kib / 2**20:.0f} GiB",
        "python": sys.version.split()[0],
        "rustc": subprocess.run(["rustc", "-V"], capture_output=True, text=True, check=False).stdout.strip(),
    }
    for pkg in ("opencv-python-headless", "pypatchmatch", "patchmatch-cython", "numpy", "scikit-image"):
        out[pkg] = metadata.version(pkg)
    lock = tomllib.loads((HERE / "driver" / "Cargo.lock").read_text())
    for pkg in lock["package"]:
        if pkg["name"] in ("texture-synthesis", "inpaint"):
            out[pkg["name"]] = pkg["version"]
    root = HERE.parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    engine = "crates/retouch-fill"
    last = (
        git("log", "-1", "--format=%h (%cd)", "--date=format:%Y-%m-%d %H:%M", "--", engine) or "uncommitted"
    )
    dirty = git("status", "--porcelain", "--", engine)
    out["retouch_fill"] = f"commit {last}" + (" plus uncommitted changes" if dirty else "")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="256 and 512 px, one photo")
    parser.add_argument("--driver", type=Path, required=True, help="the built fill-bench-driver")
    parser.add_argument("--work", type=Path, default=HERE / "target" / "work")
    parser.add_argument("--results", type=Path, help="results JSON (default: see run.sh --help)")
    parser.add_argument("--doc", type=Path, help="the Markdown report to write")
    parser.add_argument("--grid", type=Path, help="the picture grid (JPEG) to write")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite doc and grid from the results JSON"
    )
    args = parser.parse_args()

    settings = QUICK if args.quick else FULL
    # A full run writes the committed results; a quick run (engine work in progress) stays in
    # target/ so it never overwrites them.
    if settings.mode == "full":
        docs = HERE.parent.parent / "docs"
        defaults = (
            HERE / "results" / "full.json",
            docs / "fill-benchmark.md",
            docs / "images" / "fill-grid.jpg",
        )
    else:
        out = HERE / "target" / "quick"
        defaults = (out / "results.json", out / "fill-benchmark.md", out / "fill-grid.jpg")
    results = args.results or defaults[0]
    args.doc = args.doc or defaults[1]
    args.grid = args.grid or defaults[2]
    work = args.work / settings.mode
    if args.report_only:
        data = json.loads(results.read_text())
    else:
        # Versions now: the driver was just built from the engine as it is at this moment.
        started, load_before, built = time.time(), os.getloadavg(), versions()
        print(f"fill bench ({settings.mode}): sizes {settings.sizes}, photos {settings.photos}", flush=True)
        rows = run_all(settings, work, args.driver, lambda line: print(line, flush=True))
        env = environment(settings, started, load_before)
        env["versions"] = built
        data = {"environment": env, "engines": [e.__dict__ for e in ENGINES], "rows": rows}
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(data, indent=1) + "\n")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.grid.parent.mkdir(parents=True, exist_ok=True)
    report.write_grid(data, work, args.grid)
    report.write_markdown(data, args.doc, args.grid)
    print(f"wrote {results}, {args.doc}, {args.grid}")


if __name__ == "__main__":
    main()
