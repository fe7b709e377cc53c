"""Turn uploaded PNG, JPEG or DICOM bytes into plain greyscale pixels.

This module is deliberately free of Django and the database: it takes bytes and
returns arrays (or raises ImageRejected with a reason the uploader can act on).
Nothing that identifies a patient ever leaves it: DecodedImage carries pixels and
display hints only, and display_png writes a PNG with no metadata at all.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pydicom
import pydicom.pixels
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pydicom.multival import MultiValue

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
DICOM_MAGIC = b"DICM"
DICOM_MAGIC_OFFSET = 128

# Pillow format names for the formats we sniff; passed to Image.open so that a
# file sniffed as PNG can never be parsed by some other (less hardened) plugin.
_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG"}

# Pillow modes whose samples are wider than 8 bits and must not go through
# convert("L"), which would clip them to 0..255.
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}

# ITU-R BT.601 luma, the same weights Pillow uses for convert("L").
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ImageRejected(Exception):
    """A file that cannot become a case; str(exc) is the reason shown to the uploader."""


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # 2-D float32 (rows x cols), brighter = higher
    source_format: str  # "png" | "jpeg" | "dicom"
    window: tuple[float, float] | None  # (center, width) or None -> min..max
    bit_depth: int  # bits per sample of the source
    # DICOM BurnedInAnnotation YES: text (possibly identifying) is part of the pixels.
    burned_in_annotation: bool = False
    # The values the source's bit depth can hold, (low, high), mapped to black..white when there is
    # no window: 16-bit PNG (by its sBIT chunk if any) and DICOM stored values without a rescale,
    # as torchxrayvision's read_xray_dcm scales by BitsStored. None: the image's own min..max.
    value_range: tuple[float, float] | None = None


def sniff_format(data: bytes) -> str | None:
    """Identify the format by magic bytes only; file names and MIME types are not trusted."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SOI):
        return "jpeg"
    if data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + len(DICOM_MAGIC)] == DICOM_MAGIC:
        return "dicom"
    return None


# A deflated DICOM dataset (transfer syntax 1.2.840.10008.1.2.1.99) is inflated up to this many bytes
# and refused beyond: a few MB of zeros can inflate to hundreds of GB.
DEFAULT_MAX_INFLATED_BYTES = 200 * 1024 * 1024
DEFLATED = "1.2.840.10008.1.2.1.99"


def decode_image(
    data: bytes, *, max_pixels: int = 40_000_000, max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES
) -> DecodedImage:
    """Decode an upload into a DecodedImage, or raise ImageRejected saying why not."""
    if not data:
        raise ImageRejected("empty file")
    source_format = sniff_format(data)
    if source_format is None:
        raise ImageRejected("not a PNG, JPEG or DICOM file")
    # Truncated uploads must be rejected, not padded with grey. We never change
    # this global ourselves; if someone else did, that is a programming error and
    # must be loud rather than silently accepting truncated files.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False for upload decoding")
    try:
        if source_format == "dicom":
            image = _decode_dicom(data, max_pixels=max_pixels, max_inflated_bytes=max_inflated_bytes)
        else:
            image = _decode_raster(data, source_format=source_format, max_pixels=max_pixels)
    except ImageRejected:
        raise
    except MemoryError:
        raise ImageRejected("image too large to decode") from None
    # Any other decoder failure is the file's fault, not a server error.
    except Exception as exc:  # noqa: BLE001
        raise ImageRejected(f"corrupt or unreadable image: {_detail(exc, source_format)}") from None
    if not np.isfinite(image.pixels).all():
        raise ImageRejected("corrupt or unreadable image: pixel values are not finite")
    return image


@dataclass(frozen=True)
class DicomSource:
    """Which DICOM instance an image is: what a structured report about it refers to."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str


def dicom_source(data: bytes) -> DicomSource | None:
    """The UIDs of a DICOM file (header only, pixels not read); None for any other file or when a
    UID is missing or longer than DICOM allows."""
    if sniff_format(data) != "dicom":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings may quote tag values
            head = pydicom.dcmread(io.BytesIO(data[: _file_meta_end(data)]))
            if str(head.file_meta.get("TransferSyntaxUID", "")) == DEFLATED:  # inflated within the cap
                ds = _read_dicom(data, max_inflated_bytes=DEFAULT_MAX_INFLATED_BYTES)
            else:
                ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=_SOURCE_TAGS)
    except Exception:  # noqa: BLE001 - pydicom raises many types; the file was decoded already
        return None
    uids = [str(ds.get(keyword, "") or "").strip() for keyword in _SOURCE_KEYWORDS]
    if not all(uids) or any(len(uid) > 64 for uid in uids):
        return None
    return DicomSource(*uids)


_SOURCE_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
_SOURCE_TAGS = list(_SOURCE_KEYWORDS)


def display_png(image: DecodedImage, *, max_side: int = 2048) -> tuple[bytes, int, int]:
    """8-bit greyscale PNG for raters: windowed, downscaled to max_side, no metadata."""
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    grey = np.rint(_to_0_255(image)).astype(np.uint8)
    # A fresh image built from the array: nothing from the upload (text chunks,
    # EXIF, ICC, DICOM tags) can ride along into the served file.
    img = Image.fromarray(grey)
    width, height = img.size
    scale = max_side / max(width, height)
    if scale < 1:  # never upscale
        width = max(1, round(width * scale))
        height = max(1, round(height * scale))
        img = img.resize((width, height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    # zlib level 3: about half the encoding time of the default 6 for ~12% larger files (measured
    # on the paper's images); imports of large batches are bound by this step.
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue(), width, height


def model_input(image: DecodedImage) -> np.ndarray:
    """The full-resolution pixels on a 0..255 float32 scale, as torchxrayvision expects."""
    return _to_0_255(image)


# --- helpers ---------------------------------------------------------------


def _to_0_255(image: DecodedImage) -> np.ndarray:
    """Map pixels to 0..255: the window if there is one, 8-bit data as-is, else the range the bit
    depth can hold, else (values in physical units after a DICOM rescale) the image's min..max.
    See docs/imaging.md."""
    pixels = image.pixels.astype(np.float32, copy=False)
    if image.window is not None:
        center, width = image.window
        low, high = center - width / 2, center + width / 2
    elif image.source_format != "dicom" and image.bit_depth <= 8:
        # Already on a 0..255 scale; stretching would change what the uploader saw.
        # (Not DICOM: its 8-bit values may be rescaled or use only a few bits.)
        return np.clip(pixels, 0, 255).astype(np.float32)
    elif image.value_range is not None:
        # Not min..max: one burned-in white (or black) pixel would darken (or wash out) the rest.
        low, high = image.value_range
    else:
        low, high = float(pixels.min()), float(pixels.max())
    if high <= low:  # a flat image has no contrast to stretch
        return np.zeros_like(pixels, dtype=np.float32)
    scaled = (pixels - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.float32)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _detail(exc: BaseException, source_format: str) -> str:
    """A short reason; for DICOM only the error type, since pydicom messages may quote tag values."""
    if source_format == "dicom":
        return f"invalid DICOM ({type(exc).__name__})"
    return _short(exc)


def _check_dimensions(width: int, height: int, *, max_pixels: int) -> None:
    """Reject from the header alone, before any pixel buffer is allocated."""
    if width <= 0 or height <= 0:
        raise ImageRejected(f"corrupt or unreadable image: invalid dimensions {width}x{height}")
    if width * height > max_pixels:
        raise ImageRejected(f"image too large: {width}x{height} pixels exceeds the limit of {max_pixels:,}")


def _decode_raster(data: bytes, *, source_format: str, max_pixels: int) -> DecodedImage:
    formats = [_PILLOW_FORMATS[source_format]]
    # Pillow's own bomb check only warns below 2x MAX_IMAGE_PIXELS; make that
    # warning an error too (locally, without touching global filters).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if source_format == "png":
                # verify() walks every chunk and checks CRCs, catching damage
                # that a pixel decode alone can miss; it needs its own handle.
                with Image.open(io.BytesIO(data), formats=formats) as probe:
                    _check_dimensions(*probe.size, max_pixels=max_pixels)
                    probe.verify()
            with Image.open(io.BytesIO(data), formats=formats) as img:
                _check_dimensions(*img.size, max_pixels=max_pixels)
                img.load()  # full decode now, so truncation raises here
                # A camera or phone's EXIF orientation: the image as it is meant to be seen.
                upright = ImageOps.exif_transpose(img)
                pixels, bit_depth = _pillow_to_grey(upright)
                value_range = None
                if bit_depth == 16:
                    bits = _png_significant_bits(data) if source_format == "png" else None
                    value_range = (0.0, float(2 ** (bits or 16) - 1))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own limit tripped in Image.open, before we saw the size.
            raise ImageRejected(f"image too large: exceeds the limit of {max_pixels:,} pixels") from None
        except UnidentifiedImageError:
            # Its message only names the BytesIO object; say what is actually wrong.
            raise ImageRejected(f"corrupt or unreadable image: invalid {source_format.upper()} header") from None
        except (OSError, SyntaxError, ValueError) as exc:
            # Pillow signals truncation and damaged streams with these.
            raise ImageRejected(f"corrupt or truncated image: {_short(exc)}") from None
    return DecodedImage(
        pixels=pixels, source_format=source_format, window=None, bit_depth=bit_depth, value_range=value_range
    )


def _png_significant_bits(data: bytes) -> int | None:
    """The sBIT chunk of a greyscale PNG (the bits the source really had: 12 in 16, say), if any."""
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = struct.unpack_from(">I", data, position)[0]
        kind = data[position + 4 : position + 8]
        if kind == b"sBIT" and length >= 1:
            bits = data[position + 8]
            return bits if 1 <= bits <= 16 else None
        if kind in (b"IDAT", b"IEND"):
            return None  # sBIT comes before the image data
        position += 12 + length
    return None


def _pillow_to_grey(img: Image.Image) -> tuple[np.ndarray, int]:
    """2-D float32 luminance and the source bit depth for any Pillow mode."""
    if img.mode in _WIDE_MODES:
        # 16-bit greyscale PNGs: keep their full range instead of clipping to 8 bits.
        return np.asarray(img).astype(np.float32), 16
    if img.mode == "F":
        return np.asarray(img, dtype=np.float32), 32
    # Everything else (1, L, LA, P, RGB, RGBA, CMYK, YCbCr, ...) has 8-bit or
    # narrower samples; Pillow's convert drops alpha and applies palettes/luma.
    return np.asarray(img.convert("L")).astype(np.float32), 8


def _decode_dicom(data: bytes, *, max_pixels: int, max_inflated_bytes: int) -> DecodedImage:
    # pydicom warns about malformed elements quoting their values, which could
    # put patient data into warning output; nothing in them matters to the caller.
    # Pillow's bomb warning stays an error: compressed frames are decoded by
    # Pillow, and their codestream may claim larger dimensions than Rows/Columns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode_dicom_quietly(data, max_pixels=max_pixels, max_inflated_bytes=max_inflated_bytes)


def _decode_dicom_quietly(data: bytes, *, max_pixels: int, max_inflated_bytes: int) -> DecodedImage:
    try:
        ds = _read_dicom(data, max_inflated_bytes=max_inflated_bytes)
    except ImageRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on bad input
        raise ImageRejected(f"corrupt or unreadable image: {_detail(exc, 'dicom')}") from None
    if not any(keyword in ds for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ImageRejected("DICOM without pixel data")
    _check_header(ds, max_pixels=max_pixels)
    burned_in = str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES"

    arr = _dicom_first_frame(ds)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bit_depth = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)

    if photometric == "PALETTE COLOR":
        arr = pydicom.pixels.apply_color_lut(arr, ds)
    if arr.ndim == 3:
        # Colour (RGB, or YBR which pydicom already converted to RGB): luminance
        # only; modality and VOI transforms are defined for greyscale images.
        return DecodedImage(
            pixels=_luminance(arr[..., :3]),
            source_format="dicom",
            window=None,
            bit_depth=bit_depth,
            burned_in_annotation=burned_in,
        )

    pixels = np.asarray(pydicom.pixels.apply_modality_lut(arr, ds), dtype=np.float32)
    window = _dicom_window(ds)
    value_range = None
    if window is None and "VOILUTSequence" in ds:
        # A non-linear VOI LUT cannot be expressed as (center, width): apply it.
        pixels = np.asarray(pydicom.pixels.apply_voi_lut(pixels, ds), dtype=np.float32)
    elif window is None and _stored_values_unchanged(ds):
        value_range = _stored_range(ds, bit_depth)
    if photometric == "MONOCHROME1":
        # MONOCHROME1 means low values are white; flip so air is dark like everywhere else:
        # high - value within the stored range (as torchxrayvision's read_xray_dcm does), else
        # within the data's own range; the window center is reflected with them.
        pivot = sum(value_range) if value_range else float(pixels.min()) + float(pixels.max())
        pixels = pivot - pixels
        if window is not None:
            window = (pivot - window[0], window[1])
    return DecodedImage(
        pixels=pixels,
        source_format="dicom",
        window=window,
        bit_depth=bit_depth,
        burned_in_annotation=burned_in,
        value_range=value_range,
    )


def _stored_values_unchanged(ds: pydicom.Dataset) -> bool:
    """No modality rescale: the pixels are the stored integers, whose range the header gives."""
    slope, intercept = ds.get("RescaleSlope", 1), ds.get("RescaleIntercept", 0)
    try:
        identity = float(slope or 1) == 1 and float(intercept or 0) == 0
    except (TypeError, ValueError):
        return False
    return identity and "ModalityLUTSequence" not in ds


def _stored_range(ds: pydicom.Dataset, bits: int) -> tuple[float, float] | None:
    if not 1 <= bits <= 32:
        return None
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:  # two's complement
        return (-float(2 ** (bits - 1)), float(2 ** (bits - 1) - 1))
    return (0.0, float(2**bits - 1))


def _read_dicom(data: bytes, *, max_inflated_bytes: int) -> pydicom.Dataset:
    """The dataset, its pixel data not decoded. A deflated dataset is inflated by us, up to the cap:
    pydicom would inflate it whole before anything could be checked."""
    meta_end = _file_meta_end(data)
    # No force=True: sniff_format already required the DICM preamble, and pydicom should still
    # refuse anything that is not really Part 10.
    head = pydicom.dcmread(io.BytesIO(data[:meta_end]))
    if str(head.file_meta.get("TransferSyntaxUID", "")) != DEFLATED:
        return pydicom.dcmread(io.BytesIO(data))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated = inflater.decompress(data[meta_end:], max_inflated_bytes + 1)
    if len(inflated) > max_inflated_bytes or inflater.unconsumed_tail:
        raise ImageRejected(f"deflated DICOM inflates beyond the limit of {max_inflated_bytes:,} bytes: not decoded")
    ds = pydicom.filereader.read_dataset(io.BytesIO(inflated), is_implicit_VR=False, is_little_endian=True)
    ds.file_meta = head.file_meta
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian  # what the bytes now are
    return ds


def _file_meta_end(data: bytes) -> int:
    """Where the file meta group (0002,xxxx; always explicit VR little endian, never deflated) ends."""
    position = DICOM_MAGIC_OFFSET + len(DICOM_MAGIC)
    while position + 8 <= len(data):
        group, _element = struct.unpack_from("<HH", data, position)
        if group != 0x0002:
            break
        vr = data[position + 4 : position + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"):
            length = struct.unpack_from("<I", data, position + 8)[0]
            position += 12 + length
        else:
            length = struct.unpack_from("<H", data, position + 6)[0]
            position += 8 + length
    return min(position, len(data))


def _check_header(ds: pydicom.Dataset, *, max_pixels: int) -> None:
    """Refuse from the header alone, before any pixel buffer is decoded."""
    _check_dimensions(int(ds.get("Columns", 0) or 0), int(ds.get("Rows", 0) or 0), max_pixels=max_pixels)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 16) or 16)
    if samples not in (1, 3, 4):
        raise ImageRejected(f"DICOM with {samples} samples per pixel: not an image we can show")
    if bits not in (1, 8, 16, 32, 64):
        raise ImageRejected(f"DICOM with {bits} bits allocated per sample: not decodable")


def _dicom_first_frame(ds: pydicom.Dataset) -> np.ndarray:
    """Decode only the first frame, naming the transfer syntax when that is the problem."""
    file_meta = getattr(ds, "file_meta", None)
    tsyntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    label = f"{tsyntax} ({tsyntax.name})" if tsyntax is not None else "unknown"
    if tsyntax is not None and tsyntax.is_compressed:
        try:
            available = pydicom.pixels.get_decoder(tsyntax).is_available
        except NotImplementedError:
            available = False
        if not available:
            raise ImageRejected(f"DICOM transfer syntax {label} cannot be decoded here")
    try:
        return pydicom.pixels.pixel_array(ds, index=0)
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise many types
        if tsyntax is not None and tsyntax.is_compressed:
            # A decoder exists but failed: corrupt data or a variant it lacks.
            raise ImageRejected(
                f"DICOM transfer syntax {label} could not be decoded here: "
                "the compressed pixel data is corrupt or uses an unsupported variant"
            ) from None
        raise ImageRejected(f"corrupt or unreadable image: {_detail(exc, 'dicom')}") from None


def _dicom_window(ds: pydicom.Dataset) -> tuple[float, float] | None:
    """First (center, width) pair of the VOI window, or None if absent or unusable."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    # Both may be multi-valued (several presets); the first is the default view.
    center = center[0] if isinstance(center, MultiValue) else center
    width = width[0] if isinstance(width, MultiValue) else width
    try:
        center, width = float(center), float(width)
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(center) and np.isfinite(width)) or width <= 0:
        return None
    return center, width


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) @ _LUMA).astype(np.float32)
