"""Image files: stored once per content hash, named by the hash only."""

import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from annotation import imaging
from annotation.models import Image
from core.memory import memory_ceiling

logger = logging.getLogger(__name__)


def image_store(*, data: bytes, sha256: str, written: list[str] | None = None) -> Image:
    """The Image for these bytes: reused when the content is known, else decoded and stored.

    Files are written before the row; if the row cannot be written the files are removed again.
    `written`, if given, receives the names of the files this call stored (empty when the image was
    known), so that a caller whose own write fails afterwards can remove them.
    """
    known = Image.objects.filter(sha256=sha256).first()
    if known:
        return known
    if not data:
        raise imaging.ImageRejected("empty file")
    decoded, display, display_width, display_height = image_decode(data)
    original_name, display_name = image_file_names(sha256=sha256, extension=decoded.source_format)
    written = [] if written is None else written
    try:
        for name, content in ((original_name, data), (display_name, display)):
            written.append(file_replace(name=name, content=content))
        height, width = decoded.pixels.shape
        with transaction.atomic():
            return Image.objects.create(
                sha256=sha256,
                original=written[0],
                display=written[1],
                source_format=decoded.source_format,
                bit_depth=decoded.bit_depth,
                width=width,
                height=height,
                display_width=display_width,
                display_height=display_height,
                original_bytes=len(data),
                burned_in_annotation=decoded.burned_in_annotation,
            )
    except IntegrityError:
        files_delete(written)
        written.clear()  # removed here already: the caller must not remove these names again
        return Image.objects.get(sha256=sha256)  # stored meanwhile by a concurrent import
    except BaseException:
        files_delete(written)
        written.clear()
        raise


def image_decode(data: bytes) -> tuple[imaging.DecodedImage, bytes, int, int]:
    """Decode within the limits: pixels and inflated size checked before decoding, and a memory
    ceiling around it all for what the checks cannot foresee (a codec's own buffers)."""
    try:
        with memory_ceiling(settings.IMPORT_DECODE_MEMORY_BYTES):
            decoded = imaging.decode_image(
                data, max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS, max_inflated_bytes=settings.IMPORT_MAX_FILE_BYTES
            )
            display, width, height = imaging.display_png(decoded, max_side=settings.DISPLAY_MAX_SIDE)
    except MemoryError:
        limit = settings.IMPORT_DECODE_MEMORY_BYTES / 1024 / 1024
        raise imaging.ImageRejected(f"decoding needs more than the {limit:,.0f} MB allowed for one image") from None
    return decoded, display, width, height


def image_file_names(*, sha256: str, extension: str) -> tuple[str, str]:
    """Storage names of an image's original and display files: the content hash only, never the
    uploaded filename."""
    return f"originals/{sha256[:2]}/{sha256}.{extension}", f"display/{sha256[:2]}/{sha256}.png"


def file_replace(*, name: str, content: bytes) -> str:
    """Write `content` under exactly `name` (a file left there by a failed run is replaced)."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))


def files_delete(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("could not remove %s after a failed import", name)
