"""A 2 MB deflated DICOM that inflates to 2 GiB is refused by the importing process with its peak
memory under 1 GB, measured in a process of its own (pydicom alone inflates such a file whole: 2.9 MB
reached 5.8 GB in the report that led to this test).

The child runs the worker's decoding path, annotation.services.storage.image_decode, with the
default limits, and reports its own peak resident memory (Linux's VmHWM).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_security_hostile_inputs_corpus import dicom_deflated

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3

CHILD = """
import json, sys
import django
django.setup()
from annotation.imaging import ImageRejected
from annotation.services.storage import image_decode
data = open(sys.argv[1], "rb").read()
try:
    image_decode(data)
    outcome = "decoded"
except ImageRejected as exc:
    outcome = str(exc)
# VmHWM, this program's own high-water mark: getrusage's ru_maxrss would carry over the RSS of the
# test process that forked it (Linux keeps it across exec).
hwm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "peak_bytes": hwm_kib * 1024}))
"""


def test_a_deflate_bomb_is_refused_within_a_gigabyte(tmp_path):
    bomb = tmp_path / "bomb.dcm"
    bomb.write_bytes(dicom_deflated(inflated_pixel_bytes=2 * GIB))
    assert bomb.stat().st_size < 4 * 1024 * 1024

    report = _run_child(tmp_path, bomb)

    assert "deflated DICOM inflates beyond the limit of 209,715,200 bytes" in report["outcome"], report
    assert report["peak_bytes"] < 1 * GIB, report


def _run_child(tmp_path: Path, image: Path, **env_overrides: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path / "var")}
    for name in ("IMPORT_MAX_FILE_BYTES", "IMPORT_DECODE_MEMORY_MB"):
        env.pop(name, None)  # the defaults are what is proven, unless the test says otherwise
    env.update(env_overrides)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(image)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_image_that_needs_more_memory_than_allowed_is_a_rejection_not_a_dead_worker(tmp_path):
    """What the checks before decoding cannot foresee meets the memory ceiling around decoding
    (core/memory.py): a 36-megapixel PNG, within the pixel limit, with 64 MB allowed to decode."""
    from PIL import Image as PILImage

    image = tmp_path / "large.png"
    PILImage.new("L", (6000, 6000), 90).save(image, format="PNG")
    report = _run_child(tmp_path, image, IMPORT_DECODE_MEMORY_MB="64")
    assert report["outcome"].startswith(("decoding needs more than the 64 MB", "image too large to decode")), report

    allowed = _run_child(tmp_path, image)  # the default ceiling (1.5 GB) decodes it
    assert allowed["outcome"] == "decoded", allowed
