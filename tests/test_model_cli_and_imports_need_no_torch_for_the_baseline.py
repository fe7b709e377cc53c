import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parent.parent


def write_inputs(folder: Path) -> tuple[Path, Path]:
    scores = folder / "scores.csv"
    scores.write_text(
        "## COVID-19 Pneumonia Severity Scores,,\n## a second comment,,\n"
        "filename,geographic_mean,opacity_mean\n" + "".join(f"img{i}.png,{i % 9}.0,{i % 7}.0\n" for i in range(12))
    )
    metadata = folder / "metadata.csv"
    # img11 has no metadata row and img10 a blank patient id: each is a group of its own.
    metadata.write_text(
        "patientid,offset,filename,clinical_notes\n"
        + "".join(f'{i // 2},0,img{i}.png,"notes, with a\nline break"\n' for i in range(10))
        + ",0,img10.png,\n"
    )
    return scores, metadata


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("evaluate_model", *args, stdout=out)
    return json.loads(out.getvalue())


def test_evaluate_model_none_prints_json_per_target_without_images_or_weights(tmp_path):
    scores, metadata = write_inputs(tmp_path)
    args = ("--scores", str(scores), "--metadata", str(metadata), "--features", "none", "--splits", "10")
    result = run(*args, "--group-by-case")
    assert result["n_cases"] == 12 and result["n_patients"] == 5 and result["n_cases_without_patient_id"] == 2
    assert result["grouped_by"] == "case" and result["clamped"] is False
    assert result["feature_set"] == "none" and result["n_splits"] == 10
    for target in ("geographic_extent", "opacity"):
        assert set(result[target]) == {"pearson_r", "r2", "mae", "mse"}
        assert set(result[target]["mae"]) == {"mean", "sd"}
        assert result[target]["mae"]["mean"] > 0
        assert result[target]["pearson_r"]["mean"] is None


def test_evaluate_model_refuses_to_claim_patient_grouping_when_ids_are_missing(tmp_path):
    scores, metadata = write_inputs(tmp_path)
    with pytest.raises(CommandError, match="2 of 12 cases have no patient id.*5 patients known"):
        run("--scores", str(scores), "--metadata", str(metadata), "--features", "none", "--splits", "10")


def test_evaluate_model_needs_images_for_backbone_features(tmp_path):
    scores, metadata = write_inputs(tmp_path)
    with pytest.raises(CommandError, match="needs --images"):
        run("--scores", str(scores), "--metadata", str(metadata), "--features", "lung_opacity")


def test_evaluate_model_reports_a_bad_scores_file(tmp_path):
    scores, metadata = write_inputs(tmp_path)
    scores.write_text("filename,geographic_mean\nimg0.png,1.0\n")
    with pytest.raises(CommandError, match="opacity_mean"):
        run("--scores", str(scores), "--metadata", str(metadata), "--features", "none")


def test_model_package_imports_without_torch():
    code = (
        "import sys\n"
        "import scoring.model, scoring.model.backbone, scoring.model.covid_severity, scoring.model.evaluate\n"
        "import scoring.model.features, scoring.model.heads, scoring.model.preprocess, scoring.model.saliency\n"
        "assert not {'torch', 'torchxrayvision', 'torchvision'} & set(sys.modules), 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
