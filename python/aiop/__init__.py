"""aiop: convert vision networks to computational graphs (CGs) and predict their task
performance without training them (the AIO-P method, AAAI-23).

>>> import aiop
>>> cg = aiop.convert("resnet18.onnx")                 # ONNX, frozen TF .pb, SavedModel, CG file
>>> cg.macs, cg.params, cg.num_nodes
>>> p = aiop.Predictor.default()                       # the bundled predictor
>>> p.predict([cg], task="imagenet-top1")              # NumPy array, one row per CG
>>> aiop.rank("zoo/", task="imagenet-top1", labels="truth.csv").frame   # pandas, sorted

Everything runs in Rust with the GIL released; conversion and prediction of many networks use
every core. Errors are :class:`BadInputError` (a ``ValueError``) and its relatives, carrying the
command line's one-line message. Scale-out over a Dask cluster: :mod:`aiop.dask`; search-space
generators: :mod:`aiop.zoo`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from . import zoo
from ._aiop import CG, __version__, convert, convert_all, load_cg, read_labels
from ._aiop import Predictor as _NativePredictor
from ._aiop import rank as _rank
from ._torch_export import from_torch
from .errors import AiopError, BadInputError, MissingFileError, UnknownTaskError

__all__ = [
    "CG",
    "AiopError",
    "BadInputError",
    "MissingFileError",
    "Predictor",
    "Ranking",
    "UnknownTaskError",
    "__version__",
    "convert",
    "convert_all",
    "from_torch",
    "load_cg",
    "rank",
    "read_labels",
    "zoo",
]

PathLike = Union[str, "os.PathLike[str]"]
Task = Union[None, str, Sequence[str]]


def _as_cgs(items: CG | PathLike | Iterable[CG | PathLike]) -> list[CG]:
    """CGs as they are; paths converted (in parallel)."""
    if isinstance(items, (CG, str, os.PathLike)):
        items = [items]
    items = list(items)
    paths = [i for i in items if not isinstance(i, CG)]
    converted = iter(convert_all(paths)) if paths else iter(())
    return [i if isinstance(i, CG) else next(converted) for i in items]


class Predictor:
    """An exported predictor: the bundled one (:meth:`default`) or a file from ``aiop export``.

    ``backend`` is ``"native"`` (the default and fastest: the predictor's operators in Rust,
    only the asked task's part), ``"tract"`` or ``"ort"`` (ONNX Runtime, its shared library from
    ``ORT_DYLIB_PATH``). A predictor can be shared by threads.
    """

    def __init__(self, path: PathLike, *, backend: str = "native") -> None:
        self._inner = _NativePredictor(path, backend=backend)

    @classmethod
    def default(cls, *, backend: str = "native") -> Predictor:
        """The predictor bundled with aiop (its model card: ``models/README.md``)."""
        self = cls.__new__(cls)
        self._inner = _NativePredictor.default(backend=backend)
        return self

    @property
    def tasks(self) -> list[str]:
        """The tasks predicted by default, in the order of :meth:`predict`'s columns."""
        return self._inner.tasks

    @property
    def backend(self) -> str:
        return self._inner.backend

    def info(self) -> dict[str, Any]:
        """Tasks, label scaling, encoding and training, as ``aiop predictor info --json``."""
        return self._inner.info()

    def predict(self, cgs: CG | PathLike | Iterable[CG | PathLike], task: Task = None) -> np.ndarray:
        """Predicted scores of ``cgs`` (CGs, or model/CG paths, converted first), in each task's
        metric (e.g. top-1 in %).

        ``task=None`` gives every default task: shape ``(len(cgs), len(self.tasks))``; a list
        of tasks gives those columns; one task name gives shape ``(len(cgs),)``. The numbers
        are ``aiop predict --json``'s.
        """
        graphs = _as_cgs(cgs)
        data, columns = self._inner._predict(graphs, task)
        values = np.frombuffer(data, dtype="<f8").reshape(len(graphs), columns)
        return values[:, 0] if isinstance(task, str) else values

    def __repr__(self) -> str:
        return repr(self._inner)


@dataclass
class Ranking:
    """Networks sorted by predicted score, best first (what ``aiop rank --json`` prints).

    ``rows`` hold ``rank, file, name, prediction, value`` (the label, or ``None``), ``macs``
    and ``params``; with labels, ``n`` labelled networks are scored: Spearman's ``srcc``,
    ``kendall``, ``mae`` and the ``flops_srcc`` of ranking by MACs. ``skipped`` lists the
    ``(source, message)`` of networks left out with ``errors="skip"``.
    """

    task: str
    rows: list[dict[str, Any]]
    n: int | None = None
    srcc: float | None = None
    kendall: float | None = None
    mae: float | None = None
    flops_srcc: float | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def _from_record(cls, record: Mapping[str, Any], skipped: list[tuple[str, str]]) -> Ranking:
        scores = {k: record.get(k) for k in ("n", "srcc", "kendall", "mae", "flops_srcc")}
        return cls(task=record["task"], rows=list(record["ranking"]), skipped=list(skipped), **scores)

    def to_dict(self) -> dict[str, Any]:
        """The ``aiop rank --json`` record."""
        out: dict[str, Any] = {"task": self.task, "ranking": self.rows}
        if self.n is not None:
            out.update(n=self.n, srcc=self.srcc, kendall=self.kendall, mae=self.mae, flops_srcc=self.flops_srcc)
        return out

    @property
    def frame(self):
        """The rows as a pandas ``DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Ranking.frame needs pandas: pip install pandas") from e
        columns = ["rank", "name", "prediction", "value", "macs", "params", "file"]
        return pd.DataFrame(self.rows, columns=columns).set_index("rank")

    def __len__(self) -> int:
        return len(self.rows)


def rank(
    sources: CG | PathLike | Iterable[CG | PathLike],
    task: str,
    *,
    labels: None | PathLike | Mapping[str, float] = None,
    predictor: Predictor | None = None,
    canonical: bool = False,
    batch: int = 1,
    resolution: int = 224,
    errors: str = "raise",
) -> Ranking:
    """Ranks networks by the predictor's ``task`` (default predictor: the bundled one).

    ``sources``: model files, CG files, folders (searched for ``.onnx``, ``.pb``, ``.cg`` files
    and SavedModels) or CGs. A file's name is its stem, a CG's its ``name``; ``labels`` (a
    ``name,value`` CSV or a dict) adds SRCC, Kendall τ, MAE and the FLOPs baseline's SRCC.
    ``errors="skip"`` leaves out (with a warning) the networks that fail, as the command line
    does; ``"raise"`` raises the first failure.
    """
    if isinstance(sources, (CG, str, os.PathLike)):
        sources = [sources]
    inner = predictor._inner if predictor is not None else None
    text, skipped = _rank(
        list(sources),
        task,
        labels=labels,
        predictor=inner,
        canonical=canonical,
        batch=batch,
        resolution=resolution,
        errors=errors,
    )
    for source, message in skipped:
        warnings.warn(f"skipped {source}: {message}", stacklevel=2)
    return Ranking._from_record(json.loads(text), skipped)
