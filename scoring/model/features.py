"""Backbone outputs for preprocessed images: the 18 logits and the pooled features (1024 for the
DenseNets, 2048 for the ResNet)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring.model.weights import DEFAULT_PATHOLOGIES

__all__ = ["DEFAULT_PATHOLOGIES", "extract", "pathologies"]

LUNG_OPACITY = "Lung Opacity"  # index 16 of the 18 outputs of densenet121-res224-all


def extract(model: Any, arrays: list[np.ndarray], *, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(logits N x 18, pooled N x width) for 1 x size x size arrays (the size the weights take),
    computed in batches.

    pooled is the DenseNet's features2 (features, relu, global average pool) or the ResNet's
    features (its global average pool), and the logits are the classifier applied to it: model(x)
    with op_threshs None, computed once.
    """
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if model.training:
        # Train-mode BatchNorm would make each output depend on its batch-mates.
        raise ValueError("the backbone must be in eval mode")
    logits, pooled = [], []
    device = next(model.parameters()).device  # a GPU worker's model lives on its GPU
    size = input_size(model)
    with torch.no_grad():
        for start in range(0, len(arrays), batch_size):
            batch = np.stack([_checked(a, size) for a in arrays[start : start + batch_size]])
            features, outputs = pooled_and_logits(model, torch.from_numpy(batch).to(device))
            pooled.append(features.cpu().numpy())
            logits.append(outputs.cpu().numpy())
    if not arrays:
        head = classifier(model)
        return np.zeros((0, head.out_features), np.float32), np.zeros((0, head.in_features), np.float32)
    return np.concatenate(logits), np.concatenate(pooled)


def pooled_and_logits(model: Any, x: Any) -> tuple[Any, Any]:
    """(pooled features, logits) as tensors, differentiable: the one place that knows how each
    torchxrayvision architecture splits into a pooled body and a linear classifier."""
    pooled = model.features2(x) if hasattr(model, "features2") else model.features(x)
    return pooled, classifier(model)(pooled)


def classifier(model: Any) -> Any:
    """The final linear layer: the DenseNet's classifier, the ResNet's torchvision fc."""
    return model.classifier if hasattr(model, "classifier") else model.model.fc


def input_size(model: Any) -> int:
    """The square input the weights were trained on (torchxrayvision's input_resolution)."""
    return int(getattr(model, "input_resolution", 224))


def pathologies(model: Any) -> list[str]:
    """Output names in logit order (from the weights, e.g. 'Lung Opacity' at 16)."""
    return list(model.pathologies)


def _checked(array: np.ndarray, size: int) -> np.ndarray:
    if array.shape != (1, size, size):
        raise ValueError(f"expected a preprocessed 1x{size}x{size} array, got {array.shape}")
    return np.asarray(array, dtype=np.float32)
