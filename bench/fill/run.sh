#!/usr/bin/env bash
# The fill-engine benchmark in one command: prepares bench/fill/.venv (the Python peers and the
# scoring tools), builds the Rust driver (retouch-fill, texture-synthesis, inpaint), checks the
# bench's own metrics, runs every engine on every case and rewrites docs/fill-benchmark.md and
# docs/images/fill-grid.jpg.
#
#   bench/fill/run.sh                 full run: 4 photos x 256/512/1024 px x 4 masks, under
#                                     30 min on 2 cores; writes docs/fill-benchmark.md,
#                                     docs/images/fill-grid.jpg, bench/fill/results/full.json
#   bench/fill/run.sh --quick         1 photo x 256/512 px x 4 masks, a few minutes; writes
#                                     bench/fill/target/quick/{fill-benchmark.md,fill-grid.jpg,results.json}
#   bench/fill/run.sh --report-only   rewrite the doc and grid from the results JSON
#                                     (with --quick: the quick ones)
#
# Needs python3 >= 3.11 with venv, cargo, and network access to PyPI and crates.io on first run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"

for arg in "$@"; do
  case "$arg" in
    --quick | --report-only) ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

# The venv is rebuilt only when requirements.txt changes.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "== preparing $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
# pypatchmatch's wheel bundles its native library (no OpenCV dev package needed); say so if not.
"$venv/bin/python" -c 'import patchmatch, sys; sys.exit(0 if patchmatch.patchmatch_available else "pypatchmatch: native library did not load")'

echo "== building the Rust driver"
# Not --locked: the engine is a path dependency and may gain dependencies of its own.
# Built from inside driver/ so that driver/.cargo/config.toml (target-dir = bench/fill/target)
# applies: cargo reads config from the working directory, not from --manifest-path, and a
# build elsewhere would leave a stale driver at the path below.
(cd "$here/driver" && cargo build --quiet --release)
driver="$here/target/release/fill-bench-driver"

echo "== checking the bench's metrics and masks"
(cd "$here" && "$venv/bin/python" -m unittest --quiet test_bench)

echo "== running"
cd "$here"
exec "$venv/bin/python" bench.py --driver "$driver" "$@"
