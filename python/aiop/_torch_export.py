"""``aiop.from_torch``: a PyTorch module exported to ONNX in memory and converted. PyTorch is an
optional dependency, imported only here."""

from __future__ import annotations

import io
import warnings
from typing import Any

from ._aiop import CG, convert


def from_torch(
    module: Any, example_input: Any, *, name: str | None = None, canonical: bool = False, **export_kwargs: Any
) -> CG:
    """Exports ``module`` with ``torch.onnx.export`` in memory and converts the result.

    The defaults are the recipe the bundled predictor's training networks were exported with:
    the TorchScript exporter (``dynamo=False``), weight-stripped (``export_params=False``:
    parameters become graph inputs, nothing large is written), opset 17, the network as written
    (no Conv+BN fusion or constant folding). Any ``export_kwargs`` override them (e.g.
    ``do_constant_folding=True`` for the exporter's defaults). ``example_input`` is a tensor or
    a tuple of tensors; ``name`` defaults to the module's class name.
    """
    try:
        import torch
    except ImportError as e:
        raise ImportError("aiop.from_torch needs PyTorch: pip install torch") from e

    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    kwargs = {
        "dynamo": False,
        "export_params": False,
        "keep_initializers_as_inputs": True,
        "opset_version": 17,
        "do_constant_folding": False,
        "training": torch.onnx.TrainingMode.PRESERVE,
        "input_names": [f"input{i}" if len(inputs) > 1 else "input" for i in range(len(inputs))],
    }
    kwargs.update(export_kwargs)
    buffer = io.BytesIO()
    was_training = getattr(module, "training", False)
    if hasattr(module, "eval"):
        module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter is chosen on purpose (see above); torch warns about it
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(module, inputs, buffer, **kwargs)
    finally:
        if was_training:
            module.train()
    model_name = name or type(module).__name__
    return convert(buffer.getvalue(), name=model_name + ".onnx", canonical=canonical)
