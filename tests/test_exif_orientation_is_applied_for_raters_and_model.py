"""A JPEG whose EXIF says "rotate 90°" (a phone photo of a film, a scanner's output) is shown upright
to raters and given upright to the model, in both of the model's decoding paths."""

import io

import numpy as np
import pytest
from PIL import Image

from annotation.imaging import decode_image, display_png

ORIENTATION = 0x0112


def _jpeg(array: np.ndarray, *, orientation: int | None, mode: str = "L") -> bytes:
    image = Image.fromarray(array).convert(mode)
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=100, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def tall_and_wide():
    rng = np.random.default_rng(3)
    wide = rng.integers(0, 255, size=(60, 100), dtype=np.uint8)  # 100 wide, 60 high as stored
    upright = np.rot90(wide, k=-1)  # orientation 6: rotate 90° clockwise to view
    return wide, upright


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_raters_see_the_image_upright(tall_and_wide, mode):
    wide, _ = tall_and_wide
    decoded = decode_image(_jpeg(wide, orientation=6, mode=mode))
    assert decoded.pixels.shape == (100, 60)
    _, width, height = display_png(decoded)
    assert (width, height) == (60, 100)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_the_model_gets_the_same_upright_image(tall_and_wide, mode):
    from scoring.model.preprocess import preprocess_bytes

    wide, upright = tall_and_wide
    turned = preprocess_bytes(_jpeg(wide, orientation=6, mode=mode))
    stored_upright = preprocess_bytes(_jpeg(np.ascontiguousarray(upright), orientation=None, mode=mode))
    assert turned.shape == stored_upright.shape == (1, 224, 224)
    # JPEG compresses the two files differently; the pictures are the same.
    assert np.abs(turned - stored_upright).mean() < 40
