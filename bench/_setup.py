"""Shared by the benchmarks: a throwaway database under a temporary VAR_DIR, migrated."""

import os
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
