"""A random-weight torchxrayvision DenseNet saved under the official file name, for tests.

Its BatchNorm statistics are calibrated on a few synthetic chest-like images so that its logits
are of order 1: with default statistics they are in the hundreds and every prediction clamps to
a range end, which would make any comparison prove nothing.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image

OFFICIAL_FILE = "nih-pc-chex-mimic_ch-google-openi-kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt"


def chest_like(seed: int, shape: tuple[int, int] = (260, 300)) -> np.ndarray:
    """An 8-bit greyscale image with smooth structure and noise; seeds differ in content."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    base = 0.5 + 0.3 * np.sin(xx * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(yy * rng.uniform(2, 9))
    base += 0.25 * np.exp(-((xx - rng.uniform(0.2, 0.8)) ** 2 + (yy - 0.5) ** 2) / 0.02)
    grey = np.clip(base + 0.08 * rng.standard_normal(shape), 0, 1)
    grey = np.rint(grey * 255).astype(np.uint8)
    grey.flat[0], grey.flat[-1] = 0, 255  # full range: DICOM min..max mapping is then the identity
    return grey


def chest_png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(chest_like(seed)).save(out, format="PNG")
    return out.getvalue()


def coloured(grey: np.ndarray) -> np.ndarray:
    """RGB with a red arrow and a blue label, like the annotated figures in the paper's set."""
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgb[40:120, 60:70] = (230, 20, 20)
    rgb[150:170, 150:260] = (20, 40, 220)
    return rgb


def calibrate_batchnorm(model, arrays: list[np.ndarray]) -> None:
    """Replace the default BatchNorm statistics with the cumulative ones of these images."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration passes
    model.train()
    with torch.no_grad():
        for start in range(0, len(arrays), 4):
            model(torch.from_numpy(np.stack(arrays[start : start + 4])))
    for norm in norms:
        norm.momentum = 0.1
    model.eval()


def write_random_weights(folder: Path, *, seed: int = 0, weights: str = "densenet121-res224-all") -> Path:
    """A cache dir holding a random DenseNet in the official file's format: a pickled module, under
    the official file name of `weights` (a DenseNet name). Another seed gives another network under
    the same file name."""
    import torch
    import torchxrayvision as xrv

    from scoring.model.backbone import WEIGHTS_FILES
    from scoring.model.preprocess import paper_transform

    torch.manual_seed(seed)
    model = xrv.models.DenseNet(weights=None, num_classes=18)
    torch.nn.init.normal_(model.classifier.weight, std=0.1)  # spreads the logits over images
    # Half of them with the annotations' red channel: without, coloured uploads are so far out of
    # the calibration distribution that their predictions clamp.
    images = [chest_like(1000 + i) if i % 2 else coloured(chest_like(1000 + i))[..., 0] for i in range(12)]
    calibrate_batchnorm(model, [paper_transform(image.astype(np.float32)) for image in images])
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model, folder / WEIGHTS_FILES[weights])
    return folder


def write_random_resnet_weights(folder: Path, *, seed: int = 0) -> Path:
    """A cache dir holding a random resnet50-res512-all in the official file's format: the state
    dict of torchvision's ResNet-50 with torchxrayvision's one-channel first convolution."""
    import torch
    import torchvision

    from scoring.model.backbone import WEIGHTS_FILES
    from scoring.model.preprocess import paper_transform

    torch.manual_seed(seed)
    model = torchvision.models.resnet50(num_classes=18, weights=None)
    model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    torch.nn.init.normal_(model.fc.weight, std=0.05)
    images = [chest_like(2000 + i).astype(np.float32) for i in range(4)]
    calibrate_batchnorm(model, [paper_transform(image, size=512) for image in images])
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / WEIGHTS_FILES["resnet50-res512-all"])
    return folder
