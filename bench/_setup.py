"""Shared by the benchmarks: a throwaway database under a temporary VAR_DIR, migrated."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_with_throwaway_db(source: Path = ROOT) -> Path:
    """Django set up from `source` (this tree, or another revision's unpacked code)."""
    var = Path(tempfile.mkdtemp(prefix="cxr-bench-"))
    os.environ["VAR_DIR"] = str(var)
    os.environ.pop("DATABASE_URL", None)  # never a real database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(source))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return var


def revision_unpacked(revision: str, folder: Path) -> Path:
    """The code of a git revision of this repository (`git archive`), unpacked into `folder`, for a
    bench that runs an earlier revision side by side with this tree (with this virtualenv)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True)
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder
