"""Shared driver for the model-zoo ONNX exporters (export_torchvision.py, export_timm.py).

Each model is exported in its own subprocess (so a crash or hang in one model
cannot take down the run) with a wall-clock timeout. Results are collected in
``<out>/manifest.json``; files that already exist are skipped (resumable), and
every export is written to a temporary name first and renamed into place only
once complete, so no partial ``.onnx`` files are ever left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MANIFEST = "manifest.json"
WORKER_FLAG = "--_worker"


def one_line(exc: BaseException, limit: int = 400) -> str:
    """A single-line description of an exception (type + first non-empty message line)."""
    msg = ""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            msg = line
            break
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--models", default="", help="comma-separated model names (filter)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version")
    p.add_argument("--with-weights", action="store_true",
                   help="keep parameters as initializers, jittered so that no two are "
                        "identical (default: weight-stripped, parameters become graph inputs)")
    p.add_argument("--fold", action="store_true",
                   help="let the exporter fuse Conv+BN and fold constants (its defaults, as in "
                        "most third-party files); by default the graph is kept as written")
    p.add_argument("--jobs", type=int, default=1, help="models exported in parallel (default 1)")
    p.add_argument("--timeout", type=float, default=600.0, help="per-model timeout in seconds")
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads per worker (0 = torch default)")
    p.add_argument("--dry-run", action="store_true", help="only list the selected models")
    p.add_argument(WORKER_FLAG, dest="worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_result", dest="result", default=None, help=argparse.SUPPRESS)


def onnx_export(model, inputs, path, args, input_names, output_names, default_opset):
    """The project's export recipe (TorchScript exporter), shared by every zoo script."""
    import torch

    torch.onnx.export(
        model,
        inputs,
        path,
        dynamo=False,
        export_params=args.with_weights,
        # The exporter de-duplicates equal-valued parameters unless this is set; with random
        # init (all-ones LayerNorm weights, zero biases, ...) unrelated layers would share one
        # parameter input in weight-stripped exports.
        keep_initializers_as_inputs=not args.with_weights,
        opset_version=args.opset or default_opset,
        # Keep the network as written: no Conv+BN fusion (training=PRESERVE on an eval model
        # exports inference-mode BatchNorm) and no folding of weights into new constants (a
        # folded `table[index]` gather or attention mask would otherwise pass for a
        # parameter). --fold gives the exporter's defaults, as third-party files have them.
        do_constant_folding=args.fold,
        training=torch.onnx.TrainingMode.EVAL if args.fold else torch.onnx.TrainingMode.PRESERVE,
        input_names=input_names,
        output_names=output_names,
    )


def split_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


# ---------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------

def run_worker(args, export_fn) -> int:
    """Runs inside the per-model subprocess.

    ``export_fn(job, tmp_path, args)`` must write the ONNX file to ``tmp_path`` and
    may return a dict of extra manifest fields (e.g. the actual input_shape).
    """
    job = json.loads(args.worker)
    out_dir: Path = args.out
    final = out_dir / job["file"]
    result = {"status": "failed", "error": None}
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(job['file']).stem}.", suffix=".onnx.tmp", dir=out_dir)
    os.close(fd)
    t0 = time.time()
    try:
        if args.threads > 0:
            import torch
            torch.set_num_threads(args.threads)
        extra = export_fn(job, tmp, args) or {}
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        result.update(extra)
        result["status"] = "ok"
    except BaseException as e:  # noqa: BLE001 - report everything, incl. SystemExit from libs
        traceback.print_exc()
        result["error"] = one_line(e)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        result["seconds"] = round(time.time() - t0, 2)
        with open(args.result, "w") as f:
            json.dump(result, f)
    return 0 if result["status"] == "ok" else 1


# ---------------------------------------------------------------------------
# driver side
# ---------------------------------------------------------------------------

class Manifest:
    def __init__(self, out_dir: Path):
        self.path = out_dir / MANIFEST
        self.lock = threading.Lock()
        self.entries: dict[str, dict] = {}
        if self.path.exists():
            try:
                for e in json.loads(self.path.read_text()).get("models", []):
                    self.entries[e["file"]] = e
            except Exception:  # noqa: BLE001 - a broken manifest is rebuilt
                pass

    def put(self, entry: dict) -> None:
        with self.lock:
            self.entries[entry["file"]] = entry
            self._write()

    def _write(self) -> None:
        models = sorted(self.entries.values(), key=lambda e: (e.get("task", ""), e["name"]))
        # one model per line keeps the manifest greppable and diff-friendly
        text = ("{\n"
                f' "generated": {json.dumps(time.strftime("%Y-%m-%dT%H:%M:%S%z"))},\n'
                f' "counts": {json.dumps(_counts(models))},\n'
                ' "models": [\n'
                + ",\n".join("  " + json.dumps(m) for m in models)
                + "\n ]\n}\n")
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)


def _counts(models: list[dict]) -> dict:
    c: dict[str, dict[str, int]] = {}
    for e in models:
        t = c.setdefault(e.get("task", "?"), {"ok": 0, "failed": 0})
        t[e["status"]] = t.get(e["status"], 0) + 1
    return c


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def _run_one(script: str, job: dict, args, manifest: Manifest, idx: int, total: int,
             worker_args: list[str]) -> None:
    out_dir: Path = args.out
    final = out_dir / job["file"]
    base = dict(job)
    if final.exists():
        prev = manifest.entries.get(job["file"])
        if prev is None or prev.get("status") != "ok":
            manifest.put({**base, "status": "ok", "error": None, "seconds": None,
                          "size_bytes": final.stat().st_size, "note": "pre-existing file"})
        elif any(prev.get(k) != v for k, v in base.items()):
            manifest.put({**prev, **base})  # a newer plan adds fields (e.g. family)
        log(f"[{idx}/{total}] skip {job['name']} (exists)")
        return
    fd, result_path = tempfile.mkstemp(prefix=".result.", suffix=".json", dir=out_dir)
    os.close(fd)
    os.unlink(result_path)
    cmd = [sys.executable, script, "--out", str(out_dir), WORKER_FLAG, json.dumps(job),
           "--_result", result_path, "--threads", str(args.threads), *worker_args]
    if args.opset is not None:
        cmd += ["--opset", str(args.opset)]
    if args.with_weights:
        cmd.append("--with-weights")
    if args.fold:
        cmd.append("--fold")
    log_path = out_dir / "logs" / f"{Path(job['file']).stem}.log"
    log_path.parent.mkdir(exist_ok=True)
    log(f"[{idx}/{total}] start {job['name']} {job['input_shape']}")
    t0 = time.time()
    entry = dict(base)
    with open(log_path, "w") as lf:
        proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            entry.update(status="failed", error=f"timeout after {args.timeout:.0f} s")
    # the killed worker may have left its temp file behind
    for p in out_dir.glob(f".{Path(job['file']).stem}.*.onnx.tmp"):
        p.unlink(missing_ok=True)
    if "status" not in entry:
        try:
            with open(result_path) as f:
                entry.update(json.load(f))
        except Exception:  # noqa: BLE001 - worker died without writing a result
            entry.update(status="failed",
                         error=f"worker exited with code {proc.returncode} (see logs/{log_path.name})")
    if os.path.exists(result_path):
        os.unlink(result_path)
    entry.setdefault("error", None)
    entry["seconds"] = entry.get("seconds") or round(time.time() - t0, 2)
    if entry["status"] == "ok":
        entry["size_bytes"] = final.stat().st_size
    manifest.put(entry)
    log(f"[{idx}/{total}] {entry['status']} {job['name']} {entry['seconds']} s"
        + (f" -- {entry['error']}" if entry["error"] else ""))


def run_driver(script: str, jobs: list[dict], args, worker_args: list[str] | None = None) -> int:
    """Exports every job in its own subprocess; ``worker_args`` are passed on to each."""
    out_dir: Path = args.out
    if args.dry_run:
        for j in jobs:
            print(j["task"], j["name"], j["input_shape"])
        print(len(jobs), "models")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir)
    total = len(jobs)
    log(f"exporting {total} models to {out_dir} with {args.jobs} worker(s)")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(_run_one, script, j, args, manifest, i + 1, total, worker_args or [])
                for i, j in enumerate(jobs)]
        for f in futs:
            f.result()
    sel = [manifest.entries[j["file"]] for j in jobs if j["file"] in manifest.entries]
    log(f"done: {json.dumps(_counts(sel))}")
    return 0


def perturb_weights(model, scale: float = 0.01, centred: bool = False) -> None:
    """Make every floating-point parameter / BatchNorm statistic distinct.

    Freshly initialised models contain many bit-identical tensors (norm weights
    of 1, zero biases and running means, folded Conv biases of 0, ...). When the
    weights are embedded, the TorchScript exporter de-duplicates equal
    initializers and routes the shared copy through ``Identity`` nodes, which a
    trained model would never show. A small multiplicative/additive jitter
    avoids that while keeping the numerics of the random init.

    ``centred`` makes the additive jitter zero-mean: the default (uniform in [0, scale)) shifts
    every weight up a little, enough to make a classifier's logits all positive, which a
    quantizer calibrating on them would take for a ReLU'd output.
    """
    import torch

    g = torch.Generator().manual_seed(1234)
    tensors = list(model.named_parameters())
    tensors += [(n, b) for n, b in model.named_buffers()
                if n.endswith(("running_mean", "running_var"))]
    with torch.no_grad():
        for name, t in tensors:
            if not t.is_floating_point():
                continue
            noise = torch.rand(t.shape, generator=g, dtype=t.dtype) * scale
            if centred and not name.endswith("running_var"):
                noise -= scale / 2
            if name.endswith("running_var"):
                t.mul_(1.0 + noise)  # stays positive
            else:
                t.add_(noise)
