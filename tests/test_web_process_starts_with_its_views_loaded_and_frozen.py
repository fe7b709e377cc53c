"""A fresh web process (config.wsgi) has every view module imported before its first request, and
what the imports made is frozen out of the cycle collector's passes (gc.freeze): the full passes
that walked it paused requests for hundreds of milliseconds under load (bench/load_ratings.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys
from config.wsgi import application
views = "reading.api" in sys.modules and "scoring.views" in sys.modules
print(json.dumps({"frozen": gc.get_freeze_count(), "views": views}))
"""


def test_the_views_are_imported_and_the_start_up_objects_frozen(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["views"] is True and result["frozen"] > 100_000
