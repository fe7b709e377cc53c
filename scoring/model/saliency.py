"""Saliency map of a head's prediction, as the paper's predict_severity.py drew it."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from scoring.model.features import pooled_and_logits
from scoring.model.heads import POOLED_SETS, LinearHead, logit_columns

SIGMA = 5.0
TRUNCATE = 3.5


def saliency(model: Any, array: np.ndarray, *, head: LinearHead, target: str) -> np.ndarray:
    """A float array in [0, 1] of the model input's size: the squared input gradient of the
    prediction, blurred.

    As the paper's script: d(prediction)/d(input), squared, skimage Gaussian with
    sigma 5 and truncate 3.5. One deliberate difference: the gradient is taken before
    the clamp. The script differentiated the clamped score, whose gradient is zero
    everywhere once a prediction sits at a range end; inside the range both are equal.
    All zeros when the prediction does not depend on the image (feature set `none`).
    """
    import torch
    from skimage.filters import gaussian

    if head.feature_set == "none":
        return np.zeros(array.shape[-2:], dtype=np.float64)
    x = torch.from_numpy(np.asarray(array, dtype=np.float32)[None, ...]).requires_grad_()
    with torch.enable_grad():
        prediction = _prediction(model, x, head=head, target=target)
        (grad,) = torch.autograd.grad(prediction, x)
    blurred = gaussian(grad[0, 0].numpy().astype(np.float64) ** 2, sigma=SIGMA, truncate=TRUNCATE)
    low, high = float(blurred.min()), float(blurred.max())
    if high <= low:
        return np.zeros_like(blurred)
    return (blurred - low) / (high - low)


def _prediction(model: Any, x: Any, *, head: LinearHead, target: str) -> Any:
    """The head's unclamped prediction for one image, differentiable with respect to x."""
    import torch

    pooled, logits = pooled_and_logits(model, x)
    if head.feature_set in POOLED_SETS:
        features = pooled
    else:
        features = logits[:, logit_columns(head.feature_set, model.pathologies)]
    coef = torch.tensor(head.coefficients[target], dtype=features.dtype)
    return (features[0] * coef).sum() + head.intercept[target]


def overlay_png(array: np.ndarray, heat: np.ndarray) -> bytes:
    """The model's 1 x size x size input in grey with the saliency in red on top, as PNG bytes."""
    base = np.clip((array[0] + 1024) / 2048 * 255, 0, 255).astype(np.uint8)
    rgb = np.stack([base] * 3, axis=-1).astype(np.float32)
    overlay = np.zeros_like(rgb)
    overlay[..., 0] = 255  # red where the gradient is large
    weight = (heat[..., None] * 0.7).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray((rgb * (1 - weight) + overlay * weight).astype(np.uint8), "RGB").save(out, format="PNG")
    return out.getvalue()
