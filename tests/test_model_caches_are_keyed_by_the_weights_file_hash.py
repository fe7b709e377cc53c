"""Cached backbone outputs and predictions belong to the weights file's bytes, not its name: a file
replaced under the same name means every cached output is recomputed (issue 16)."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scoring.model.backbone import WEIGHTS_FILES, weights_url
from scoring.model.features import DEFAULT_PATHOLOGIES
from scoring.model.provenance import file_sha256
from scoring.models import BackboneOutput, ModelVersion, Prediction
from tests.conftest import rated_chest_study
from tests.model_weights import OFFICIAL_FILE, write_random_weights

N = 4


def _predictions(study) -> dict[str, dict]:
    return {
        p.case.original_filename: p.values for p in Prediction.objects.filter(case__study=study).select_related("case")
    }


def test_swapping_the_weights_file_recomputes_every_cached_output_and_changes_predictions(personas, settings, tmp_path):
    folder = write_random_weights(tmp_path / "xrv", seed=0)
    settings.SCORING_XRV_CACHE_DIR = str(folder)
    settings.SCORING_BATCH_SIZE = 4
    first = rated_chest_study(personas, slug="first", n=N)
    call_command("prescore", first.slug, "--sync")
    old_key = set(BackboneOutput.objects.values_list("key", flat=True))
    assert BackboneOutput.objects.count() == N and len(old_key) == 1
    before = _predictions(first)

    write_random_weights(folder, seed=1)  # another network under the same file name
    second = rated_chest_study(personas, slug="second", n=N)  # the same images
    call_command("prescore", second.slug, "--sync")
    new = BackboneOutput.objects.exclude(key__in=old_key)
    assert new.count() == N  # every image recomputed, none reused from the old file
    assert set(new.values_list("weights_sha256", flat=True)) == {file_sha256(folder / OFFICIAL_FILE)}
    after = _predictions(second)
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)

    # The first study's predictions were made with the old file: pre-scoring again replaces them.
    call_command("prescore", first.slug, "--sync")
    assert _predictions(first) == after
    assert set(Prediction.objects.values_list("backbone_key", flat=True)) == set(new.values_list("key", flat=True))


def test_a_head_fitted_on_other_weights_is_refused_not_applied(personas, fake_backbone, settings, tmp_path):
    weights = tmp_path / OFFICIAL_FILE  # a private copy of the stand-in's file, to replace
    weights.write_bytes((Path(settings.SCORING_XRV_CACHE_DIR) / OFFICIAL_FILE).read_bytes())
    settings.SCORING_XRV_CACHE_DIR = str(tmp_path)
    study = rated_chest_study(personas, slug="cxr", n=8)
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    v2 = ModelVersion.objects.get(study=study, number=2)
    assert v2.weights_sha256 == file_sha256(weights) == v2.provenance["backbone"]["weights_sha256"]
    weights.write_bytes(b"other weights")
    with pytest.raises(CommandError, match="retrain on the new weights"):
        call_command("prescore", study.slug, "--model", "2", "--sync")
    assert not Prediction.objects.filter(model_version=v2).exists()


def test_model_cache_purge_deletes_outputs_and_inputs_of_one_study(personas, fake_backbone, capsys):
    one = rated_chest_study(personas, slug="one", n=2)
    two = rated_chest_study(personas, slug="two", n=2, first_seed=10)
    call_command("prescore", one.slug, "--sync")
    call_command("prescore", two.slug, "--sync")
    capsys.readouterr()
    call_command("model_cache")
    assert "4 output(s) (current)" in capsys.readouterr().out
    call_command("model_cache", "--purge", "--study", "one")
    assert "deleted 2 backbone output(s) and 2 model input(s)" in capsys.readouterr().out
    assert set(BackboneOutput.objects.values_list("image__cases__study__slug", flat=True)) == {"two"}


def test_weights_files_and_output_names_match_torchxrayvision():
    import torchxrayvision as xrv

    for name in WEIGHTS_FILES:
        assert xrv.models.model_urls[name]["weights_url"] == weights_url(name)
    assert list(DEFAULT_PATHOLOGIES) == list(xrv.datasets.default_pathologies)


def test_a_replaced_file_is_hashed_again(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"a" * 100)
    first = file_sha256(path)
    assert file_sha256(path) == first
    stat = path.stat()
    path.write_bytes(b"b" * 100)  # same size, new content, written later
    # (the filesystem's clock may tick coarser than two writes in a test: say "later" explicitly)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert file_sha256(path) != first


def test_each_densenet_weights_name_is_checked_against_its_own_file(tmp_path):
    from scoring.model.backbone import WeightsMissing, weights_identity

    (tmp_path / OFFICIAL_FILE).write_bytes(b"the 'all' weights")
    assert weights_identity(weights="densenet121-res224-all", cache_dir=tmp_path).weights_sha256
    with pytest.raises(WeightsMissing) as missing:
        weights_identity(weights="densenet121-res224-chex", cache_dir=tmp_path)
    assert WEIGHTS_FILES["densenet121-res224-chex"] in str(missing.value) and str(tmp_path) in str(missing.value)
