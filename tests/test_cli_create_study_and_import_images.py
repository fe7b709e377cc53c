"""The create_study and import_images management commands, as an owner uses them from a shell."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Assignment, Case, Image, Study, StudyMembership
from annotation.services import study_lock
from tests.conftest import DEMO_DIR, PASSWORD, png_bytes, zip_bytes

User = get_user_model()
Role = StudyMembership.Role


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def demo_metadata() -> dict[str, dict[str, str]]:
    with open(DEMO_DIR / "metadata.csv", newline="", encoding="utf-8") as handle:
        return {row["filename"]: row for row in csv.DictReader(handle)}


# --- create_study --------------------------------------------------------------------------------


def test_create_study_creates_study_with_owner_and_raters(personas):
    output = run(
        "create_study",
        "chest-2024",
        "--rubric",
        "ralo",
        "--title",
        "Chest 2024",
        "--raters",
        "rater1,rater2,rater3",
        "--raters-per-case",
        "2",
        "--owner",
        "alice",
    )

    study = Study.objects.get(slug="chest-2024")
    assert (study.title, study.rubric, study.raters_per_case, study.status) == (
        "Chest 2024",
        "ralo",
        2,
        Study.Status.DRAFT,
    )
    roles = dict(study.memberships.values_list("user__username", "role"))
    assert roles == {"alice": Role.OWNER, "rater1": Role.RATER, "rater2": Role.RATER, "rater3": Role.RATER}
    assert "created study chest-2024 (ralo), owner alice, 3 rater(s)" in output
    assert "invited" not in output  # every rater already existed


def test_create_study_invites_missing_raters_who_set_their_own_password(personas):
    output = run(
        "create_study", "s2", "--rubric", "cohen2020", "--raters", "rater1, newreader ,other-reader", "--owner", "alice"
    )

    study = Study.objects.get(slug="s2")
    assert set(study.memberships.filter(role=Role.RATER).values_list("user__username", flat=True)) == {
        "rater1",
        "newreader",
        "other-reader",
    }
    for name in ("newreader", "other-reader"):
        user = User.objects.get(username=name)
        assert user.has_usable_password() is False and user.is_active is False
        assert f"invited {name}: they set their password at http://127.0.0.1:8000/accounts/invitation/" in output
    # An existing user keeps the password they have.
    assert User.objects.get(username="rater1").check_password(PASSWORD)


def test_create_study_refuses_an_owner_who_is_not_a_coordinator(personas):
    with pytest.raises(CommandError, match="no user 'newowner'"):
        run("create_study", "s3", "--rubric", "brixia", "--owner", "newowner")
    with pytest.raises(CommandError, match="oscar is not a coordinator: `manage.py coordinator oscar` first"):
        run("create_study", "s3", "--rubric", "brixia", "--owner", "oscar")
    assert not Study.objects.exists() and not User.objects.filter(username="newowner").exists()


def test_create_study_refuses_a_rater_name_no_account_may_have(personas):
    with pytest.raises(CommandError, match="'\\$\\$'"):
        run("create_study", "s3", "--rubric", "brixia", "--owner", "alice", "--raters", "rater1,$$")
    assert not Study.objects.exists()


def test_create_study_defaults_the_owner_to_the_first_superuser(db):
    User.objects.create_superuser(username="admin", password=PASSWORD)

    run("create_study", "s4", "--rubric", "rale")

    assert StudyMembership.objects.get(study__slug="s4", role=Role.OWNER).user.username == "admin"


def test_create_study_without_owner_or_superuser_is_refused(db):
    with pytest.raises(CommandError, match="--owner"):
        run("create_study", "s5", "--rubric", "cohen2020")
    assert not Study.objects.exists()


def test_create_study_rejects_an_unknown_rubric(personas):
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        run("create_study", "s6", "--rubric", "nope", "--owner", "alice")
    assert not Study.objects.exists()


def test_create_study_rejects_a_duplicate_slug(personas):
    run("create_study", "dup", "--rubric", "cohen2020", "--owner", "alice")

    with pytest.raises(CommandError, match="a study with slug 'dup' already exists"):
        run("create_study", "dup", "--rubric", "ralo", "--owner", "alice", "--raters", "brandnew")
    assert Study.objects.get(slug="dup").rubric == "cohen2020"
    assert not User.objects.filter(username="brandnew").exists()


@pytest.mark.parametrize("slug", ["Not A Slug", "UPPER", "with_underscore!", "trailing/"])
def test_create_study_rejects_a_non_slug(personas, slug):
    with pytest.raises(CommandError, match="is not a slug"):
        run("create_study", slug, "--rubric", "cohen2020", "--owner", "alice")
    assert not Study.objects.exists()


def test_create_study_rejects_zero_raters_per_case(personas):
    with pytest.raises(CommandError, match="--raters-per-case must be at least 1"):
        run("create_study", "s7", "--rubric", "cohen2020", "--owner", "alice", "--raters-per-case", "0")
    assert not Study.objects.exists()


# --- import_images -------------------------------------------------------------------------------


@pytest.fixture
def draft_study(make_study):
    return make_study(n_cases=0, open_it=False, slug="demo")


def test_import_images_imports_the_demo_folder_with_metadata(draft_study):
    output = run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(DEMO_DIR / "metadata.csv"))

    assert "imported 6, duplicates 0, rejected 0" in output
    metadata = demo_metadata()
    cases = list(draft_study.cases.select_related("image"))
    assert len(cases) == 6
    assert {case.original_filename for case in cases} == set(metadata)
    for case in cases:
        row = metadata[case.original_filename]
        assert case.image is not None
        assert case.patient_id == row["patientid"]
        assert case.metadata["finding"] == row["finding"]
        assert case.metadata["url"] == row["url"]
        assert case.metadata["filename"] == case.original_filename
    # A draft study assigns nothing yet.
    assert not Assignment.objects.exists()


def test_import_images_into_an_open_study_assigns_every_case(make_study):
    study = make_study(n_cases=0, open_it=True, slug="demo")

    run("import_images", "demo", str(DEMO_DIR / "images"))

    assert study.cases.count() == 6
    assert study.assignments.count() == 6 * study.raters_per_case
    # Without --metadata, the cases carry no patient id.
    assert set(study.cases.values_list("patient_id", flat=True)) == {""}


def test_import_images_again_reports_six_duplicates_and_stores_nothing_new(draft_study):
    run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(DEMO_DIR / "metadata.csv"))
    case_ids = set(Case.objects.values_list("pk", flat=True))
    images = Image.objects.count()

    output = run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(DEMO_DIR / "metadata.csv"))

    assert "imported 0, duplicates 6, rejected 0" in output
    assert output.count("duplicate ") == 6
    assert set(Case.objects.values_list("pk", flat=True)) == case_ids
    assert Image.objects.count() == images


def test_import_images_reads_a_zip_archive_and_its_metadata(draft_study, tmp_path):
    archive = tmp_path / "batch.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "scans/first.png": png_bytes(1),
                "second.png": png_bytes(2),
                "metadata.csv": b"filename,patientid,finding\nfirst.png,P-1,COVID-19\n",
                "__MACOSX/scans/._first.png": b"resource fork",
            }
        )
    )

    output = run("import_images", "demo", str(archive))

    assert "imported 2, duplicates 0, rejected 0" in output
    cases = {case.original_filename: case for case in draft_study.cases.all()}
    assert set(cases) == {"first.png", "second.png"}
    assert cases["first.png"].patient_id == "P-1"
    assert cases["first.png"].metadata["finding"] == "COVID-19"
    assert cases["second.png"].patient_id == ""


def test_import_images_reports_a_bad_file_with_its_reason_and_imports_the_rest(draft_study, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good-1.png").write_bytes(png_bytes(11))
    (folder / "good-2.png").write_bytes(png_bytes(12))
    (folder / "broken.png").write_bytes(b"this is not an image at all")
    (folder / "empty.png").write_bytes(b"")

    output = run("import_images", "demo", str(folder), str(tmp_path / "missing.png"))

    assert "imported 2, duplicates 0, rejected 3" in output
    lines = output.splitlines()
    assert any(
        "broken.png" in line and "rejected" in line and "not a PNG, JPEG or DICOM file" in line for line in lines
    )
    assert any("empty.png" in line and "empty file" in line for line in lines)
    assert any("missing.png" in line and "no such file or folder" in line for line in lines)
    assert set(draft_study.cases.values_list("original_filename", flat=True)) == {"good-1.png", "good-2.png"}


def test_import_images_into_an_unknown_study_is_a_command_error(db):
    with pytest.raises(CommandError, match="no study with slug 'nowhere'"):
        run("import_images", "nowhere", str(DEMO_DIR / "images"))
    assert not Case.objects.exists()


def test_import_images_refuses_unusable_metadata_and_imports_nothing(draft_study, tmp_path):
    bad = tmp_path / "metadata.csv"
    bad.write_bytes(b"name,patientid\nx.png,1\n")

    with pytest.raises(CommandError, match="needs a filename column"):
        run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(bad))
    with pytest.raises(CommandError, match="nothere.csv"):
        run("import_images", "demo", str(DEMO_DIR / "images"), "--metadata", str(tmp_path / "nothere.csv"))
    assert not Case.objects.exists()


def test_import_images_into_a_locked_study_is_a_command_error(draft_study):
    study_lock(study=draft_study)

    with pytest.raises(CommandError, match="locked"):
        run("import_images", "demo", str(DEMO_DIR / "images"))
    assert not Case.objects.exists()
