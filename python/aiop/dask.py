"""Scale-out on a Dask cluster: conversion and prediction spread over the workers of an
existing ``dask.distributed`` cluster; only file paths or network specs travel to the workers
and only scores come back.

>>> from dask.distributed import Client
>>> import aiop, aiop.dask
>>> client = Client("tcp://scheduler:8786")           # or Client(LocalCluster(n_workers=2))
>>> specs = aiop.zoo.nb201_specs(10_000, seed=0)      # or OFA subnets, or model paths
>>> ranking = aiop.dask.rank(specs, "cifar10-top1", client, predictor="/shared/nb201.onnx")

Each item is a path that every worker can read (a model or CG file) or a network spec
(:mod:`aiop.zoo`: ``nb201:…``, ``ofa:…``) that the worker builds itself. Items go out in
chunks (``chunk_size``); a chunk whose worker dies is run again by Dask on another worker, and
results are assembled by chunk, so none is lost or counted twice. A predictor path must be
readable on the workers; the default is the bundled predictor, which every worker has.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import Ranking, _aiop, zoo
from .errors import AiopError

__all__ = ["rank", "score"]

#: One network's result: (file, name, prediction, MACs, params).
Row = tuple[str, str, float, int, int]


@functools.lru_cache(maxsize=4)
def _predictor(path: str | None, backend: str) -> _aiop.Predictor:
    """The predictor of a worker process, loaded once per process."""
    if path is None:
        return _aiop.Predictor.default(backend=backend)
    return _aiop.Predictor(path, backend=backend)


def _chunk_rows(
    items: Sequence[str], task: str, predictor: str | None, backend: str, canonical: bool
) -> tuple[list[Row], list[tuple[str, str]]]:
    """Runs on a worker: builds or converts ``items`` and predicts ``task``; returns the rows
    of the networks that worked and the ``(item, message)`` of those that did not."""
    p = _predictor(predictor, backend)
    specs = [i for i in items if zoo.is_spec(i)]
    paths = [i for i in items if not zoo.is_spec(i)]
    cgs: list[Any] = []
    names: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    if specs:
        cgs.extend(zoo.generate(specs))
        names.extend((s, s) for s in specs)
    if paths:
        for path, cg in zip(paths, _aiop.convert_all(paths, canonical=canonical, errors="return")):
            if isinstance(cg, BaseException):
                failed.append((path, str(cg)))
            else:
                cgs.append(cg)
                names.append((path, os.path.splitext(os.path.basename(path))[0]))
    data, _ = p._predict(cgs, task)
    values = np.frombuffer(data, dtype="<f8")
    rows = [(file, name, float(v), cg.macs, cg.params) for (file, name), v, cg in zip(names, values, cgs)]
    order = {item: i for i, item in enumerate(items)}
    rows.sort(key=lambda r: order[r[0]])
    return rows, failed


def _run(
    items: Sequence[str | os.PathLike[str]],
    task: str,
    client: Any,
    predictor: str | None,
    backend: str,
    chunk_size: int,
    retries: int,
    canonical: bool,
) -> tuple[list[Row], list[tuple[str, str]]]:
    if client is None:
        from distributed import get_client

        client = get_client()
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    items = [i if zoo.is_spec(i) else os.fspath(i) for i in items]
    # the task name is checked here, once, rather than by every worker
    _predictor(predictor, backend)._predict([], task)
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    futures = client.map(
        _chunk_rows,
        chunks,
        task=task,
        predictor=predictor,
        backend=backend,
        canonical=canonical,
        retries=retries,
        pure=True,
    )
    rows: list[Row] = []
    failed: list[tuple[str, str]] = []
    for chunk_rows, chunk_failed in client.gather(futures):
        rows.extend(chunk_rows)
        failed.extend(chunk_failed)
    return rows, failed


def score(
    items: Sequence[str | os.PathLike[str]],
    task: str,
    client: Any = None,
    *,
    predictor: str | None = None,
    backend: str = "native",
    chunk_size: int = 256,
    retries: int = 2,
    canonical: bool = False,
) -> np.ndarray:
    """Predicted ``task`` scores of ``items`` (paths or specs), in their order, computed on the
    cluster of ``client`` (default: the current client). A network that fails raises
    :class:`aiop.AiopError` naming it."""
    rows, failed = _run(items, task, client, predictor, backend, chunk_size, retries, canonical)
    if failed:
        _item, message = failed[0]
        raise AiopError(f"{len(failed)} network(s) failed; first: {message}")
    return np.array([r[2] for r in rows], dtype=np.float64)


def rank(
    items: Sequence[str | os.PathLike[str]],
    task: str,
    client: Any = None,
    *,
    predictor: str | None = None,
    labels: Any = None,
    backend: str = "native",
    chunk_size: int = 256,
    retries: int = 2,
    canonical: bool = False,
) -> Ranking:
    """:func:`aiop.rank` on a Dask cluster: ``items`` (paths or specs) scored by the workers,
    ranked here. Networks that fail are left out with a warning (``Ranking.skipped``)."""
    rows, failed = _run(items, task, client, predictor, backend, chunk_size, retries, canonical)
    for item, message in failed:
        warnings.warn(f"skipped {item}: {message}", stacklevel=2)
    text = _aiop.ranking(task, rows, labels=labels)
    return Ranking._from_record(json.loads(text), failed)
