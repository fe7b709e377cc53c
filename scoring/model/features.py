"""Backbone outputs for preprocessed images: the 18 logits and the 1024 pooled features."""

from __future__ import annotations

from typing import Any

import numpy as np

LUNG_OPACITY = "Lung Opacity"  # index 16 of the 18 outputs of densenet121-res224-all
# torchxrayvision.datasets.default_pathologies, the outputs of densenet121-res224-all in order:
# known here without importing torchxrayvision (which imports torch); a test checks the copy.
DEFAULT_PATHOLOGIES = (
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
)  # fmt: skip


def extract(model: Any, arrays: list[np.ndarray], *, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(logits N x 18, pooled N x 1024) for 1x224x224 arrays, computed in batches.

    pooled is torchxrayvision's features2 (features, relu, global average pool), and the
    logits are the classifier applied to it: model(x) with op_threshs None, computed once.
    """
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if model.training:
        # Train-mode BatchNorm would make each output depend on its batch-mates.
        raise ValueError("the backbone must be in eval mode")
    logits, pooled = [], []
    device = next(model.parameters()).device  # a GPU worker's model lives on its GPU
    with torch.no_grad():
        for start in range(0, len(arrays), batch_size):
            batch = torch.from_numpy(np.stack([_checked(a) for a in arrays[start : start + batch_size]])).to(device)
            features = model.features2(batch)
            pooled.append(features.cpu().numpy())
            logits.append(model.classifier(features).cpu().numpy())
    if not arrays:
        return (
            np.zeros((0, model.classifier.out_features), np.float32),
            np.zeros((0, model.classifier.in_features), np.float32),
        )
    return np.concatenate(logits), np.concatenate(pooled)


def pathologies(model: Any) -> list[str]:
    """Output names in logit order (from the weights, e.g. 'Lung Opacity' at 16)."""
    return list(model.pathologies)


def _checked(array: np.ndarray) -> np.ndarray:
    if array.shape != (1, 224, 224):
        raise ValueError(f"expected a preprocessed 1x224x224 array, got {array.shape}")
    return np.asarray(array, dtype=np.float32)
