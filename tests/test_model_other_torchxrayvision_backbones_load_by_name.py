"""Any torchxrayvision classifier by name (issue 16): the other DenseNets and resnet50-res512-all go
through the same contract as densenet121-res224-all, each checked against its own weights file, the
ResNet at its own 512x512 input with 2048 pooled features. Random networks are written under the
official file names, and loaded through torchxrayvision's real loading path."""

import shutil

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from scoring.model.backbone import WEIGHTS, WeightsMissing, load_backbone, weights_identity, weights_url
from scoring.model.features import extract
from scoring.model.heads import select_features
from scoring.model.preprocess import preprocess_bytes
from scoring.models import BackboneOutput, ModelJob, ModelVersion, Prediction
from scoring.services.backbone_cache import INPUTS_FOLDER
from tests.conftest import rated_chest_study
from tests.model_weights import OFFICIAL_FILE, chest_png, write_random_resnet_weights, write_random_weights

RESNET = "resnet50-res512-all"
CHEX = "densenet121-res224-chex"


@pytest.fixture(scope="module")
def resnet_dir(tmp_path_factory):
    return write_random_resnet_weights(tmp_path_factory.mktemp("xrv-resnet"))


@pytest.fixture(scope="module")
def chex_dir(tmp_path_factory):
    return write_random_weights(tmp_path_factory.mktemp("xrv-chex"), weights=CHEX)


def test_the_weights_table_matches_torchxrayvision():
    import torchxrayvision as xrv

    named = {name for name in xrv.models.model_urls if name.startswith(("densenet121-", "resnet"))}
    assert set(WEIGHTS) == named
    for name, spec in WEIGHTS.items():
        published = xrv.models.model_urls[name]
        assert published["weights_url"] == weights_url(name)
        assert list(spec.outputs) == list(published["labels"])
        assert spec.input_size == published["input_resolution"]


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_missing_weights_name_their_own_file_and_folder(name, tmp_path):
    with pytest.raises(WeightsMissing) as missing:
        weights_identity(weights=name, cache_dir=tmp_path)
    message = str(missing.value)
    assert f"file {WEIGHTS[name].file} into the directory {tmp_path}" in message
    assert weights_url(name) in message


def test_an_unknown_weights_name_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=RESNET):
        weights_identity(weights="densenet121-res224-everything", cache_dir=tmp_path)


def test_a_densenet_variant_loads_by_name_and_keeps_its_output_names(chex_dir):
    folder = chex_dir
    with pytest.raises(WeightsMissing, match=OFFICIAL_FILE):  # its file is not the 'all' weights' file
        load_backbone(weights="densenet121-res224-all", cache_dir=folder)
    model = load_backbone(weights=CHEX, cache_dir=folder)
    logits, pooled = extract(model, [preprocess_bytes(chest_png(i)) for i in range(3)])
    assert logits.shape == (3, 18) and pooled.shape == (3, 1024)
    assert tuple(model.pathologies) == WEIGHTS[CHEX].outputs
    # Outputs these weights never learned (named "") are left out; the paper's four need Infiltration.
    assert select_features("all_outputs", logits, pooled, model.pathologies).shape == (3, 11)
    with pytest.raises(ValueError, match="Infiltration"):
        select_features("four_outputs", logits, pooled, model.pathologies)


def test_the_resnet_takes_512_inputs_and_gives_2048_pooled_features(resnet_dir):
    model = load_backbone(weights=RESNET, cache_dir=resnet_dir)
    arrays = [preprocess_bytes(chest_png(i), size=512) for i in range(2)]
    assert arrays[0].shape == (1, 512, 512)
    logits, pooled = extract(model, arrays, batch_size=2)
    assert logits.shape == (2, 18) and pooled.shape == (2, 2048)
    assert np.isfinite(logits).all() and logits.std() > 0
    with pytest.raises(ValueError, match="1x512x512"):
        extract(model, [preprocess_bytes(chest_png(0))])  # a 224 input is refused, not resized
    with pytest.raises(ValueError, match="pooled_features"):
        select_features("features_1024", logits, pooled, model.pathologies)
    assert select_features("pooled_features", logits, pooled, model.pathologies).shape == (2, 2048)


def test_model_inputs_are_kept_per_input_size(resnet_dir, tmp_path):
    shutil.copy(resnet_dir / WEIGHTS[RESNET].file, tmp_path)
    (tmp_path / OFFICIAL_FILE).write_bytes(b"another file")
    resnet = weights_identity(weights=RESNET, cache_dir=tmp_path)
    densenet = weights_identity(weights="densenet121-res224-all", cache_dir=tmp_path)
    assert (resnet.input_size, densenet.input_size) == (512, 224)
    assert resnet.input_key != densenet.input_key and resnet.key != densenet.key


def test_settings_select_the_resnet_for_retrain_and_prescore_and_the_version_records_it(
    personas, settings, tmp_path, resnet_dir, xrv_weights_dir, client_for
):
    for source in (resnet_dir / WEIGHTS[RESNET].file, xrv_weights_dir / OFFICIAL_FILE):
        shutil.copy(source, tmp_path)  # the published head (version 1) stays on the 'all' DenseNet
    settings.SCORING_XRV_CACHE_DIR = str(tmp_path)
    settings.SCORING_XRV_WEIGHTS = RESNET
    settings.SCORING_BATCH_SIZE = 4
    study = rated_chest_study(personas, slug="cxr", n=6)

    with pytest.raises(CommandError, match="pooled_features"):  # refused before a job is queued
        call_command("retrain", study.slug, "--features", "features_1024", "--sync")
    assert not ModelJob.objects.filter(study=study).exists()
    call_command("retrain", study.slug, "--features", "pooled_features", "--ridge", "10", "--sync")
    version = ModelVersion.objects.get(study=study, number=2)
    identity = weights_identity(weights=RESNET, cache_dir=tmp_path)
    assert version.backbone == RESNET and version.weights_sha256 == identity.weights_sha256
    assert version.provenance["backbone"]["name"] == RESNET
    assert version.provenance["backbone"]["input_size"] == 512
    assert len(version.head["coefficients"]["opacity"]) == 2048
    assert ModelVersion.objects.get(study=study, number=1).backbone == "densenet121-res224-all"

    call_command("prescore", study.slug, "--model", "2", "--sync")
    assert Prediction.objects.filter(model_version=version, backbone_key=identity.key).count() == 6
    stored = BackboneOutput.objects.filter(key=identity.key)
    assert stored.count() == 6 and {len(bytes(f)) for f in stored.values_list("features", flat=True)} == {2048 * 4}
    sha = study.cases.first().image.sha256
    with default_storage.open(f"{INPUTS_FOLDER}/{identity.input_key[:16]}/{sha[:2]}/{sha}.npy") as handle:
        assert np.load(handle).shape == (1, 512, 512)
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert f"<code>{RESNET}</code>" in page and identity.weights_sha256 in page and "512×512 input" in page


def test_a_densenet_variant_selected_in_settings_is_recorded_in_the_version(personas, settings, tmp_path, chex_dir):
    shutil.copy(chex_dir / WEIGHTS[CHEX].file, tmp_path)
    (tmp_path / OFFICIAL_FILE).symlink_to(tmp_path / WEIGHTS[CHEX].file)  # bytes for version 1's backbone
    settings.SCORING_XRV_CACHE_DIR = str(tmp_path)
    settings.SCORING_XRV_WEIGHTS = CHEX
    study = rated_chest_study(personas, slug="cxr", n=6)
    with pytest.raises(CommandError, match="Infiltration"):  # the paper's four: CheXpert has no Infiltration
        call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    call_command("retrain", study.slug, "--features", "all_outputs", "--ridge", "1", "--sync")
    version = ModelVersion.objects.get(study=study, number=2)
    assert version.backbone == CHEX and version.provenance["backbone"]["input_size"] == 224
    assert len(version.head["coefficients"]["opacity"]) == 11  # the 11 outputs CheXpert's labels name
    assert not ModelJob.objects.filter(study=study, status=ModelJob.Status.FAILED).exists()
