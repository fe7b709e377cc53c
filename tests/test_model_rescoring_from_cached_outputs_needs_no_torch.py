"""Re-scoring a study from cached backbone outputs (a new head after a retrain) never imports torch:
the weights file's identity is its SHA-256 and the installed versions from package metadata, and the
output names of the default weights are known without torchxrayvision (issue 16)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import numpy as np
from django.contrib.auth import get_user_model
from annotation.models import Case, Image
from annotation.services import study_create
from scoring.model.heads import LinearHead
from scoring.models import BackboneOutput, ModelVersion, Prediction
from scoring.services import model_job_start
from scoring.services.backbone_cache import backbone_identity_current
from scoring.services.prescore import prescore_execute

identity = backbone_identity_current()
owner = get_user_model().objects.create_user("owner")
from accounts.services import coordinator_set
coordinator_set(user=owner, allowed=True)
study = study_create(owner=owner, slug="rescore", title="rescore", rubric="cohen2020")
rng = np.random.default_rng(0)
for i in range(20):
    image = Image.objects.create(sha256=f"{i:064x}", original=f"o/{i}", display=f"d/{i}", source_format="png",
        bit_depth=8, width=1, height=1, display_width=1, display_height=1)
    Case.objects.create(study=study, image=image, original_filename=f"c{i}.png")
    BackboneOutput.objects.create(image=image, backbone=identity.name, key=identity.key,
        weights_sha256=identity.weights_sha256, logits=rng.normal(size=18).astype(np.float32).tobytes(),
        features=rng.normal(size=1024).astype(np.float32).tobytes())
head = LinearHead("four_outputs", {"geographic_extent": [0.5, 0.2, 0.1, 0.3], "opacity": [0.3, 0.1, 0.1, 0.2]},
    {"geographic_extent": 3.4, "opacity": 2.5}, {"geographic_extent": (0.0, 8.0), "opacity": (0.0, 6.0)})
version = ModelVersion.objects.create(study=study, number=2, backbone=identity.name, feature_set="four_outputs",
    head=head.to_dict(), weights_sha256=identity.weights_sha256,
    intervals={"level": 0.9, "halfwidth": {"geographic_extent": 1.5, "opacity": 1.0}})
job = model_job_start(study=study, kind="prescore", model_version=version, dispatch=False)
prescore_execute(job_id=job.pk)
job.refresh_from_db()
loaded = sorted(m for m in ("torch", "torchxrayvision", "torchvision") if m in sys.modules)
print(json.dumps({"status": job.status, "error": job.error, "predicted": Prediction.objects.count(),
    "with_intervals": Prediction.objects.exclude(intervals={}).count(), "loaded": loaded}))
"""


def test_a_prescore_job_from_cached_outputs_imports_no_torch(tmp_path):
    from tests.model_weights import OFFICIAL_FILE

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / OFFICIAL_FILE).write_bytes(b"any bytes: only their hash is read")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(tmp_path / "var"),
        "SCORING_XRV_CACHE_DIR": str(weights),
        "SCORING_SALIENCY": "off",
    }
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["status"], result["error"]) == ("done", "")
    assert result["predicted"] == result["with_intervals"] == 20
    assert result["loaded"] == []
