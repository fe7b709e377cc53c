"""What a cached backbone output, a model input and a model version were computed with. No Django.

A cached value is only reused when everything that determined it is unchanged: the weights file's
bytes (its SHA-256, not its name), the library versions that ran the network and the preprocessing,
and PREPROCESS_VERSION. Nothing here imports torch: versions are read from the installed packages'
metadata, so re-scoring from cached outputs stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path

# Bump when scoring/model/preprocess.py changes what it computes: every cached input and output
# computed before is then recomputed.
PREPROCESS_VERSION = 1
# Libraries whose versions decide the model input (decode, crop, resize) or the backbone's outputs.
INPUT_LIBRARIES = ("torchxrayvision", "scikit-image", "pillow", "numpy")
OUTPUT_LIBRARIES = ("torch", *INPUT_LIBRARIES)

_HASHES: dict[tuple, str] = {}
_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, inode, size, mtime): a replaced file is re-read."""
    stat = os.stat(path)
    key = (os.fspath(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with _LOCK:
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def library_versions(names: tuple[str, ...] = OUTPUT_LIBRARIES) -> dict[str, str]:
    """Installed versions from package metadata (no import of the packages themselves)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@dataclass(frozen=True)
class BackboneIdentity:
    """Everything a backbone output depends on. `key` names cached outputs, `input_key` model inputs."""

    name: str  # torchxrayvision weights name
    path: str
    weights_sha256: str
    libraries: tuple[tuple[str, str], ...]
    preprocess_version: int = PREPROCESS_VERSION
    input_size: int = 224  # the square model input these weights take (512 for the ResNet)

    @cached_property
    def key(self) -> str:
        return _digest({"weights": self.weights_sha256, "libraries": self.libraries, "pre": self.preprocess_version})

    @cached_property
    def input_key(self) -> str:
        # The weights do not enter preprocessing, only the size they take: inputs are shared by every
        # weights file of that size. The 224 key is the one used before other sizes existed.
        inputs = tuple((n, v) for n, v in self.libraries if n in INPUT_LIBRARIES)
        size = {} if self.input_size == 224 else {"size": self.input_size}
        return _digest({"libraries": inputs, "pre": self.preprocess_version, **size})

    def describe(self) -> dict:
        """The JSON a model version and the model page record."""
        data = asdict(self)
        data["libraries"] = dict(self.libraries)
        data["key"] = self.key
        return data


def backbone_identity(*, name: str, path: Path, input_size: int = 224) -> BackboneIdentity:
    """The identity of the weights file at `path` in this environment (the caller checks it exists)."""
    return BackboneIdentity(
        name=name,
        path=os.fspath(path),
        weights_sha256=file_sha256(path),
        libraries=tuple(sorted(library_versions().items())),
        input_size=input_size,
    )


def table_sha256(rows: list) -> str:
    """A stable hash of a JSON-able table (the training cases and their targets)."""
    return hashlib.sha256(json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def code_version(base_dir: Path) -> str:
    """The git commit the code runs from (read from .git without running git), else CODE_VERSION."""
    if os.environ.get("CODE_VERSION"):
        return os.environ["CODE_VERSION"]
    git = Path(base_dir) / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return "unknown"


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()
