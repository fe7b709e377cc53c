"""The web process never loads torch: saliency maps are files the model worker drew, and model jobs
are sent by task name. Proven statically by import-linter's "no-torch-on-the-web" contract
(pyproject.toml, `make lint`) and here at run time: a fresh process that loads the WSGI application,
every URL's view and the admin has no torch, torchxrayvision or torchvision in sys.modules."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
from config.wsgi import application  # django.setup(), settings, apps, admin autodiscovery
from django.urls import get_resolver

def views(resolver):
    for entry in resolver.url_patterns:
        if hasattr(entry, "url_patterns"):
            yield from views(entry)
        else:
            yield entry.callback

n = sum(1 for _ in views(get_resolver()))
loaded = sorted(m for m in ("torch", "torchxrayvision", "torchvision") if m in sys.modules)
print(json.dumps({"views": n, "loaded": loaded}))
"""


def test_a_web_process_with_every_view_loaded_has_no_torch(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["views"] > 100 and result["loaded"] == []
