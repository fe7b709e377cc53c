"""The backbone's outputs, computed once per image on the model queue and kept in the database.

The backbone runs once per (image, backbone): its 18 logits and 1024 pooled features are kept in
BackboneOutput, and the paper's 224x224 input array once per image in storage, so a new head
re-scores a study without touching torch. Worker code: the web process never imports this module.
"""

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation.models import Image
from scoring.model.backbone import WeightsMissing, WeightsUnreadable, load_backbone, place_backbone
from scoring.model.features import extract, pathologies
from scoring.model.heads import select_features
from scoring.model.preprocess import preprocess_bytes
from scoring.models import BackboneOutput
from scoring.services.model_versions import ModelStateError

_BACKBONES: dict[tuple[str, str | None], object] = {}  # one loaded backbone per worker process


def backbone_get(weights: str) -> object:
    """The loaded backbone for these weights, from SCORING_XRV_CACHE_DIR; loaded once per process."""
    key = (weights, settings.SCORING_XRV_CACHE_DIR)
    if key not in _BACKBONES:
        model = load_backbone(weights=weights, cache_dir=settings.SCORING_XRV_CACHE_DIR)
        _BACKBONES[key] = place_backbone(model, scoring_device())
    return _BACKBONES[key]


def scoring_device() -> str:
    """SCORING_DEVICE: "auto" (a GPU when torch sees one, else the CPU), "cpu", or "cuda[:N]"."""
    import torch  # worker code, but the import of this module itself stays cheap

    wanted = settings.SCORING_DEVICE
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise ModelStateError(f"SCORING_DEVICE={wanted} but torch sees no GPU on this worker")
    return wanted


def failure_message(exc: Exception) -> str:
    """What a failed model job says on the owner's page: the weights' own instructions as they are."""
    if isinstance(exc, (WeightsMissing, WeightsUnreadable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def model_input(image: Image) -> np.ndarray:
    """The paper's 224x224 input for an image, computed once from the original and kept."""
    name = f"model_inputs/{image.sha256[:2]}/{image.sha256}.npy"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            return np.load(io.BytesIO(handle.read()))
    with default_storage.open(image.original.name, "rb") as handle:
        array = preprocess_bytes(handle.read(), max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS)
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    default_storage.save(name, ContentFile(buffer.getvalue()))
    return array


def backbone_outputs_ensure(
    *, images: list[Image], backbone: str, progress: Callable[[int, int], None] | None = None
) -> int:
    """Run the backbone on images without cached outputs, in batches; returns how many were run.

    Works in chunks: decode and preprocess a chunk in threads (skimage and Pillow release the GIL,
    so both cores work), then run the backbone on it (torch uses both cores itself). Alternating
    rather than overlapping avoids oversubscribing the cores; chunks bound the memory.
    """
    done_ids = set(
        BackboneOutput.objects.filter(backbone=backbone, image__in=images).values_list("image_id", flat=True)
    )
    todo = [image for image in images if image.pk not in done_ids]
    if not todo:
        return 0
    model = backbone_get(backbone)
    batch, chunk_size = settings.SCORING_BATCH_SIZE, settings.SCORING_CHUNK_SIZE
    if progress:
        progress(0, len(todo))
    with ThreadPoolExecutor(max_workers=settings.SCORING_PREPROCESS_THREADS) as pool:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            logits, pooled = extract(model, _model_inputs(pool, chunk), batch_size=batch)
            rows = [
                BackboneOutput(
                    image=image,
                    backbone=backbone,
                    logits=logits[i].astype(np.float32).tobytes(),
                    features=pooled[i].astype(np.float32).tobytes(),
                )
                for i, image in enumerate(chunk)
            ]
            # ignore_conflicts: computed meanwhile by a redelivered task, with the same values.
            BackboneOutput.objects.bulk_create(rows, ignore_conflicts=True)
            if progress:
                progress(start + len(chunk), len(todo))
    return len(todo)


def _model_inputs(pool: ThreadPoolExecutor, images: list[Image]) -> list[np.ndarray]:
    """Model inputs in the images' order, the largest images started first so that no thread is
    left with a big one at the end while the other idles."""
    by_size = sorted(range(len(images)), key=lambda i: images[i].width * images[i].height, reverse=True)
    futures = {i: pool.submit(model_input, images[i]) for i in by_size}
    return [futures[i].result() for i in range(len(images))]


def backbone_features(
    *, image_ids: list[int], backbone: str, feature_set: str, pathology_names: list[str] | None = None
) -> np.ndarray:
    """Feature rows for a head, from the cached outputs only: no torch unless names are needed."""
    need_pooled = feature_set == "features_1024"
    fields = ["image_id", "logits"] + (["features"] if need_pooled else [])
    stored = BackboneOutput.objects.filter(backbone=backbone, image_id__in=image_ids).values_list(*fields)
    rows = {row[0]: row for row in stored}
    missing = [image_id for image_id in image_ids if image_id not in rows]
    if missing:
        raise ModelStateError(f"{len(missing)} image(s) have no backbone outputs yet")
    logits = _stack([rows[i][1] for i in image_ids], width=18)
    pooled = _stack([rows[i][2] for i in image_ids] if need_pooled else [], width=1024, n=len(image_ids))
    names = pathology_names or _stored_pathologies(backbone)
    return select_features(feature_set, logits, pooled, names)


def _stack(blobs: list, *, width: int, n: int | None = None) -> np.ndarray:
    if not blobs:
        return np.empty((n or 0, width), np.float32)
    return np.stack([np.frombuffer(bytes(blob), dtype=np.float32) for blob in blobs])


def _stored_pathologies(backbone: str) -> list[str]:
    # The 18 output names of torchxrayvision's "all" DenseNet, in order (the default
    # pathologies); read from the model itself when another backbone is configured.
    from torchxrayvision.datasets import default_pathologies

    if backbone.startswith("densenet121-res224-all"):
        return list(default_pathologies)
    return pathologies(backbone_get(backbone))
