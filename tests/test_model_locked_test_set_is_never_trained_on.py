"""A locked test set is drawn once, by whole patients; no retrain fits or compares on its cases, and a
version's error on it is computed only when the promotion rule promotes it (issue 16)."""

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Image, Study
from scoring.models import LockedTestSet, ModelVersion
from scoring.services import model_version_activate, model_version_ensure_initial
from tests.conftest import rated_chest_study


@pytest.fixture
def study(personas, fake_backbone):
    return rated_chest_study(personas, slug="cxr", n=12, title="CXR")


def test_locked_cases_are_whole_patients_and_never_in_a_training_table(study, capsys):
    call_command("model_lock_test_set", study.slug, "--fraction", "0.25", "--seed", "3")
    locked = LockedTestSet.objects.get(study=study)
    patients = {case.patient_id for case in locked.cases.all()}
    assert locked.cases.count() == 2 * len(patients) >= 3  # two images per patient, all of each patient
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    version = ModelVersion.objects.get(study=study, number=2)
    trained_on = {row[0] for row in version.training_table}
    assert len(trained_on) == 12 - locked.cases.count()
    assert not trained_on & {case.public_id for case in locked.cases.all()}


def test_a_locked_set_is_drawn_once(study):
    call_command("model_lock_test_set", study.slug, "--fraction", "0.25")
    with pytest.raises(CommandError, match="cannot be drawn again"):
        call_command("model_lock_test_set", study.slug, "--fraction", "0.25", "--seed", "1")
    with pytest.raises(CommandError, match="at most 0.5"):
        call_command("model_lock_test_set", "cxr", "--fraction", "0.9")


def test_the_locked_error_is_reported_when_the_rule_promotes(study, client_for):
    call_command("model_lock_test_set", study.slug, "--fraction", "0.25")
    model_version_ensure_initial(study=study)
    ModelVersion.objects.filter(study=study).update(is_active=False)  # nothing to beat: the rule promotes
    Study.objects.filter(pk=study.pk).update(auto_promote=True)
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    version = ModelVersion.objects.get(study=study, number=2)
    assert version.is_active and version.promotion["promote"]
    locked = version.promotion["locked_test"]
    assert locked["n_cases"] == LockedTestSet.objects.get(study=study).cases.count()
    assert set(locked["candidate"]) == {"geographic_extent", "opacity"} and locked["active"] == {}
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert "Locked test set" in page and f"{locked['n_cases']} cases are locked as a test set" in page


def test_the_locked_error_stays_unseen_when_the_rule_does_not_promote(study, client_for):
    call_command("model_lock_test_set", study.slug, "--fraction", "0.25")
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")
    model_version_activate(version=ModelVersion.objects.get(study=study, number=2))
    call_command("retrain", study.slug, "--features", "four_outputs", "--sync")  # the same recipe: never better
    version = ModelVersion.objects.get(study=study, number=3)
    assert not version.promotion["promote"] and "locked_test" not in version.promotion
    page = client_for("alice").get(f"/studies/{study.slug}/model/").content.decode()
    assert "Locked test set" not in page


def test_a_locked_set_survives_a_backup_and_restore(study, tmp_path):
    call_command("model_lock_test_set", study.slug, "--fraction", "0.25", "--seed", "5")
    before = sorted(LockedTestSet.objects.get(study=study).cases.values_list("public_id", flat=True))
    path = tmp_path / "cxr.zip"
    call_command("export_study", study.slug, output=str(path))
    study.delete()
    for image in Image.objects.filter(cases__isnull=True):  # restored from the archive's own bytes
        default_storage.delete(image.original.name)
        default_storage.delete(image.display.name)
        image.delete()
    call_command("import_study", str(path))
    restored = LockedTestSet.objects.get(study__slug="cxr")
    assert sorted(restored.cases.values_list("public_id", flat=True)) == before
    assert (restored.fraction, restored.seed) == (0.25, 5)
