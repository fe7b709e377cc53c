"""A real Orthanc archive with its DICOMweb plugin, one per test process, and DICOM files to put in it.

`orthanc_archive()` starts Debian's Orthanc (`apt-get install orthanc orthanc-dicomweb`, done by
.ci/run) on loopback, on a free port, with the committed tests/orthanc/orthanc.json (authentication
on) and its storage in a temporary folder; the process is stopped when the test process exits.
Without Orthanc the calling test fails under CI (CI set) and is skipped elsewhere, saying why.
"""

import atexit
import ctypes
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import requests
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

CONFIG = Path(__file__).resolve().parent / "orthanc" / "orthanc.json"
USERNAME, PASSWORD = "cxr-test", "orthanc-test-only"  # as in tests/orthanc/orthanc.json
PLUGIN_PLACES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)


@dataclass
class OrthancServer:
    process: subprocess.Popen
    port: int
    folder: Path

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.root}/dicom-web"

    def upload(self, data: bytes) -> dict:
        """Store one DICOM file through Orthanc's REST API (not DICOMweb: the seeding is not under test)."""
        response = requests.post(f"{self.root}/instances", data=data, auth=(USERNAME, PASSWORD), timeout=30)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: OrthancServer | None = None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str):
    if _in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def _binary() -> str | None:
    found = os.environ.get("ORTHANC_BINARY") or shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin")
    return found if found and os.access(found, os.X_OK) else None


def _plugin() -> str | None:
    places = [os.environ.get("ORTHANC_DICOMWEB_PLUGIN", ""), *PLUGIN_PLACES]
    return next((place for place in places if place and Path(place).exists()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def orthanc_archive() -> OrthancServer:
    """This test process's Orthanc, started on first use."""
    global _server
    if _server is not None and _server.process.poll() is None:
        return _server
    binary, plugin = _binary(), _plugin()
    if not binary or not plugin:
        _missing("Orthanc with its DICOMweb plugin is not installed: apt-get install orthanc orthanc-dicomweb")
    last = ""
    for _ in range(3):  # a free port may be taken between choosing and binding it
        server, last = _start(binary, plugin)
        if server:
            _server = server
            atexit.register(server.stop)
            return server
    pytest.fail(f"Orthanc did not start: {last}")


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process ends, even by os._exit (as pytest-xdist workers
    may), where atexit handlers do not run. Linux only; elsewhere the atexit handler stops it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _start(binary: str, plugin: str) -> tuple[OrthancServer | None, str]:
    folder = Path(tempfile.mkdtemp(prefix="orthanc-test-"))
    config = folder / "config"
    config.mkdir()
    shutil.copy(CONFIG, config / "orthanc.json")
    port = _free_port()
    # Orthanc reads every .json of the folder: what differs per run is kept apart from the committed file.
    storage = str(folder / "storage")
    runtime = {"HttpPort": port, "DicomPort": _free_port(), "StorageDirectory": storage, "IndexDirectory": storage}
    (config / "runtime.json").write_text(json.dumps({**runtime, "Plugins": [plugin]}))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [binary, str(config)], stdout=log, stderr=subprocess.STDOUT, cwd=folder, preexec_fn=_die_with_parent
    )
    server = OrthancServer(process=process, port=port, folder=folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{server.root}/system", auth=(USERNAME, PASSWORD), timeout=2).ok:
                return server, ""
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    tail = (folder / "orthanc.log").read_text(errors="replace")[-2000:]
    server.stop()
    return None, tail


# --- DICOM files --------------------------------------------------------------------------------


def xray_dicom(
    *,
    seed: int = 0,
    modality: str = "CR",
    study_uid: str | None = None,
    series_uid: str | None = None,
    patient_id: str = "PAT-1",
    accession: str = "",
    study_date: date = date(2020, 3, 14),
    size: tuple[int, int] = (48, 64),
) -> bytes:
    """A small 12-bit MONOCHROME2 chest X-ray as a DICOM file: CR or DX (for presentation)."""
    sop_class = ComputedRadiographyImageStorage if modality == "CR" else DigitalXRayImageStorageForPresentation
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 4096, size=size, dtype=np.uint16)
    ds = _dataset(sop_class, study_uid=study_uid, series_uid=series_uid, patient_id=patient_id)
    ds.Modality = modality
    ds.AccessionNumber = accession
    ds.StudyDate = ds.SeriesDate = study_date.strftime("%Y%m%d")
    ds.Rows, ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PixelData = pixels.tobytes()
    return _file_bytes(ds)


def text_sr_dicom(*, study_uid: str, patient_id: str = "PAT-1") -> bytes:
    """A Basic Text SR: a DICOM instance that is not an image."""
    from pydicom.dataset import Dataset
    from pydicom.uid import BasicTextSRStorage

    ds = _dataset(BasicTextSRStorage, study_uid=study_uid, series_uid=None, patient_id=patient_id)
    ds.Modality = "SR"
    ds.StudyDate = "20200314"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = (
        "18748-4",
        "LN",
        "Diagnostic imaging report",
    )
    ds.ConceptNameCodeSequence = [concept]
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ContentSequence = []
    return _file_bytes(ds)


def _dataset(sop_class, *, study_uid: str | None, series_uid: str | None, patient_id: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("generated.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyID = "1"
    ds.StudyTime = "120000"
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "tests"
    return ds


def _file_bytes(ds: FileDataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
