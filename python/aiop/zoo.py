"""Networks of NAS search spaces: NAS-Bench-201 cells and once-for-all (OFA) subnets.

Besides ONNX bytes, each network has a *spec*, a short string from which any process can
rebuild it (what :func:`aiop.dask.rank` sends to workers instead of graphs):

- ``nb201:<arch>``: the CIFAR-10 network of a NAS-Bench-201 cell, e.g.
  ``nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``;
- ``ofa:<family>:<head>:<resolution>:<seed>:<index>``: body ``index`` of the seeded stream of
  ``aiop zoo ofa --family <family> --seed <seed>`` (``mbv3`` or ``resnet``) with a
  ``classification``, ``pose`` or ``segmentation`` head, at that input resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _aiop
from ._aiop import CG

__all__ = ["generate", "is_spec", "nb201_onnx", "nb201_sample", "nb201_specs", "ofa_onnx", "ofa_specs"]


def nb201_onnx(arch: str, *, classes: int = 10, resolution: int = 32) -> bytes:
    """The NAS-Bench-201 network of the cell ``arch`` as ONNX bytes (weights as graph inputs);
    ``classes=100`` for CIFAR-100, ``classes=120, resolution=16`` for ImageNet16-120."""
    return _aiop.nb201_onnx(arch, classes=classes, resolution=resolution)


def nb201_sample(count: int, *, seed: int = 0) -> list[str]:
    """``count`` different NAS-Bench-201 cells (at most all 15,625) drawn with ``seed``, as
    architecture strings; the same on every machine."""
    return _aiop.nb201_sample(count, seed=seed)


def nb201_specs(count: int, *, seed: int = 0) -> list[str]:
    """Specs of :func:`nb201_sample`'s cells."""
    return ["nb201:" + arch for arch in nb201_sample(count, seed=seed)]


def ofa_onnx(family: str, head: str, *, seed: int = 0, index: int = 0, resolution: int = 64) -> tuple[str, bytes]:
    """Body ``index`` of the seeded OFA stream of ``family`` (``mbv3`` or ``resnet``) with a
    ``head`` (``classification``, ``pose`` or ``segmentation``), as ``(name, ONNX bytes)``;
    ``resolution`` is a multiple of 32, at most 1024."""
    return _aiop.ofa_onnx(family, head, seed=seed, index=index, resolution=resolution)


def ofa_specs(family: str, head: str, count: int, *, seed: int = 0, resolution: int = 64, start: int = 0) -> list[str]:
    """Specs of bodies ``start … start + count − 1`` of the seeded OFA stream."""
    return [f"ofa:{family}:{head}:{resolution}:{seed}:{i}" for i in range(start, start + count)]


def generate(specs: Sequence[str]) -> list[CG]:
    """The CGs of ``specs``, built and converted in parallel on all cores; each CG is named by
    its spec. Raises :class:`aiop.BadInputError` for a malformed spec."""
    return _aiop.generate(list(specs))


def is_spec(item: object) -> bool:
    """Whether ``item`` is a network spec (rather than a path)."""
    return isinstance(item, str) and item.startswith(("nb201:", "ofa:"))
