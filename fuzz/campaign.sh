#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 600), one after another
# on one core, and prints a Markdown row per target: seconds, executions, and the OOMs,
# timeouts and crashes found (their inputs land in fuzz/artifacts/<target>/).
# Usage: fuzz/campaign.sh [SECONDS] [TARGET...]   (run fuzz/seeds.sh first)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$(dirname "$here")"
seconds="${1:-600}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(onnx_import tf_import cg_file dataset labels predictor)
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiop/fuzz-target}"
logs="$here/artifacts/logs"
mkdir -p "$logs"
cargo fuzz build >/dev/null
echo "| target | commit | seconds | executions | OOMs / timeouts / crashes |"
echo "|---|---|---:|---:|---|"
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  start=$(date +%s)
  cargo fuzz run "$t" "$here/corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -fork=1 -ignore_crashes=1 \
    -print_final_stats=1 >"$log" 2>&1 || true
  took=$(($(date +%s) - start))
  # fork mode reports "#<executions>: ... oom/timeout/crash: a/b/c ..." as it goes
  last=$(grep -E '^#[0-9]+: .*oom/timeout/crash' "$log" | tail -n 1 || true)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  found=$(sed -E 's#.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*#\1 / \2 / \3#' <<<"$last")
  echo "| \`$t\` | $(git rev-parse --short HEAD) | $took | ${execs:-?} | ${found:-?} |"
done
