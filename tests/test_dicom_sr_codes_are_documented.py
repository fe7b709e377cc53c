"""Every code a structured report can carry for a rubric is a valid DICOM code (value at most 16
characters, meaning at most 64) and is listed in docs/dicom.md, so that a reader of the reports in a
PACS can look it up."""

from pathlib import Path

import pytest

from annotation.rubrics import RUBRICS
from scoring.dicom_sr import PRIVATE_SCHEME, RATER_COUNT, SCORE_SOURCE, SOURCES, code_of, rubric_code

DOC = (Path(__file__).resolve().parent.parent / "docs" / "dicom.md").read_text()


@pytest.mark.parametrize("rubric", RUBRICS.values(), ids=list(RUBRICS))
def test_every_item_and_total_of_the_rubric_has_a_documented_private_code(rubric):
    codes = [code_of(rubric, key) for key in [*rubric.item_keys, *rubric.total_keys]] + [rubric_code(rubric)]
    values = [code.value for code in codes]
    assert len(set(values)) == len(values), "two concepts of one rubric share a code"
    for code in codes:
        assert code.scheme_designator == PRIVATE_SCHEME
        assert len(code.value) <= 16 and len(code.meaning) <= 64
        assert f"`{code.value}`" in DOC, f"{code.value} ({code.meaning}) is not listed in docs/dicom.md"


def test_the_score_sources_and_the_rater_count_are_documented():
    for code in (RATER_COUNT, SCORE_SOURCE, *SOURCES.values()):
        assert f"`{code.value}`" in DOC, code.value
