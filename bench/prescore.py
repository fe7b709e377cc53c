"""Benchmark: pre-scoring, the platform's pipeline against the paper's one-image-at-a-time script.

1. Cold pre-scoring of the shared images (../shared/covid-severity/images, 93 files): the platform's
   prescore job (decode from the stored original, preprocess, backbone in batches, head, store)
   against the paper's script (skimage imread, normalize, first channel, crop, resize, one forward
   pass per image, head), on the same machine and the same weights file. Goal: at least 2x its
   throughput.
2. Re-scoring 10,000 cached cases with a new head after a retrain (no backbone). Goal: under 2 s.

No pretrained weights can be downloaded here, so both sides load the same randomly initialised
DenseNet written under the official file name: the work per image is identical to the real one.

    .venv/bin/python bench/prescore.py [--images ../shared/covid-severity/images] [--cached 10000]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from _setup import ROOT, django_with_throwaway_db


def paper_script(model, paths: list[Path]) -> float:
    """The paper's predict_severity.py loop, as published (one image at a time)."""
    import numpy as np
    import skimage.io
    import torch
    import torchvision
    import torchxrayvision as xrv

    transform = torchvision.transforms.Compose([xrv.datasets.XRayCenterCrop(), xrv.datasets.XRayResizer(224)])
    t0 = time.perf_counter()
    for path in paths:
        img = skimage.io.imread(path)
        img = xrv.datasets.normalize(img, 255)
        if len(img.shape) > 2:
            img = img[:, :, 0]
        img = transform(img[None, :, :])
        with torch.no_grad():
            out = model(torch.from_numpy(img).unsqueeze(0).float())
        geographic = float(np.clip(0.8705248236656189 * out[0, 16].item() + 3.4137437, 0, 8))
        _ = geographic
    return time.perf_counter() - t0


def platform_prescore(paths: list[Path]) -> float:
    from django.contrib.auth import get_user_model

    from annotation.ingest import Source
    from annotation.services import images_import, study_create
    from scoring.models import ModelJob
    from scoring.services import model_job_start
    from scoring.services.prescore import prescore_execute

    owner = get_user_model().objects.create_user("bench-owner")
    study = study_create(owner=owner, slug="bench-prescore", title="bench", rubric="cohen2020")
    images_import(study=study, sources=[Source(p.name, p.name, p.read_bytes()) for p in paths])
    job = model_job_start(study=study, kind=ModelJob.Kind.PRESCORE, dispatch=False)
    warm_backbone()
    t0 = time.perf_counter()
    prescore_execute(job_id=job.pk)
    elapsed = time.perf_counter() - t0
    job.refresh_from_db()
    assert job.status == "done", job.error
    return elapsed


def warm_backbone() -> None:
    """A model worker loads the backbone once and keeps it, as the paper's script loads its model
    once before its loop: neither side's timing includes loading the weights file."""
    import numpy as np
    from django.conf import settings

    from scoring.model.features import extract
    from scoring.services.backbone_cache import backbone_get

    extract(backbone_get(settings.SCORING_XRV_WEIGHTS), [np.zeros((1, 224, 224), np.float32)] * 4, batch_size=4)


def rescore_cached(n: int) -> float:
    import numpy as np
    from django.contrib.auth import get_user_model

    from annotation.models import Case, Image
    from annotation.services import study_create
    from scoring.model.heads import LinearHead
    from scoring.models import BackboneOutput, ModelVersion
    from scoring.services.prescore import predictions_store

    rng = np.random.default_rng(0)
    owner = get_user_model().objects.create_user("bench-owner-2")
    study = study_create(owner=owner, slug="bench-rescore", title="bench", rubric="cohen2020")
    images = Image.objects.bulk_create(
        [
            Image(
                sha256=f"{i:064x}",
                original=f"o/{i}",
                display=f"d/{i}",
                source_format="png",
                bit_depth=8,
                width=1,
                height=1,
                display_width=1,
                display_height=1,
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    cases = Case.objects.bulk_create(
        [Case(study=study, image=im, original_filename=f"c{i}.png") for i, im in enumerate(images)], batch_size=5000
    )
    from django.conf import settings

    BackboneOutput.objects.bulk_create(
        [
            BackboneOutput(
                image=im,
                backbone=settings.SCORING_XRV_WEIGHTS,
                logits=rng.normal(size=18).astype(np.float32).tobytes(),
                features=rng.normal(size=1024).astype(np.float32).tobytes(),
            )
            for im in images
        ],
        batch_size=2000,
    )
    head = LinearHead(
        "four_outputs",
        {"geographic_extent": [0.5, 0.2, 0.1, 0.3], "opacity": [0.3, 0.1, 0.1, 0.2]},
        {"geographic_extent": 3.4, "opacity": 2.5},
        {"geographic_extent": (0.0, 8.0), "opacity": (0.0, 6.0)},
    )
    version = ModelVersion.objects.create(
        study=study, number=2, backbone=settings.SCORING_XRV_WEIGHTS, feature_set="four_outputs", head=head.to_dict()
    )
    cases = list(Case.objects.filter(study=study).order_by("pk"))
    t0 = time.perf_counter()
    stored = predictions_store(version=version, cases=cases)
    elapsed = time.perf_counter() - t0
    assert stored == n
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "covid-severity" / "images")
    parser.add_argument("--cached", type=int, default=10_000)
    args = parser.parse_args()
    weights = Path(tempfile.mkdtemp(prefix="xrv-bench-"))
    os.environ["SCORING_XRV_CACHE_DIR"] = str(weights)
    django_with_throwaway_db()
    from tests.model_weights import write_random_weights

    write_random_weights(weights)
    from scoring.model.backbone import load_backbone

    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    model = load_backbone(cache_dir=weights)
    paper_script(model, paths[:2])  # warm up torch's kernels for both sides
    paper = paper_script(model, paths)
    ours = platform_prescore(paths)
    print(f"cold pre-scoring of {len(paths)} images (random weights, official file name, CPU)")
    print(f"{'':40}{'seconds':>9}{'images/s':>10}{'throughput vs paper':>22}")
    print(f"{'paper script, one image at a time':40}{paper:9.2f}{len(paths) / paper:10.2f}{1.0:22.2f}")
    print(f"{'platform prescore job':40}{ours:9.2f}{len(paths) / ours:10.2f}{paper / ours:22.2f}")
    print(f"goal >= 2x: {'met' if paper / ours >= 2 else 'NOT met'}")
    rescore = rescore_cached(args.cached)
    print(
        f"re-scoring {args.cached:,} cached cases with a new head: {rescore:.2f} s "
        f"(goal < 2 s: {'met' if rescore < 2 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
