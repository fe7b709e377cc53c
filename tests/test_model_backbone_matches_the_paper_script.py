"""A random-weight DenseNet, written under the official file name, loaded through the real path.

Its BatchNorm statistics are calibrated on a few synthetic images so that its logits are of
order 1: with default statistics they are in the hundreds and every prediction clamps to a
range end, which would make the comparisons below prove nothing.
"""

import io
import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
import skimage.io
import torch
import torchvision
import torchxrayvision as xrv
from django.core.management import call_command
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from annotation.imaging import decode_image
from scoring.model.backbone import WeightsMissing, load_backbone, weights_path
from scoring.model.features import extract, pathologies
from scoring.model.heads import LinearHead, paper_head, select_features
from scoring.model.preprocess import preprocess, preprocess_bytes
from scoring.model.saliency import saliency
from tests.model_weights import OFFICIAL_FILE, chest_like, coloured

WEIGHTS = "densenet121-res224-all"
OFFICIAL_URL = f"https://github.com/mlmed/torchxrayvision/releases/download/v1/{OFFICIAL_FILE}"


def encode(array: np.ndarray, mode: str, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).convert(mode).save(out, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def dicom_bytes(grey: np.ndarray) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows, ds.Columns = grey.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = grey.tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.fixture(scope="module")
def weights_dir(xrv_weights_dir) -> Path:
    return xrv_weights_dir


@pytest.fixture(scope="module")
def backbone(weights_dir):
    return load_backbone(weights=WEIGHTS, cache_dir=weights_dir)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    files = {
        "grey.png": encode(chest_like(1), "L", "PNG"),
        "grey.jpg": encode(chest_like(2), "L", "JPEG"),
        "rgb.jpg": encode(coloured(chest_like(3)), "RGB", "JPEG"),
        "rgba.png": encode(coloured(chest_like(4)), "RGBA", "PNG"),
        "grey.dcm": dicom_bytes(chest_like(5)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


def paper_script_prescores(model, path: Path) -> tuple[float, float, float]:
    """(logit, geographic, opacity) computed the way predict_severity.py does it."""
    if path.suffix == ".dcm":
        img = pydicom.dcmread(path).pixel_array
    else:
        img = skimage.io.imread(path)
    img = xrv.datasets.normalize(img, 255)
    if len(img.shape) > 2:
        img = img[:, :, 0]
    img = img[None, :, :]
    transform = torchvision.transforms.Compose([xrv.datasets.XRayCenterCrop(), xrv.datasets.XRayResizer(224)])
    img = transform(img)
    with torch.no_grad():
        preds = model(torch.from_numpy(img).unsqueeze(0))
    pred = preds[0, xrv.datasets.default_pathologies.index("Lung Opacity")]
    geographic = torch.clamp(pred * 0.8705248236656189 + 3.4137437, 0, 8)
    opacity = torch.clamp(pred * 0.5484423041343689 + 2.5535977, 0, 6)
    return float(pred), float(geographic), float(opacity)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(xrv.utils, "download", refuse)
    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_weights_path_uses_the_official_file_name_and_torchxrayvision_cache_dir(tmp_path):
    assert weights_path(WEIGHTS, tmp_path) == tmp_path / OFFICIAL_FILE
    default = Path(os.path.expanduser("~/.torchxrayvision/models_data")) / OFFICIAL_FILE
    assert weights_path(WEIGHTS, None) == default


def test_missing_weights_raise_naming_file_and_dir_without_downloading(tmp_path, no_network):
    cache_dir = tmp_path / "empty"
    with pytest.raises(WeightsMissing) as excinfo:
        load_backbone(weights=WEIGHTS, cache_dir=cache_dir)
    message = str(excinfo.value)
    assert OFFICIAL_FILE in message and str(cache_dir) in message and OFFICIAL_URL in message
    assert not cache_dir.exists()  # torchxrayvision's downloader would have created it


def test_unknown_weights_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown torchxrayvision weights"):
        load_backbone(weights="resnet101-res512-all", cache_dir=tmp_path)


def test_backbone_loads_random_weights_through_the_real_path_with_raw_logits(backbone, weights_dir, no_network):
    assert backbone.weights_filename_local == str(weights_dir / OFFICIAL_FILE)
    assert backbone.op_threshs is None and not backbone.training
    assert pathologies(backbone).index("Lung Opacity") == 16
    assert xrv.datasets.default_pathologies.index("Lung Opacity") == 16


def test_calibrated_logits_are_of_order_one_and_predictions_not_clamped(backbone, uploads):
    logits, pooled = extract(backbone, [preprocess_bytes(p.read_bytes()) for p in uploads.values()])
    assert logits.shape == (5, 18) and pooled.shape == (5, 1024)
    assert 0.05 < logits.std() < 20
    predicted = paper_head().predict(select_features("lung_opacity", logits, pooled, pathologies(backbone)))
    assert ((predicted["geographic_extent"] > 0) & (predicted["geographic_extent"] < 8)).all()
    assert ((predicted["opacity"] > 0) & (predicted["opacity"] < 6)).all()
    assert np.ptp(predicted["geographic_extent"]) > 0.05  # the images really differ


def test_prescores_equal_the_paper_script_for_png_jpeg_and_dicom(backbone, weights_dir, uploads):
    # The paper's own loading: DenseNet(weights="all") with op_threshs None, one image at a time.
    paper_model = xrv.models.DenseNet(weights="all", cache_dir=str(weights_dir))
    paper_model.op_threshs = None
    arrays = [preprocess_bytes(path.read_bytes()) for path in uploads.values()]
    logits, pooled = extract(backbone, arrays, batch_size=16)
    X = select_features("lung_opacity", logits, pooled, pathologies(backbone))
    predicted = paper_head().predict(X)
    for i, (name, path) in enumerate(uploads.items()):
        logit, geographic, opacity = paper_script_prescores(paper_model, path)
        assert X[i, 0] == pytest.approx(logit, abs=1e-4), name
        assert predicted["geographic_extent"][i] == pytest.approx(geographic, abs=1e-4), name
        assert predicted["opacity"][i] == pytest.approx(opacity, abs=1e-4), name


def test_colour_files_use_the_first_channel_as_the_paper_not_luminance(uploads):
    data = uploads["rgb.jpg"].read_bytes()
    luminance = preprocess(decode_image(data))
    paper = preprocess_bytes(data)
    assert np.abs(paper - luminance).max() > 10  # the red arrow is bright in red, darker in luma
    grey = uploads["grey.png"].read_bytes()
    np.testing.assert_array_equal(preprocess_bytes(grey), preprocess(decode_image(grey)))


def test_extract_matches_the_model_forward_and_does_not_depend_on_batching(backbone, uploads):
    arrays = [preprocess_bytes(p.read_bytes()) for p in uploads.values()]
    batched, pooled = extract(backbone, arrays, batch_size=16)
    single, _ = extract(backbone, arrays, batch_size=1)
    np.testing.assert_allclose(batched, single, atol=1e-4)
    with torch.no_grad():
        forward = backbone(torch.from_numpy(np.stack(arrays))).numpy()
    np.testing.assert_allclose(batched, forward, atol=1e-4)
    np.testing.assert_allclose(
        pooled, backbone.features2(torch.from_numpy(np.stack(arrays))).detach().numpy(), atol=1e-5
    )


def test_preprocess_returns_the_paper_input_shape_and_range(uploads):
    array = preprocess_bytes(uploads["grey.dcm"].read_bytes())
    assert array.shape == (1, 224, 224) and array.dtype == np.float32
    assert -1024 <= array.min() < array.max() <= 1024


def test_saliency_is_a_224_map_in_zero_one_and_not_constant(backbone, uploads):
    array = preprocess_bytes(uploads["grey.png"].read_bytes())
    for head in (
        paper_head(),
        LinearHead("features_1024", {"opacity": [0.01] * 1024}, {"opacity": 1.0}, {"opacity": None}),
    ):
        heat = saliency(backbone, array, head=head, target=head.targets[-1])
        assert heat.shape == (224, 224)
        assert heat.min() == 0 and heat.max() == 1 and heat.std() > 0.01


def test_evaluate_model_cli_extracts_features_and_reports_missing_images(tmp_path, weights_dir, uploads):
    folder = tmp_path / "images"
    folder.mkdir()
    lines = ["## comment line", "filename,geographic_mean,opacity_mean"]
    meta = ["patientid,filename"]
    for i in range(10):
        name = f"img{i}.png"
        (folder / name).write_bytes(encode(chest_like(50 + i, shape=(120, 140)), "L", "PNG"))
        lines.append(f"{name},{i % 8}.0,{i % 6}.0")
        meta.append(f"{i // 2},{name}")
    lines.append("gone.png,1.0,1.0")
    (tmp_path / "scores.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "metadata.csv").write_text("\n".join(meta) + "\n")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "evaluate_model",
        "--scores",
        str(tmp_path / "scores.csv"),
        "--metadata",
        str(tmp_path / "metadata.csv"),
        "--images",
        str(folder),
        "--features",
        "four_outputs",
        "--splits",
        "5",
        "--cache-dir",
        str(weights_dir),
        stdout=out,
        stderr=err,
    )
    result = json.loads(out.getvalue())
    assert result["n_cases"] == 10 and result["n_patients"] == 5 and result["n_splits"] == 5
    assert result["grouped_by"] == "patient" and result["clamped"] is False
    assert len(result["backbone"]["weights_sha256"]) == 64 and result["backbone"]["libraries"]["torch"]
    assert result["geographic_extent"]["pearson_r"]["mean"] is not None
    assert "gone.png" in err.getvalue()
