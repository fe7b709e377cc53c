"""Issue 8, backup and restore: export_study writes one archive; import_study restores it exactly."""

import json
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from annotation.models import Assignment, AuditEvent, Case, Image, Study
from annotation.services import (
    adjudication_record,
    assignment_flag,
    case_exclude,
    membership_set_adjudicator,
    rater_remove,
    rating_submit,
    study_lock,
)
from backup.archive import study_manifest
from scoring.models import ModelVersion, Prediction
from scoring.services import model_version_activate
from tests.conftest import COHEN_VALUES


@pytest.fixture
def rich_study(make_study, personas):
    """Ratings with revisions, a flag, an adjudication, a model version with predictions,
    metadata, audit events, a locked status."""
    study = make_study(n_cases=3)
    alice = personas["alice"]
    cases = list(study.cases.all())
    Case.objects.filter(pk=cases[0].pk).update(metadata={"age": "61", "sex": "F"}, patient_id="P-001")
    a1, a2 = (
        Assignment.objects.filter(study=study, rater=personas[name]).order_by("order_key").first()
        for name in ("rater1", "rater2")
    )
    rating_submit(assignment=a1, values=COHEN_VALUES, reading_time_s=12.5)
    rating_submit(assignment=a1, values={**COHEN_VALUES, "extent_left": 4}, reading_time_s=3.0, client_key="retry-1")
    assignment_flag(assignment=a2, reason="other", note="rotated")
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True, actor=alice)
    adjudication_record(case=a1.case, adjudicator=personas["olivia"], values=COHEN_VALUES, note="agreed")
    version = ModelVersion.objects.create(
        study=study,
        number=1,
        backbone="densenet121-res224-all",
        feature_set="lung_opacity",
        head={"weights": [0.5]},
        metrics={"mae": 1.25},
        training_cases=3,
    )
    Prediction.objects.bulk_create([Prediction(case=c, model_version=version, values={"opacity": 2.5}) for c in cases])
    model_version_activate(version=version, actor=alice)
    # Repairs travel too: an excluded case, a removed rater (reads kept), blind adjudication.
    case_exclude(case=cases[2], reason="lateral view", actor=alice)
    rater_remove(study=study, user=personas["rater3"], keep_ratings=True, actor=alice)
    Study.objects.filter(pk=study.pk).update(adjudication_blind=True)
    study_lock(study=study, actor=alice)
    study.refresh_from_db()
    return study


def canonical(manifest: dict) -> str:
    return json.dumps(manifest, sort_keys=True)


def delete_study_and_orphan_images(study: Study) -> None:
    study.delete()
    for image in Image.objects.filter(cases__isnull=True):
        default_storage.delete(image.original.name)
        default_storage.delete(image.display.name)
        image.delete()


def image_bytes() -> dict[str, tuple[bytes, bytes]]:
    out = {}
    for image in Image.objects.all():
        with default_storage.open(image.original.name, "rb") as o, default_storage.open(image.display.name, "rb") as d:
            out[image.sha256] = (o.read(), d.read())
    return out


def test_a_study_round_trips_through_an_archive(rich_study, personas, tmp_path):
    path = tmp_path / "s1.zip"
    call_command("export_study", rich_study.slug, output=str(path))
    before, files_before = canonical(study_manifest(study=rich_study)), image_bytes()
    assert len(files_before) == 3
    delete_study_and_orphan_images(rich_study)
    personas["rater3"].delete()  # a rater this site no longer has
    assert not Image.objects.exists()

    call_command("import_study", str(path))

    restored = Study.objects.get(slug="s1")
    assert canonical(study_manifest(study=restored)) == before
    assert image_bytes() == files_before
    rater3 = get_user_model().objects.get(username="rater3")
    assert not rater3.has_usable_password()
    current = Assignment.objects.get(study=restored, current_rating__isnull=False, rater__username="rater1")
    assert (current.current_rating.revision, current.current_rating.values["extent_left"]) == (2, 4)
    assert AuditEvent.objects.filter(study=restored, action="rating_revision").count() == 2


def test_the_manifest_carries_what_the_issue_lists(rich_study):
    manifest = study_manifest(study=rich_study)
    assert manifest["study"]["status"] == "locked"
    assert {m["username"] for m in manifest["memberships"]} == {"alice", "rater1", "rater2", "rater3", "olivia"}
    ratings = [r for a in manifest["assignments"] for r in a["ratings"]]
    assert [r["revision"] for r in ratings] == [1, 2] and ratings[1]["client_key"] == "retry-1"
    assert sum(1 for a in manifest["assignments"] if a["flag_reason"] == "other") == 1
    assert manifest["adjudications"][0]["adjudicator"] == "olivia"
    assert manifest["model_versions"][0]["is_active"] and len(manifest["predictions"]) == 3
    assert {"rating_revision", "flag", "adjudication", "model_promotion", "lock"} <= {
        e["action"] for e in manifest["audit_events"]
    }
    assert any(c["metadata"] == {"age": "61", "sex": "F"} and c["patient_id"] == "P-001" for c in manifest["cases"])


def test_import_refuses_a_slug_that_exists(rich_study, tmp_path):
    path = tmp_path / "s1.zip"
    call_command("export_study", rich_study.slug, output=str(path))
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_study", str(path))
    assert Study.objects.count() == 1


def rewrite(
    source, target, *, manifest=None, extra: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None
):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
            new.writestr(name, (replace or {}).get(name, data))
        for name, data in (extra or {}).items():
            new.writestr(name, data)


def break_last_assignment(manifest: dict) -> dict:
    manifest["assignments"][-1]["case"] = "no-such-case"
    return manifest


@pytest.mark.parametrize(
    "damage, message",
    [
        ({"extra": {"../evil.py": b"x"}}, "does not name"),
        ({"extra": {"images/notes.txt": b"x"}}, "does not name"),
        ({"manifest": lambda m: {**m, "format_version": 99}}, "format version"),
        ({"manifest": lambda m: {**m, "format": "other"}}, "not a study backup"),
        ({"manifest": break_last_assignment}, "malformed"),
    ],
)
def test_import_refuses_unsafe_or_malformed_archives_and_leaves_nothing(rich_study, tmp_path, damage, message):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    call_command("export_study", rich_study.slug, output=str(good))
    delete_study_and_orphan_images(rich_study)
    rewrite(good, bad, **damage)
    with pytest.raises(CommandError, match=message):
        call_command("import_study", str(bad))
    assert not Study.objects.exists() and not Image.objects.exists()
    # Files written before the failure (the malformed-manifest case) are removed again.
    assert not [p for p in Path(default_storage.location).rglob("*") if p.is_file() and p.suffix == ".png"]


def test_import_refuses_an_image_whose_bytes_do_not_match_its_hash(rich_study, tmp_path):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    call_command("export_study", rich_study.slug, output=str(good))
    delete_study_and_orphan_images(rich_study)
    with zipfile.ZipFile(good) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".display.png"))
    rewrite(good, bad, replace={name: b"not the image"})
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("import_study", str(bad))
    assert not Study.objects.exists()


def test_import_refuses_a_file_that_is_not_a_zip(db, tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"hello")
    with pytest.raises(CommandError, match="not a zip"):
        call_command("import_study", str(path))
