"""Benchmark: pre-scoring, the platform's pipeline against the paper's one-image-at-a-time script.

1. Cold pre-scoring of the shared images (../shared/covid-severity/images, 93 files): the platform's
   prescore job (decode from the stored original, preprocess, backbone in batches, head, store)
   against the paper's script (skimage imread, normalize, first channel, crop, resize, one forward
   pass per image, head), on the same machine and the same weights file. The two sides alternate
   over --repeat repetitions (each starts first every other time; the platform's caches are purged
   before each of its runs) and the median of the per-repetition ratios is reported: one run of
   each reads anywhere from 0.9x to 8x on a shared machine. Goal: at least 2x its throughput.
2. Re-scoring 10,000 cached cases with a new head after a retrain (no backbone), in a fresh process:
   the import of the pre-score service (what a cold start would pay, e.g. torch for a linear head)
   is timed apart from the re-score itself. Goal: re-score under 2 s, and no torch imported.

No pretrained weights can be downloaded here, so both sides load the same randomly initialised
DenseNet written under the official file name: the work per image is identical to the real one.

    .venv/bin/python bench/prescore.py [--images ../shared/covid-severity/images] [--cached 10000] [--repeat 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
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


def platform_prescore(paths: list[Path], *, run: int) -> float:
    """One cold pre-score job: a new study of the same images, no cached outputs or model inputs."""
    from django.contrib.auth import get_user_model

    from accounts.services import coordinator_set
    from annotation.ingest import Source
    from annotation.services import images_import, study_create
    from scoring.models import ModelJob
    from scoring.services import model_job_start
    from scoring.services.backbone_cache import model_cache_purge
    from scoring.services.prescore import prescore_execute

    owner, _ = get_user_model().objects.get_or_create(username="bench-owner")
    coordinator_set(user=owner, allowed=True)
    study = study_create(owner=owner, slug=f"bench-prescore-{run}", title="bench", rubric="cohen2020")
    images_import(study=study, sources=[Source(p.name, p.name, p.read_bytes()) for p in paths])
    model_cache_purge()  # cold: every output and model input computed again
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
    from scoring.services.backbone_cache import backbone_get, backbone_identity_current

    model = backbone_get(backbone_identity_current(settings.SCORING_XRV_WEIGHTS))
    extract(model, [np.zeros((1, 224, 224), np.float32)] * 4, batch_size=4)


RESCORE_CHILD = """
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, os.path.join(os.environ["BENCH_ROOT"], "bench"))
from _setup import django_with_throwaway_db
django_with_throwaway_db()
n = int(os.environ["BENCH_CACHED"])
from prescore import cached_study
version, cases = cached_study(n)
t1 = time.perf_counter()
from scoring.services.backbone_cache import backbone_identity_current
from scoring.services.prescore import predictions_store
t_import = time.perf_counter()
stored = predictions_store(version=version, cases=cases, identity=backbone_identity_current())
t2 = time.perf_counter()
assert stored == n
loaded = sorted(m for m in ("torch", "torchxrayvision", "torchvision") if m in sys.modules)
print(json.dumps({"rescore_s": t2 - t_import, "import_s": t_import - t1, "setup_s": t1 - t0, "torch_loaded": loaded}))
"""


def rescore_cached(n: int) -> dict:
    """Re-score n cached cases in a fresh process: the time from the first scoring import to the stored
    predictions, and whether torch was imported on the way."""
    env = {**os.environ, "BENCH_ROOT": str(ROOT), "BENCH_CACHED": str(n)}
    out = subprocess.run([sys.executable, "-c", RESCORE_CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cached_study(n: int):
    """A study of n cases whose backbone outputs are cached under the current weights' key."""
    import numpy as np
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from accounts.services import coordinator_set
    from annotation.models import Case, Image
    from annotation.services import study_create
    from scoring.model.backbone import weights_path
    from scoring.model.heads import LinearHead
    from scoring.model.provenance import backbone_identity
    from scoring.models import BackboneOutput, ModelVersion

    # The identity by the pure function: scoring.services (and its imports) are timed by the caller.
    identity = backbone_identity(
        name=settings.SCORING_XRV_WEIGHTS,
        path=weights_path(settings.SCORING_XRV_WEIGHTS, settings.SCORING_XRV_CACHE_DIR),
    )
    rng = np.random.default_rng(0)
    owner = get_user_model().objects.create_user("bench-owner-2")
    coordinator_set(user=owner, allowed=True)
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
    Case.objects.bulk_create(
        [Case(study=study, image=im, original_filename=f"c{i}.png") for i, im in enumerate(images)], batch_size=5000
    )
    BackboneOutput.objects.bulk_create(
        [
            BackboneOutput(
                image=im,
                backbone=identity.name,
                key=identity.key,
                weights_sha256=identity.weights_sha256,
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
        study=study,
        number=2,
        backbone=identity.name,
        feature_set="four_outputs",
        head=head.to_dict(),
        weights_sha256=identity.weights_sha256,
        intervals={"level": 0.9, "halfwidth": {"geographic_extent": 1.5, "opacity": 1.0}},
    )
    return version, list(Case.objects.filter(study=study).order_by("pk"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "covid-severity" / "images")
    parser.add_argument("--cached", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="alternating repetitions of both sides")
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
    runs = []
    for run in range(args.repeat):
        if run % 2 == 0:
            paper = paper_script(model, paths)
            ours = platform_prescore(paths, run=run)
        else:
            ours = platform_prescore(paths, run=run)
            paper = paper_script(model, paths)
        runs.append((paper, ours))
    print(f"cold pre-scoring of {len(paths)} images (random weights, official file name, CPU), {args.repeat} runs")
    print(f"{'run':>4}{'first':>10}{'paper s':>10}{'platform s':>12}{'ratio':>8}")
    for run, (paper, ours) in enumerate(runs):
        print(f"{run:4d}{'paper' if run % 2 == 0 else 'platform':>10}{paper:10.2f}{ours:12.2f}{paper / ours:8.2f}")
    ratio = statistics.median(paper / ours for paper, ours in runs)
    print(f"median throughput vs paper: {ratio:.2f}x (goal >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    rescore = rescore_cached(args.cached)
    print(
        f"re-scoring {args.cached:,} cached cases with a new head in a fresh process: {rescore['rescore_s']:.2f} s "
        f"(goal < 2 s: {'met' if rescore['rescore_s'] < 2 else 'NOT met'}), after {rescore['import_s']:.2f} s of "
        f"imports; torch imported: {', '.join(rescore['torch_loaded']) or 'no'}"
    )


if __name__ == "__main__":
    main()
