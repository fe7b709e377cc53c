"""The paper's preprocessing: normalize(img, 255), first channel, XRayCenterCrop, XRayResizer(224);
the size follows the weights (512 for torchxrayvision's ResNet).

Decoding goes through annotation.imaging, so PNG, JPEG and DICOM are validated and
read exactly as everywhere else on the platform (DICOM after its rescale, VOI and
MONOCHROME1 handling).
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image, ImageOps

from annotation.imaging import DecodedImage, decode_image, model_input, sniff_format

INPUT_SIZE = 224
EXIF_ORIENTATION = 0x0112

# Pillow modes that skimage.io.imread (the paper's loader) returns with a colour
# channel first; the paper then kept img[:, :, 0], i.e. the red channel, not the luma.
_COLOUR_MODES = {"RGB", "RGBA", "RGBX", "P", "PA"}


def preprocess(decoded: DecodedImage, *, size: int = INPUT_SIZE) -> np.ndarray:
    """A 1 x size x size float32 array in [-1024, 1024] from a decoded image."""
    return paper_transform(model_input(decoded), size=size)


def preprocess_bytes(data: bytes, *, max_pixels: int | None = None, size: int = INPUT_SIZE) -> np.ndarray:
    """Like preprocess, but from the original file and with the paper's channel choice.

    Raises annotation.imaging.ImageRejected for files the platform cannot decode.
    """
    fast = _eight_bit_first_channel(data, max_pixels=max_pixels)
    if fast is not None:
        return paper_transform(fast, size=size)
    decoded = decode_image(data) if max_pixels is None else decode_image(data, max_pixels=max_pixels)
    return preprocess(_paper_channel(data, decoded), size=size)


def _eight_bit_first_channel(data: bytes, *, max_pixels: int | None) -> np.ndarray | None:
    """8-bit PNG/JPEG in one decode: the first channel as the paper's script read it.

    The same pixel values as decode_image + _paper_channel (8-bit data is not rescaled), without
    decoding twice or computing a luminance that is thrown away; about half of pre-scoring's time
    is decoding and resizing. Anything else (DICOM, 16-bit, bilevel, a file that fails to decode)
    returns None and takes the validating path.
    """
    fmt = sniff_format(data)
    if fmt not in ("png", "jpeg"):
        return None
    try:
        with Image.open(io.BytesIO(data), formats=[fmt.upper()]) as img:
            if max_pixels is not None and img.width * img.height > max_pixels:
                return None
            if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
                return None  # turned upright by decode_image, as raters see it
            if img.mode == "L":
                channel = img
            elif img.mode in ("RGB", "LA"):
                channel = img.getchannel(0)
            elif img.mode in _COLOUR_MODES:
                channel = img.convert("RGB").getchannel(0)
            else:
                return None
            return np.asarray(channel, dtype=np.float32)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def paper_transform(img: np.ndarray, *, size: int = INPUT_SIZE) -> np.ndarray:
    """The paper's script from its 0..255 pixels on (predict_severity.py): normalize(img, 255),
    first channel, XRayCenterCrop(), XRayResizer(224) (XRayResizer(size) for other weights).

    The first channel is taken and the centre crop made before normalising: normalize is
    element-wise, so the values are identical, and the pixels the crop drops are not converted.
    """
    import torchxrayvision as xrv

    if img.ndim > 2:
        img = img[:, :, 0]
    img = xrv.datasets.XRayCenterCrop()(img[None, ...])
    img = xrv.datasets.normalize(img, 255)
    return np.ascontiguousarray(xrv.datasets.XRayResizer(size)(img), dtype=np.float32)


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
        # Upright, as decode_image made the luminance (the paper's images have no EXIF turn).
        red = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))[..., 0]
    return dataclasses.replace(decoded, pixels=red.astype(np.float32))
