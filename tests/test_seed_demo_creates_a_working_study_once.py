from django.core.management import call_command

from annotation.models import Study


def test_seed_demo_creates_an_open_study_with_three_raters_and_six_images(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo")
    out = capsys.readouterr().out
    study = Study.objects.get(slug="demo")
    assert study.status == "open" and study.cases.count() == 6
    assert study.assignments.count() == 18
    assert study.cases.exclude(patient_id="").count() == 6
    for name in ("owner", "rater1", "rater2", "rater3"):
        assert name in out
    assert (tmp_path / "demo-logins.txt").exists()


def test_seed_demo_leaves_a_database_with_studies_alone(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo")
    call_command("seed_demo")
    assert Study.objects.count() == 1
    assert "no demo seeded" in capsys.readouterr().out
