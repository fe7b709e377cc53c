"""Load a torchxrayvision classifier (a DenseNet or the ResNet) from a weights file on disk, never
from the network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scoring.model.heads import PAPER_WEIGHTS
from scoring.model.provenance import BackboneIdentity, backbone_identity
from scoring.model.weights import WEIGHTS, WEIGHTS_FILES, WeightsSpec, weights_spec, weights_url

__all__ = ["WEIGHTS", "WEIGHTS_FILES", "WeightsSpec", "weights_spec", "weights_url"]  # known here too

DEFAULT_WEIGHTS = PAPER_WEIGHTS


class WeightsMissing(Exception):
    """The weights file is not where torchxrayvision looks; str(exc) says what to put where."""

    def __init__(self, *, weights: str, path: Path, url: str):
        self.weights, self.path, self.url = weights, path, url
        super().__init__(
            f"torchxrayvision weights {weights!r} are missing: put the file {path.name} "
            f"into the directory {path.parent} (download it from {url}, "
            f"e.g. `wget {url} -O {path}`). Nothing is downloaded automatically."
        )


class WeightsUnreadable(Exception):
    """The weights file exists but torch cannot load it (partial download, wrong file)."""


def weights_path(weights: str, cache_dir: str | os.PathLike | None) -> Path:
    """Where torchxrayvision looks for the file: the same rule as xrv.models.get_weights and
    xrv.utils.get_cache_dir, without importing them (they import torch)."""
    folder = os.path.join("~", ".torchxrayvision", "models_data/") if cache_dir is None else os.fspath(cache_dir)
    return Path(os.path.expanduser(os.path.join(folder, weights_spec(weights).file)))


def weights_identity(*, weights: str, cache_dir: str | os.PathLike | None) -> BackboneIdentity:
    """The weights file's identity (its SHA-256 and the environment); WeightsMissing without it."""
    path = weights_path(weights, cache_dir)
    if not path.is_file():
        raise WeightsMissing(weights=weights, path=path, url=weights_url(weights))
    return backbone_identity(name=weights, path=path, input_size=weights_spec(weights).input_size)


def load_backbone(*, weights: str = DEFAULT_WEIGHTS, cache_dir: str | os.PathLike | None = None) -> Any:
    """The classifier in eval mode, returning raw logits (op_threshs None) as the paper did.

    Raises WeightsMissing before torchxrayvision gets a chance to download: without a
    network its download hangs or fails obscurely, and random weights are never an option.
    """
    import torchxrayvision as xrv

    path = weights_path(weights, cache_dir)
    if not path.is_file():
        raise WeightsMissing(weights=weights, path=path, url=weights_url(weights))
    try:
        model = xrv.models.get_model(weights, cache_dir=str(path.parent))  # DenseNet or ResNet by name
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on a bad file
        raise WeightsUnreadable(
            f"cannot load torchxrayvision weights from {path} ({type(exc).__name__}: {exc}); "
            f"delete the file and download it again from {weights_url(weights)}"
        ) from exc
    model.op_threshs = None  # raw logits: the paper's heads are linear in the logit
    return model.eval()


def place_backbone(model: Any, device: str) -> Any:
    """Move the backbone to its device in the layout that runs fastest there.

    channels_last lets oneDNN and cuDNN pick faster convolutions (about 20% on a 2-core CPU);
    outputs move by ~1e-5. On a GPU, TF32 is switched off: it is torch's default for cuDNN
    convolutions on Ampere and later, and changes the logits by ~1e-2, which would make GPU
    pre-scores differ from the paper's float32 computation.
    """
    import torch

    if device.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return model.to(device).to(memory_format=torch.channels_last)
