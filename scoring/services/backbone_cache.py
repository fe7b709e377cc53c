"""The backbone's outputs, computed once per image on the model queue and kept in the database.

The backbone runs once per (image, backbone identity): its 18 logits and pooled features (1024 for
the DenseNets, 2048 for the ResNet) are kept in BackboneOutput, and the model input (224x224, or the
size the weights take) once per (image, input key) in storage,
so a new head re-scores a study without touching torch. The identity is the weights file's SHA-256
with the library versions and PREPROCESS_VERSION (scoring/model/provenance.py): replacing the file
under the same name, upgrading torch or changing preprocessing means recomputing, never reusing.
Worker code: the web process never imports this module.
"""

import io
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation.models import Image
from scoring.model.backbone import (
    WeightsMissing,
    WeightsUnreadable,
    load_backbone,
    place_backbone,
    weights_identity,
    weights_spec,
)
from scoring.model.features import extract
from scoring.model.heads import POOLED_SETS, select_features
from scoring.model.preprocess import preprocess_bytes
from scoring.model.provenance import BackboneIdentity
from scoring.models import BackboneOutput
from scoring.services.model_versions import ModelStateError

logger = logging.getLogger(__name__)
_BACKBONES: dict[tuple[str, str, str], object] = {}  # one loaded backbone per worker process and file
INPUTS_FOLDER = "model_inputs"


def backbone_identity_current(weights: str | None = None) -> BackboneIdentity:
    """The identity of the weights file in SCORING_XRV_CACHE_DIR now (hashed once per file version);
    raises WeightsMissing when the file is not there. No torch import."""
    return weights_identity(weights=weights or settings.SCORING_XRV_WEIGHTS, cache_dir=settings.SCORING_XRV_CACHE_DIR)


def backbone_get(identity: BackboneIdentity) -> object:
    """The loaded backbone for this weights file; loaded once per process and file content."""
    key = (identity.name, identity.path, identity.weights_sha256)
    if key not in _BACKBONES:
        model = load_backbone(weights=identity.name, cache_dir=str(Path(identity.path).parent))
        _BACKBONES.clear()  # a replaced file: the old network is never used again
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


def model_input(image: Image, identity: BackboneIdentity) -> np.ndarray:
    """The paper's input for an image at the size the weights take, computed once per input key from
    the original and kept."""
    name = f"{INPUTS_FOLDER}/{identity.input_key[:16]}/{image.sha256[:2]}/{image.sha256}.npy"
    if default_storage.exists(name):
        cached = _cached_input(name)
        if cached is not None:
            return cached
    with default_storage.open(image.original.name, "rb") as handle:
        array = preprocess_bytes(handle.read(), max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS, size=identity.input_size)
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    default_storage.save(name, ContentFile(buffer.getvalue()))
    return array


def _cached_input(name: str) -> np.ndarray | None:
    """A kept model input, or None when its file cannot be read whole: a worker killed while writing
    it leaves it cut short. The file is then removed, to be computed and written again, so that the
    retried job finishes instead of failing on it every time."""
    try:
        with default_storage.open(name, "rb") as handle:
            return np.load(io.BytesIO(handle.read()))
    except (ValueError, EOFError, OSError):
        logger.warning("model input %s was unreadable (cut short?): computed again", name)
        default_storage.delete(name)
        return None


def backbone_outputs_ensure(
    *, images: list[Image], identity: BackboneIdentity, progress: Callable[[int, int], None] | None = None
) -> int:
    """Run the backbone on images without outputs cached under this identity, in batches; returns how
    many were run. Outputs cached under another identity (other weights bytes, libraries or
    preprocessing) do not count: they are recomputed.

    Works in chunks: decode and preprocess a chunk in threads (skimage and Pillow release the GIL,
    so both cores work), then run the backbone on it (torch uses both cores itself). Alternating
    rather than overlapping avoids oversubscribing the cores; chunks bound the memory.
    """
    done_ids = set(BackboneOutput.objects.filter(key=identity.key, image__in=images).values_list("image_id", flat=True))
    todo = [image for image in images if image.pk not in done_ids]
    if not todo:
        return 0
    model = backbone_get(identity)
    batch, chunk_size = settings.SCORING_BATCH_SIZE, settings.SCORING_CHUNK_SIZE
    if progress:
        progress(0, len(todo))
    with ThreadPoolExecutor(max_workers=settings.SCORING_PREPROCESS_THREADS) as pool:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            logits, pooled = extract(model, _model_inputs(pool, chunk, identity), batch_size=batch)
            rows = [
                BackboneOutput(
                    image=image,
                    backbone=identity.name,
                    key=identity.key,
                    weights_sha256=identity.weights_sha256,
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


def _model_inputs(pool: ThreadPoolExecutor, images: list[Image], identity: BackboneIdentity) -> list[np.ndarray]:
    """Model inputs in the images' order, the largest images started first so that no thread is
    left with a big one at the end while the other idles."""
    by_size = sorted(range(len(images)), key=lambda i: images[i].width * images[i].height, reverse=True)
    futures = {i: pool.submit(model_input, images[i], identity) for i in by_size}
    return [futures[i].result() for i in range(len(images))]


def backbone_features(*, image_ids: list[int], identity: BackboneIdentity, feature_set: str) -> np.ndarray:
    """Feature rows for a head, from the outputs cached under this identity only: no torch (the
    weights' output names and widths are known from their name)."""
    spec = weights_spec(identity.name)
    need_pooled = feature_set in POOLED_SETS
    fields = ["image_id", "logits"] + (["features"] if need_pooled else [])
    stored = BackboneOutput.objects.filter(key=identity.key, image_id__in=image_ids).values_list(*fields)
    rows = {row[0]: row for row in stored}
    missing = [image_id for image_id in image_ids if image_id not in rows]
    if missing:
        raise ModelStateError(f"{len(missing)} image(s) have no backbone outputs for these weights yet")
    logits = _stack([rows[i][1] for i in image_ids], width=len(spec.outputs))
    pooled = _stack([rows[i][2] for i in image_ids] if need_pooled else [], width=spec.pooled_width, n=len(image_ids))
    return select_features(feature_set, logits, pooled, spec.outputs)


def _stack(blobs: list, *, width: int, n: int | None = None) -> np.ndarray:
    if not blobs:
        return np.empty((n or 0, width), np.float32)
    return np.stack([np.frombuffer(bytes(blob), dtype=np.float32) for blob in blobs])


def model_cache_summary(*, images: list[Image] | None = None) -> dict:
    """Cached backbone outputs per identity key, and whether each is the current weights' key."""
    try:
        current = backbone_identity_current().key
    except (WeightsMissing, ValueError):
        current = None
    outputs = BackboneOutput.objects.all() if images is None else BackboneOutput.objects.filter(image__in=images)
    keys: dict[str, dict] = {}
    for key, name, sha in outputs.values_list("key", "backbone", "weights_sha256"):
        entry = keys.setdefault(key, {"backbone": name, "weights_sha256": sha, "outputs": 0, "current": key == current})
        entry["outputs"] += 1
    return {"current_key": current, "keys": keys}


def model_cache_purge(*, images: list[Image] | None = None) -> tuple[int, int]:
    """Delete cached backbone outputs and model inputs (of these images, else all): (outputs, inputs).
    The next pre-score or retrain recomputes what it needs."""
    outputs = BackboneOutput.objects.all() if images is None else BackboneOutput.objects.filter(image__in=images)
    n_outputs = outputs.delete()[0]
    wanted = None if images is None else {f"{image.sha256}.npy" for image in images}
    n_inputs = 0
    for name in _stored_inputs():
        if wanted is None or name.rsplit("/", 1)[-1] in wanted:
            default_storage.delete(name)
            n_inputs += 1
    return n_outputs, n_inputs


def _stored_inputs() -> list[str]:
    names, folders = [], [INPUTS_FOLDER]
    while folders:
        folder = folders.pop()
        try:
            subfolders, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        folders += [f"{folder}/{sub}" for sub in subfolders]
        names += [f"{folder}/{name}" for name in files]
    return names
