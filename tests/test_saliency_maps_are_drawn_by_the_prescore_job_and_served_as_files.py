"""Saliency maps are drawn on the model queue by the pre-score job (a backward pass per case and
target) and stored; the web only serves the stored file, to the owner and to an aided read of the
active version. Unaided studies get none unless SCORING_SALIENCY=all."""

import pytest
from django.core.management import call_command

from annotation.ingest import Source
from annotation.models import Assignment
from annotation.services import images_import, membership_add, study_create, study_open, study_update
from scoring.models import Prediction, SaliencyMap
from tests.conftest import image_sources
from tests.model_weights import chest_png


def _study(personas, *, mode: str, slug: str):
    study = study_create(owner=personas["alice"], slug=slug, title=slug, rubric="cohen2020", raters_per_case=1)
    study_update(study=study, title=slug, rubric="cohen2020", raters_per_case=1, model_assistance=mode)
    membership_add(study=study, user=personas["rater1"], role="rater")
    sources = [Source(name="chest.png", where="chest.png", data=chest_png(5)), *image_sources(1)]
    images_import(study=study, sources=sources)
    study_open(study=study)
    return study


def test_a_shown_study_gets_a_map_per_case_and_target_served_to_the_aided_read(personas, fake_backbone, client_for):
    study = _study(personas, mode="shown", slug="shown")
    call_command("prescore", study.slug, "--sync")
    assert SaliencyMap.objects.filter(case__study=study).count() == 2 * 2  # cases x (geographic extent, opacity)
    assignment = Assignment.objects.filter(study=study, rater=personas["rater1"]).first()
    response = client_for("rater1").get(f"/read/{assignment.public_id}/saliency.png?target=opacity")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG") and "Content-Disposition" not in response
    assert client_for("rater1").get(f"/read/{assignment.public_id}/saliency.png?target=nope").status_code == 404
    case = assignment.case
    owner = client_for("alice").get(f"/studies/{study.slug}/cases/{case.public_id}/saliency.png?target=opacity")
    assert owner.status_code == 200 and owner.content == response.content


def test_a_second_prescore_draws_nothing_again(personas, fake_backbone):
    study = _study(personas, mode="shown", slug="again")
    call_command("prescore", study.slug, "--sync")
    first = set(SaliencyMap.objects.values_list("pk", flat=True))
    call_command("prescore", study.slug, "--sync")
    assert set(SaliencyMap.objects.values_list("pk", flat=True)) == first


def test_an_unaided_study_gets_no_map_by_default(personas, fake_backbone, settings):
    study = _study(personas, mode="none", slug="unaided")
    call_command("prescore", study.slug, "--sync")
    assert Prediction.objects.filter(case__study=study).count() == 2
    assert not SaliencyMap.objects.exists()
    settings.SCORING_SALIENCY = "all"
    call_command("prescore", study.slug, "--sync")
    assert SaliencyMap.objects.filter(case__study=study).count() == 4


@pytest.mark.parametrize("mode", ["shown", "crossover"])
def test_maps_of_a_version_that_is_not_active_are_not_served(personas, fake_backbone, client_for, mode):
    study = _study(personas, mode=mode, slug=mode)
    call_command("prescore", study.slug, "--sync")
    study.model_versions.update(is_active=False)
    for assignment in Assignment.objects.filter(study=study, rater=personas["rater1"], aided=True):
        assert client_for("rater1").get(f"/read/{assignment.public_id}/saliency.png?target=opacity").status_code == 404
