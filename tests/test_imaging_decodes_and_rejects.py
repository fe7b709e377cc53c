"""annotation.imaging: what it decodes, what it rejects, and what it serves.

Plain pytest, no Django: every input is generated here with Pillow, numpy or pydicom.
"""

from __future__ import annotations

import io
import resource
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

from annotation.imaging import (
    DecodedImage,
    ImageRejected,
    decode_image,
    display_png,
    model_input,
    sniff_format,
)

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "SECRET-4711"


# --- input builders ----------------------------------------------------------


def _encode(img: Image.Image, fmt: str, **save_kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save_kwargs)
    return buf.getvalue()


def _noise(width: int, height: int, mode: str = "L", seed: int = 0) -> Image.Image:
    """Incompressible content, so that truncation cuts into real pixel data."""
    rng = np.random.default_rng(seed)
    channels = {"L": (height, width), "RGB": (height, width, 3)}[mode]
    return Image.fromarray(rng.integers(0, 256, channels, dtype=np.uint8))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_header(width: int, height: int) -> bytes:
    """A tiny, well-formed-looking PNG whose IHDR claims the given dimensions."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _png_chunk_types(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def _dicom(
    stored: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    slope: float | None = None,
    intercept: float | None = None,
    center: list[str] | str | None = None,
    width: list[str] | str | None = None,
    frames: int = 1,
    transfer_syntax: str = ExplicitVRLittleEndian,
    pixel_data: bytes | None = None,
    preamble: bool = True,
) -> bytes:
    """A DICOM Part 10 file. `stored` is (frames x) rows x cols [x 3] of stored values."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = FileDataset("upload.dcm", {}, file_meta=meta, preamble=b"\x00" * 128 if preamble else None)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.Modality = "DX"
    if stored is not None:
        colour = stored.ndim == (4 if frames > 1 else 3)
        ds.Rows, ds.Columns = stored.shape[-3:-1] if colour else stored.shape[-2:]
        ds.SamplesPerPixel = 3 if colour else 1
        if colour:
            ds.PlanarConfiguration = 0
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = stored.dtype.itemsize * 8
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 0
        if frames > 1:
            ds.NumberOfFrames = frames
        ds.PixelData = pixel_data if pixel_data is not None else stored.tobytes()
        if pixel_data is not None:
            ds["PixelData"].VR = "OB"
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept or 0
    if center is not None:
        ds.WindowCenter = center
        ds.WindowWidth = width
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=preamble)
    return buf.getvalue()


# --- sniffing and trivially bad uploads ---------------------------------------


def test_sniff_format_recognises_magic_bytes_only():
    assert sniff_format(_encode(Image.new("L", (2, 2)), "PNG")) == "png"
    assert sniff_format(_encode(Image.new("L", (2, 2)), "JPEG")) == "jpeg"
    assert sniff_format(b"\x00" * 128 + b"DICM" + b"\x00" * 8) == "dicom"
    assert sniff_format(b"GIF89a" + b"\x00" * 200) is None
    assert sniff_format(b"") is None


def test_empty_file_is_rejected():
    with pytest.raises(ImageRejected, match="empty file"):
        decode_image(b"")


def test_text_file_named_png_is_rejected(tmp_path):
    upload = tmp_path / "x.png"
    upload.write_text("this is a text file pretending to be a chest X-ray\n")
    with pytest.raises(ImageRejected, match="not a PNG, JPEG or DICOM file"):
        decode_image(upload.read_bytes())


def test_random_bytes_named_png_are_rejected(tmp_path):
    upload = tmp_path / "random.png"
    upload.write_bytes(b"\x00" + np.random.default_rng(1).bytes(4096))
    with pytest.raises(ImageRejected, match="not a PNG, JPEG or DICOM file"):
        decode_image(upload.read_bytes())


def test_png_signature_followed_by_garbage_is_rejected_as_corrupt():
    data = b"\x89PNG\r\n\x1a\n" + np.random.default_rng(2).bytes(500)
    with pytest.raises(ImageRejected, match="^corrupt"):
        decode_image(data)


# --- PNG / JPEG decoding ------------------------------------------------------


def test_8bit_png_decodes_to_unchanged_float_values():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    image = decode_image(_encode(Image.fromarray(values), "PNG"))
    assert isinstance(image, DecodedImage)
    assert image.source_format == "png"
    assert image.bit_depth == 8
    assert image.window is None
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (16, 16)
    np.testing.assert_array_equal(image.pixels, values.astype(np.float32))
    np.testing.assert_array_equal(model_input(image), values.astype(np.float32))


def test_16bit_png_keeps_its_16bit_range():
    values = np.linspace(0, 60_000, 64 * 32).astype(np.uint16).reshape(32, 64)
    image = decode_image(_encode(Image.fromarray(values), "PNG"))
    assert image.bit_depth == 16
    assert image.pixels.max() == 60_000 and image.pixels.min() == 0
    np.testing.assert_array_equal(image.pixels, values.astype(np.float32))
    mapped = model_input(image)
    assert mapped.dtype == np.float32
    # Scaled by what 16 bits hold (docs/imaging.md), not stretched to the image's own min..max.
    assert mapped.min() == 0 and mapped.max() == pytest.approx(255 * 60_000 / 65_535)


def test_16bit_png_with_a_significant_bits_chunk_is_scaled_by_those_bits():
    values = np.linspace(0, 4095, 64 * 32).astype(np.uint16).reshape(32, 64)
    data = _encode(Image.fromarray(values), "PNG")
    sbit = b"sBIT" + bytes([12])
    chunk = len(bytes([12])).to_bytes(4, "big") + sbit + zlib.crc32(sbit).to_bytes(4, "big")
    at = data.index(b"IDAT") - 4
    image = decode_image(data[:at] + chunk + data[at:])
    assert image.value_range == (0.0, 4095.0)
    assert model_input(image).max() == 255


def test_one_burned_in_white_pixel_does_not_darken_a_16bit_image():
    values = np.full((32, 64), 30_000, dtype=np.uint16)
    values[5:20, 5:20] = 10_000
    plain = model_input(decode_image(_encode(Image.fromarray(values), "PNG")))
    values[0, 0] = 65_535  # a marker burned into one corner
    marked = model_input(decode_image(_encode(Image.fromarray(values), "PNG")))
    np.testing.assert_array_equal(plain[1:], marked[1:])


def test_rgb_jpeg_becomes_grey_luminance():
    image = decode_image(_encode(Image.new("RGB", (64, 48), (200, 100, 50)), "JPEG", quality=95))
    assert image.source_format == "jpeg"
    assert image.bit_depth == 8
    assert image.pixels.shape == (48, 64)
    expected = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    assert abs(float(image.pixels.mean()) - expected) < 3


def test_cmyk_jpeg_becomes_grey_with_ink_dark_and_paper_white():
    img = Image.new("CMYK", (64, 64), (0, 0, 0, 0))  # no ink: white
    img.paste((0, 0, 0, 255), (0, 0, 32, 64))  # full black ink on the left half
    image = decode_image(_encode(img, "JPEG", quality=95))
    assert image.pixels.shape == (64, 64)
    assert image.pixels[:, :24].mean() < 10
    assert image.pixels[:, 40:].mean() > 245


def test_palette_png_becomes_palette_luminance():
    img = Image.new("P", (8, 4))
    img.putpalette([0, 0, 0, 255, 255, 255, 255, 0, 0] + [0] * (256 * 3 - 9))
    img.paste(1, (0, 0, 4, 4))
    img.paste(2, (4, 0, 8, 4))
    image = decode_image(_encode(img, "PNG"))
    assert image.pixels.shape == (4, 8)
    assert image.pixels[0, 0] == 255
    assert abs(image.pixels[0, 7] - 0.299 * 255) < 1


def test_rgba_png_drops_alpha_and_becomes_grey():
    image = decode_image(_encode(Image.new("RGBA", (10, 6), (100, 100, 100, 128)), "PNG"))
    assert image.pixels.shape == (6, 10)
    assert np.all(image.pixels == 100)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_png_mode_becomes_a_2d_float32_array(mode):
    image = decode_image(_encode(Image.new(mode, (7, 5)), "PNG"))
    assert image.pixels.ndim == 2
    assert image.pixels.shape == (5, 7)
    assert image.pixels.dtype == np.float32


def test_bilevel_png_maps_to_black_and_white():
    img = Image.new("1", (8, 2), 0)
    img.paste(1, (4, 0, 8, 2))
    image = decode_image(_encode(img, "PNG"))
    assert set(np.unique(image.pixels)) == {0.0, 255.0}


# --- truncation and corruption ------------------------------------------------


def test_truncated_jpeg_is_rejected():
    data = _encode(_noise(256, 256, "RGB"), "JPEG", quality=90)
    with pytest.raises(ImageRejected, match="corrupt or truncated image"):
        decode_image(data[: len(data) * 2 // 3])


def test_jpeg_missing_only_its_end_marker_is_rejected():
    data = _encode(_noise(64, 64), "JPEG")
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(ImageRejected):
        decode_image(data[:-2])


def test_truncated_png_is_rejected():
    data = _encode(_noise(256, 256), "PNG")
    with pytest.raises(ImageRejected, match="corrupt or truncated image"):
        decode_image(data[: len(data) // 2])


def test_png_with_damaged_pixel_data_is_rejected():
    data = bytearray(_encode(_noise(64, 64), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 100] ^= 0xFF  # breaks the chunk CRC (and likely the deflate stream)
    with pytest.raises(ImageRejected, match="corrupt"):
        decode_image(bytes(data))


def test_decoding_leaves_pillow_truncation_setting_alone():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = _encode(_noise(64, 64, "RGB"), "JPEG")
    with pytest.raises(ImageRejected):
        decode_image(data[: len(data) // 2])
    decode_image(data)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- decompression bombs ------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def test_png_header_claiming_huge_dimensions_is_rejected_without_allocating():
    before = _peak_rss_mb()
    for width, height in [(20_000, 20_000), (7_000, 7_000)]:  # 400 MP and 49 MP
        with pytest.raises(ImageRejected, match="image too large"):
            decode_image(_png_with_header(width, height))
    # Decoding either would need hundreds of MB; the header check must stop it first.
    assert _peak_rss_mb() - before < 100


def test_too_large_message_states_dimensions_and_limit():
    with pytest.raises(ImageRejected) as caught:
        decode_image(_png_with_header(7_000, 7_000))
    assert str(caught.value) == "image too large: 7000x7000 pixels exceeds the limit of 40,000,000"


def test_pillow_bomb_error_becomes_a_plain_too_large_reason():
    # 400 MP trips Pillow's own DecompressionBombError inside Image.open.
    with pytest.raises(ImageRejected) as caught:
        decode_image(_png_with_header(20_000, 20_000))
    assert str(caught.value) == "image too large: exceeds the limit of 40,000,000 pixels"


def test_max_pixels_limit_applies_to_real_images():
    data = _encode(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(ImageRejected, match="image too large: 100x100"):
        decode_image(data, max_pixels=9_999)
    assert decode_image(data, max_pixels=10_000).pixels.shape == (100, 100)


def test_zero_width_png_is_rejected():
    with pytest.raises(ImageRejected):
        decode_image(_png_with_header(0, 10))


# --- DICOM --------------------------------------------------------------------


def test_dicom_applies_rescale_and_reports_first_window():
    stored = np.array([[0, 500, 1000], [1500, 2000, 4095]], dtype=np.uint16)
    data = _dicom(stored, slope=2, intercept=-1024, center=["40", "300"], width=["400", "1500"])
    image = decode_image(data)
    assert image.source_format == "dicom"
    assert image.bit_depth == 12
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (2, 3)
    np.testing.assert_array_equal(image.pixels, stored.astype(np.float32) * 2 - 1024)
    assert image.window == (40.0, 400.0)
    # Window 40 +/- 200: -1024 is below (black), 0 is at 40% grey, 976+ above (white).
    mapped = model_input(image)
    assert mapped[0, 0] == 0
    assert mapped[0, 1] == pytest.approx(255 * (-24 - -160) / 400)
    assert mapped[1, 2] == 255


def test_dicom_without_window_is_scaled_by_bits_stored_like_torchxrayvision():
    stored = np.array([[100, 200], [300, 1100]], dtype=np.uint16)
    image = decode_image(_dicom(stored))  # 12 bits stored
    assert image.window is None and image.value_range == (0.0, 4095.0)
    mapped = model_input(image)
    assert mapped[0, 1] == pytest.approx(255 * 200 / 4095)


def test_dicom_rescaled_to_physical_units_without_window_uses_min_max():
    stored = np.array([[100, 200], [300, 1100]], dtype=np.uint16)
    image = decode_image(_dicom(stored, slope=2.0, intercept=-1000.0))
    assert image.window is None and image.value_range is None
    mapped = model_input(image)
    assert mapped.min() == 0 and mapped.max() == 255
    assert mapped[0, 1] == pytest.approx(255 * 100 / 1000)


def test_8bit_dicom_without_window_keeps_its_8bit_scale():
    stored = np.array([[0, 5], [10, 255]], dtype=np.uint8)
    image = decode_image(_dicom(stored, bits_stored=8))
    assert image.bit_depth == 8
    np.testing.assert_array_equal(model_input(image), stored.astype(np.float32))


def test_dicom_monochrome1_is_inverted_so_air_is_dark():
    # In MONOCHROME1 the lowest stored value is displayed white.
    stored = np.array([[0, 1000, 4095]], dtype=np.uint16)
    image = decode_image(_dicom(stored, photometric="MONOCHROME1"))
    assert image.pixels[0, 0] > image.pixels[0, 1] > image.pixels[0, 2]
    mapped = model_input(image)  # 4095 - value, as torchxrayvision's read_xray_dcm
    assert mapped[0, 0] == 255 and mapped[0, 2] == 0
    assert mapped[0, 1] == pytest.approx(255 * 3095 / 4095)


def test_dicom_monochrome1_window_still_shows_what_a_viewer_would():
    stored = np.array([[1000, 1500, 2000, 2500, 3000]], dtype=np.uint16)
    image = decode_image(_dicom(stored, photometric="MONOCHROME1", center="2000", width="1000"))
    assert image.window is not None and image.window[1] == 1000
    # A MONOCHROME1 viewer shows 1500 (window bottom) white, 2500 (top) black.
    np.testing.assert_allclose(model_input(image)[0], [255, 255, 127.5, 0, 0])


def test_multiframe_dicom_uses_the_first_frame():
    stored = np.stack([np.full((4, 5), 100, np.uint16), np.full((4, 5), 900, np.uint16)])
    image = decode_image(_dicom(stored, frames=2))
    assert image.pixels.shape == (4, 5)
    assert np.all(image.pixels == 100)


def test_colour_dicom_becomes_luminance():
    stored = np.zeros((3, 4, 3), dtype=np.uint8)
    stored[...] = (200, 100, 50)
    image = decode_image(_dicom(stored, photometric="RGB", bits_stored=8))
    assert image.pixels.shape == (3, 4)
    np.testing.assert_allclose(image.pixels, 0.299 * 200 + 0.587 * 100 + 0.114 * 50, atol=0.01)


def test_dicom_without_pixel_data_is_rejected():
    with pytest.raises(ImageRejected, match="^DICOM without pixel data$"):
        decode_image(_dicom(None))


def test_dicom_with_jpeg2000_garbage_is_rejected_naming_the_transfer_syntax():
    stored = np.zeros((16, 16), dtype=np.uint16)
    garbage = encapsulate([b"\xff\x4f\xff\x51" + b"not really a JPEG 2000 codestream" * 4])
    data = _dicom(stored, transfer_syntax=JPEG2000Lossless, pixel_data=garbage)
    with pytest.raises(ImageRejected) as caught:
        decode_image(data)
    reason = str(caught.value)
    assert "1.2.840.10008.1.2.4.90" in reason
    assert "JPEG 2000" in reason


def test_dicom_dimensions_are_checked_before_decoding():
    stored = np.zeros((4, 4), dtype=np.uint16)
    with pytest.raises(ImageRejected, match="image too large: 4x4"):
        decode_image(_dicom(stored), max_pixels=15)


def test_dicom_without_preamble_is_not_accepted():
    data = _dicom(np.zeros((4, 4), dtype=np.uint16), preamble=False)
    with pytest.raises(ImageRejected, match="not a PNG, JPEG or DICOM file"):
        decode_image(data)


def test_malformed_dicom_is_rejected_quietly_without_quoting_it():
    data = b"\x00" * 128 + b"DICM" + b"\x02\x00" * 50 + PATIENT_NAME.encode() * 3
    with warnings.catch_warnings():
        # pydicom warns (quoting values) about this file; none of that may escape.
        warnings.simplefilter("error")
        with pytest.raises(ImageRejected) as caught:
            decode_image(data)
    assert "Doe" not in str(caught.value)


def test_decoded_dicom_carries_no_patient_data():
    image = decode_image(_dicom(np.zeros((4, 4), dtype=np.uint16)))
    assert set(vars(image)) == {"pixels", "source_format", "window", "bit_depth", "burned_in_annotation", "value_range"}


# --- display_png ----------------------------------------------------------------


def _open_png(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data), formats=["PNG"])
    img.load()
    return img


def test_display_png_caps_longest_side_and_keeps_aspect():
    image = decode_image(_encode(_noise(3000, 1000), "PNG"))
    data, width, height = display_png(image, max_side=2048)
    img = _open_png(data)
    assert (width, height) == img.size == (2048, 683)
    assert img.mode == "L"


def test_display_png_never_upscales():
    image = decode_image(_encode(_noise(100, 50), "PNG"))
    data, width, height = display_png(image, max_side=2048)
    assert (width, height) == _open_png(data).size == (100, 50)


def test_display_png_of_8bit_image_shows_original_values():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    data, _, _ = display_png(decode_image(_encode(Image.fromarray(values), "PNG")))
    np.testing.assert_array_equal(np.asarray(_open_png(data)), values)


def test_display_png_of_16bit_image_is_8bit_greyscale():
    values = np.linspace(0, 65_535, 64 * 32).astype(np.uint16).reshape(32, 64)
    data, _, _ = display_png(decode_image(_encode(Image.fromarray(values), "PNG")))
    img = _open_png(data)
    assert img.mode == "L"
    pixels = np.asarray(img)
    assert pixels.min() == 0 and pixels.max() == 255


def test_display_png_carries_no_metadata_from_a_png_upload():
    info = PngImagePlugin.PngInfo()
    info.add_text("PatientName", PATIENT_NAME)
    exif = Image.Exif()
    exif[0x010E] = PATIENT_ID  # ImageDescription
    data = _encode(_noise(40, 30), "PNG", pnginfo=info, exif=exif, dpi=(300, 300))
    assert PATIENT_NAME.encode() in data  # the upload really does carry it

    served, _, _ = display_png(decode_image(data))
    img = _open_png(served)
    assert not {"exif", "icc_profile", "dpi", "PatientName"} & set(img.info)
    assert not img.text
    assert _png_chunk_types(served) == [b"IHDR"] + [b"IDAT"] * (len(_png_chunk_types(served)) - 2) + [b"IEND"]
    assert PATIENT_NAME.encode() not in served and PATIENT_ID.encode() not in served


def test_display_png_carries_no_dicom_tags():
    stored = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    data = _dicom(stored, center="2000", width="4000")
    assert PATIENT_NAME.encode() in data

    served, width, height = display_png(decode_image(data), max_side=32)
    img = _open_png(served)
    assert (width, height) == img.size == (32, 32)
    assert img.mode == "L"
    assert not {"exif", "icc_profile", "dpi"} & set(img.info)
    assert not img.text
    assert set(_png_chunk_types(served)) == {b"IHDR", b"IDAT", b"IEND"}
    for secret in (PATIENT_NAME, "Doe", PATIENT_ID):
        assert secret.encode() not in served
