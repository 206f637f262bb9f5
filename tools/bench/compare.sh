#!/usr/bin/env bash
# aiop vs onnx-tool on ResNet-50 (with weights and weight-stripped), plus a whole zoo directory.
#
#   tools/bench/compare.sh            # ~1.5-3.5 minutes on a 2-core machine, plus any build
#
# Environment:
#   AIOP_BENCH_DIR  resnet50.onnx + resnet50_weights.onnx   (default ~/.cache/aiop/zoo/bench)
#   AIOP_ZOO_DIR    directory of .onnx exports               (default ~/.cache/aiop/zoo/torchvision)
#   AIOP_VENV       Python venv with onnx-tool               (default ~/.cache/aiop/venv)
#   REPEAT          onnx-tool in-process repetitions          (default 20)
#   OUT             where the raw results go                 (default target/bench-compare)
#
# Measured:
#   in-process  onnx-tool: tools/bench/onnx_tool_profile.py (load + shape_infer + profile, median of
#               REPEAT); aiop: criterion, `cargo bench --bench convert` (convert_file, median).
#   command     hyperfine (if installed): `aiop convert FILE -o X.cg` vs
#               `python -m onnx_tool -m profile -i FILE` (interpreter start-up and imports included),
#               and `aiop convert ZOO -o DIR` (all cores) for the directory.
# Prints a Markdown table; the raw JSON is left in $OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BENCH_DIR=${AIOP_BENCH_DIR:-$HOME/.cache/aiop/zoo/bench}
ZOO_DIR=${AIOP_ZOO_DIR:-$HOME/.cache/aiop/zoo/torchvision}
VENV=${AIOP_VENV:-$HOME/.cache/aiop/venv}
REPEAT=${REPEAT:-20}
OUT=${OUT:-$ROOT/target/bench-compare}
PY=$VENV/bin/python
AIOP=$ROOT/target/release/aiop
FILES=(resnet50_weights.onnx resnet50.onnx)
ZOO_ID=$(basename "$ZOO_DIR")

for f in "${FILES[@]}"; do
    [[ -f $BENCH_DIR/$f ]] || { echo "missing $BENCH_DIR/$f (tools/zoo/export_torchvision.py makes it)" >&2; exit 1; }
done
[[ -x $PY ]] || { echo "no Python venv at $VENV" >&2; exit 1; }
"$PY" -c 'import onnx_tool' || { echo "onnx-tool is not installed in $VENV" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/tmp"
log() { printf '\n== %s\n' "$*" >&2; }

log "machine"
{
    echo "nproc: $(nproc)"
    grep -m1 'model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*: /cpu: /'
    echo "rustc: $(rustc --version)"
    echo "onnx-tool: $("$PY" -c 'from onnx_tool.utils import VERSION; print(VERSION)')"
    echo "python: $("$PY" -c 'import sys; print(sys.version.split()[0])')"
    command -v hyperfine >/dev/null && hyperfine --version
} | tee "$OUT/machine.txt" >&2

log "build (release binary + criterion bench)"
cargo build --release --quiet
cargo bench --bench convert --no-run --quiet

log "aiop totals"
for f in "${FILES[@]}"; do
    "$AIOP" inspect "$BENCH_DIR/$f" --json >"$OUT/aiop_inspect_${f%.onnx}.json"
done

log "onnx-tool in-process: load + profile, median of $REPEAT"
"$PY" tools/bench/onnx_tool_profile.py -n "$REPEAT" "${FILES[@]/#/$BENCH_DIR/}" | tee "$OUT/onnx_tool.jsonl" >&2

log "aiop in-process: criterion"
rm -rf target/criterion/convert target/criterion/convert_dir
AIOP_BENCH_DIR=$BENCH_DIR AIOP_ZOO_DIR=$ZOO_DIR cargo bench --bench convert --quiet 2>&1 \
    | { grep -E "^(convert|note)|time:" || true; } | tee "$OUT/criterion.txt" >&2
# Keep criterion's medians (seconds) with the rest of this run's results.
python3 - "$OUT" <<'PY'
import glob, json, os, sys
res = {}
for p in sorted(glob.glob("target/criterion/convert*/*/new/estimates.json")):
    bench = os.path.relpath(os.path.dirname(os.path.dirname(p)), "target/criterion")
    res[bench] = json.load(open(p))["median"]["point_estimate"] / 1e9
json.dump(res, open(os.path.join(sys.argv[1], "criterion_medians.json"), "w"), indent=1)
PY

HYPERFINE=0
if command -v hyperfine >/dev/null; then
    HYPERFINE=1
    log "whole commands: hyperfine"
    hyperfine -N --style basic --warmup 3 --runs 30 --export-json "$OUT/hf_aiop_resnet50.json" \
        "$AIOP convert $BENCH_DIR/resnet50.onnx -o $OUT/tmp/resnet50.cg" >&2
    hyperfine -N --style basic --warmup 2 --runs 15 --export-json "$OUT/hf_aiop_resnet50_weights.json" \
        "$AIOP convert $BENCH_DIR/resnet50_weights.onnx -o $OUT/tmp/resnet50_weights.cg" >&2
    for f in "${FILES[@]}"; do
        hyperfine -N --style basic --warmup 1 --runs 8 --export-json "$OUT/hf_onnx_tool_${f%.onnx}.json" \
            "$PY -m onnx_tool -m profile -i $BENCH_DIR/$f -d input:f32:1x3x224x224" >&2
    done
    hyperfine -N --style basic --warmup 1 --runs 5 --export-json "$OUT/hf_aiop_zoo.json" \
        "$AIOP convert $ZOO_DIR -o $OUT/tmp/zoo" >&2
else
    echo "note: hyperfine not installed (apt-get install -y hyperfine); whole-command times skipped" >&2
fi

log "results"
python3 - "$OUT" "$ZOO_DIR" "$ZOO_ID" "$HYPERFINE" <<'PY' | tee "$OUT/table.md"
import json, os, sys
out, zoo_dir, zoo_id, hyperfine = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

def crit(group, bench):
    p = os.path.join("target/criterion", group, bench, "new/estimates.json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["median"]["point_estimate"] / 1e9

def hf(name):
    p = os.path.join(out, f"hf_{name}.json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["results"][0]["median"]

def fmt_t(s):
    if s is None:
        return "–"
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.3f} s"

def fmt_n(n):
    return "–" if n is None else f"{n:,}"

ot = {}
for line in open(os.path.join(out, "onnx_tool.jsonl")):
    d = json.loads(line)
    ot[d["file"][:-5]] = d

print("| file | tool | timing | median | MACs | params | onnx-tool / aiop |")
print("|---|---|---|---:|---:|---:|---:|")
for stem in ("resnet50_weights", "resnet50"):
    a = json.load(open(os.path.join(out, f"aiop_inspect_{stem}.json")))
    o = ot[stem]
    a_in = crit("convert", stem)
    ratio = f"**{o['median_s'] / a_in:.1f}×**" if a_in else "–"
    print(f"| {stem}.onnx | onnx-tool {o['version']} | in-process, load+profile (n={o['repeat']}) "
          f"| {fmt_t(o['median_s'])} | {fmt_n(o['macs'])} | {fmt_n(o['params'])} | |")
    print(f"| {stem}.onnx | aiop | in-process, convert_file (criterion) "
          f"| {fmt_t(a_in)} | {fmt_n(a['macs'])} | {fmt_n(a['params'])} | {ratio} |")
    if hyperfine:
        ho, ha = hf(f"onnx_tool_{stem}"), hf(f"aiop_{stem}")
        r = f"{ho / ha:.1f}×" if ho and ha else "–"
        print(f"| {stem}.onnx | onnx-tool {o['version']} | command, `python -m onnx_tool -m profile` | {fmt_t(ho)} | | | |")
        print(f"| {stem}.onnx | aiop | command, `aiop convert -o X.cg` | {fmt_t(ha)} | | | {r} |")

n_files = sum(1 for dp, _, fs in os.walk(zoo_dir) for f in fs if f.endswith(".onnx"))
seq = crit("convert_dir", zoo_id)
print(f"| {zoo_id}/ ({n_files} files) | aiop | in-process, sequential (criterion) | {fmt_t(seq)} | | | |")
if hyperfine:
    rep = os.path.join(out, "tmp/zoo/report.json")
    extra = ""
    if os.path.exists(rep):
        r = json.load(open(rep))
        st = {}
        for e in r:
            st[e.get("status")] = st.get(e.get("status"), 0) + 1
        extra = " (" + ", ".join(f"{v} {k}" for k, v in sorted(st.items())) + ")"
    print(f"| {zoo_id}/ ({n_files} files) | aiop | command, `aiop convert DIR -o OUTDIR`, all cores{extra} "
          f"| {fmt_t(hf('aiop_zoo'))} | | | |")

o, a = ot["resnet50_weights"], crit("convert", "resnet50_weights")
s = crit("convert", "resnet50")
print()
print(f"Targets: onnx-tool/aiop on ResNet-50 with weights ≥ 20×: "
      f"{'met' if a and o['median_s'] / a >= 20 else 'NOT met'} "
      f"({o['median_s'] / a:.1f}×)" if a else "Targets: –")
if s is not None:
    print(f"weight-stripped ResNet-50 < 10 ms: {'met' if s < 0.010 else 'NOT met'} ({fmt_t(s)})")
PY
