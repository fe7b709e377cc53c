"""The paper's preprocessing: normalize(img, 255), first channel, XRayCenterCrop, XRayResizer(224).

Decoding goes through annotation.imaging, so PNG, JPEG and DICOM are validated and
read exactly as everywhere else on the platform (DICOM after its rescale, VOI and
MONOCHROME1 handling).
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image

from annotation.imaging import DecodedImage, decode_image, model_input

INPUT_SIZE = 224

# Pillow modes that skimage.io.imread (the paper's loader) returns with a colour
# channel first; the paper then kept img[:, :, 0], i.e. the red channel, not the luma.
_COLOUR_MODES = {"RGB", "RGBA", "RGBX", "P", "PA"}


def preprocess(decoded: DecodedImage) -> np.ndarray:
    """A 1x224x224 float32 array in [-1024, 1024] from a decoded image."""
    return paper_transform(model_input(decoded))


def preprocess_bytes(data: bytes, *, max_pixels: int | None = None) -> np.ndarray:
    """Like preprocess, but from the original file and with the paper's channel choice.

    Raises annotation.imaging.ImageRejected for files the platform cannot decode.
    """
    decoded = decode_image(data) if max_pixels is None else decode_image(data, max_pixels=max_pixels)
    return preprocess(_paper_channel(data, decoded))


def paper_transform(img: np.ndarray) -> np.ndarray:
    """The paper's script from its 0..255 pixels on (predict_severity.py, line for line)."""
    import torchvision
    import torchxrayvision as xrv

    img = xrv.datasets.normalize(img, 255)
    if img.ndim > 2:
        img = img[:, :, 0]
    img = img[None, ...]
    transform = torchvision.transforms.Compose([xrv.datasets.XRayCenterCrop(), xrv.datasets.XRayResizer(INPUT_SIZE)])
    return np.ascontiguousarray(transform(img), dtype=np.float32)


def _paper_channel(data: bytes, decoded: DecodedImage) -> DecodedImage:
    """Colour PNG/JPEG: the first (red) channel, as the paper's script took it.

    decode_image returns the luminance, which differs from the red channel by a few grey
    levels in annotated figures (12 on average in one of the paper's 93 images); the
    paper's numbers were computed on the red channel, so the model gets that one.
    """
    if decoded.source_format == "dicom" or decoded.bit_depth != 8:
        return decoded
    # Only the format decode_image sniffed and already validated is parsed here.
    with Image.open(io.BytesIO(data), formats=[decoded.source_format.upper()]) as img:
        if img.mode not in _COLOUR_MODES:
            return decoded  # L, LA, 1: luminance already is the first channel
        red = np.asarray(img.convert("RGB"))[..., 0]
    return dataclasses.replace(decoded, pixels=red.astype(np.float32))
