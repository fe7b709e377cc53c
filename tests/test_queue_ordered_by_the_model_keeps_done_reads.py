"""In a study whose raters see the model (`shown`, `prelabel`), the owner may order each rater's
queue by the model: the widest conformal interval first (uncertainty) or the predicted totals
nearest the middle of their scales first (expected disagreement). Reads already done keep their
keys, cases without a prediction come last in seeded random order, the queue numbers stay equal to
a count, and the order is made again when predictions are made or another version is activated."""

import pytest
from django.core.management import call_command

from annotation import reading_order
from annotation.ingest import Source
from annotation.models import Assignment, Study, StudyMembership
from annotation.services import images_import, membership_add, rating_submit, study_create, study_open, study_update
from reading.selectors import assignment_next_for_rater
from scoring.model.heads import paper_head
from scoring.models import ModelVersion, Prediction
from scoring.services import model_version_activate
from tests.conftest import COHEN_VALUES, image_sources
from tests.model_weights import chest_png

N = 8
PREDICTED = 6  # cases 0-5 have a prediction, 6-7 none
RANGES = {"geographic_extent": (0, 8), "opacity": (0, 6)}


def open_study(personas, *, mode: str, sources=None) -> Study:
    study = study_create(owner=personas["alice"], slug="ordered", title="o", rubric="cohen2020", raters_per_case=3)
    study_update(study=study, title="o", rubric="cohen2020", raters_per_case=3, model_assistance=mode)
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=sources or image_sources(N))
    study_open(study=study)
    return study


def set_order(study: Study, order: str, capture) -> None:
    with capture(execute=True):  # the reorder is sent to a worker once the change commits
        study_update(study=study, title="o", rubric="cohen2020", raters_per_case=3, queue_order=order)


def predict(study: Study, *, number: int = 1, reverse: bool = False) -> ModelVersion:
    version = ModelVersion.objects.create(
        study=study, number=number, backbone="densenet121-res224-all", feature_set="lung_opacity",
        head=paper_head().to_dict(), is_active=number == 1,
    )  # fmt: skip
    cases = list(study.cases.order_by("pk"))[:PREDICTED]
    rows = []
    for i, case in enumerate(cases):
        width = (PREDICTED - i if reverse else i + 1) * 0.5  # case i: interval width grows with i
        values = {"geographic_extent": 1.0 + i, "opacity": 1.0}
        intervals = {t: [values[t] - width / 2, values[t] + width / 2] for t in values}
        rows.append(Prediction(case=case, model_version=version, values=values, intervals=intervals))
    Prediction.objects.bulk_create(rows)
    return version


def queue(study: Study, user) -> list[Assignment]:
    return list(Assignment.objects.filter(study=study, rater=user).select_related("case").order_by("order_key"))


def assert_numbers_are_counts(study: Study, user) -> None:
    reads = queue(study, user)
    assert [a.position for a in reads] == list(range(1, len(reads) + 1))
    membership = StudyMembership.objects.get(study=study, user=user)
    assert (membership.queue_total, membership.queue_done) == (
        len(reads),
        sum(a.completed_at is not None for a in reads),
    )


def expected_pending(study: Study, user, score) -> list[int]:
    """Case ids of the rater's pending reads: by the score (highest first, ties by the seeded key),
    then the cases without a prediction in the seeded order."""
    seed = StudyMembership.objects.get(study=study, user=user).queue_seed
    pending = [a.case_id for a in queue(study, user) if a.completed_at is None]
    scores = {
        p.case_id: score(p)
        for p in Prediction.objects.filter(model_version__study=study, model_version__is_active=True)
    }
    key = lambda case_id: reading_order.order_key(seed=seed, case_id=case_id)  # noqa: E731
    ranked = sorted((c for c in pending if c in scores), key=lambda c: (-scores[c], key(c)))
    return ranked + sorted((c for c in pending if c not in scores), key=key)


def width(p: Prediction) -> float:
    return sum((p.intervals[t][1] - p.intervals[t][0]) / (hi - lo) for t, (lo, hi) in RANGES.items())


@pytest.mark.parametrize("mode", ["shown", "prelabel"])
def test_uncertainty_puts_the_widest_interval_first_and_done_reads_keep_their_keys(
    personas, mode, django_capture_on_commit_callbacks
):
    study = open_study(personas, mode=mode)
    predict(study)
    rater = personas["rater1"]
    predicted = set(Prediction.objects.values_list("case_id", flat=True))
    reads = queue(study, rater)  # done before the order is set: one predicted case, one not
    done = [next(a for a in reads if a.case_id in predicted), next(a for a in reads if a.case_id not in predicted)]
    for assignment in done:
        rating_submit(
            assignment=assignment, values=COHEN_VALUES,
            model_version_shown=ModelVersion.objects.get(study=study, number=1),
            prelabel_values=COHEN_VALUES if mode == "prelabel" else None,
        )  # fmt: skip
    kept = {a.pk: a.order_key for a in done}

    set_order(study, "uncertainty", django_capture_on_commit_callbacks)
    reads = queue(study, rater)
    assert {a.pk: a.order_key for a in reads if a.pk in kept} == kept
    pending = [a.case_id for a in reads if a.completed_at is None]
    assert pending == expected_pending(study, rater, width)
    unpredicted = [c for c in pending if not Prediction.objects.filter(case_id=c).exists()]
    assert unpredicted and pending[-len(unpredicted) :] == unpredicted  # no prediction: last
    # The reads done keep the first places: the next case is numbered after them.
    assert [a.position for a in reads if a.pk in kept] == [1, 2]
    first = next(a for a in reads if a.completed_at is None)
    assert assignment_next_for_rater(user=rater, study=study) == first.public_id
    for name in ("rater1", "rater2", "rater3"):
        assert_numbers_are_counts(study, personas[name])

    # Back to random: every pending read gets its seeded key again; the done ones still keep theirs.
    set_order(study, "random", django_capture_on_commit_callbacks)
    seed = StudyMembership.objects.get(study=study, user=rater).queue_seed
    for a in queue(study, rater):
        wanted = kept[a.pk] if a.pk in kept else reading_order.order_key(seed=seed, case_id=a.case_id)
        assert a.order_key == wanted
    assert_numbers_are_counts(study, rater)


def test_disagreement_puts_predictions_nearest_the_middle_of_the_scale_first(
    personas, django_capture_on_commit_callbacks
):
    study = open_study(personas, mode="shown")
    predict(study)
    set_order(study, "disagreement", django_capture_on_commit_callbacks)

    def middle(p: Prediction) -> float:
        return sum(1 - abs(2 * (p.values[t] - lo) / (hi - lo) - 1) for t, (lo, hi) in RANGES.items())

    for name in ("rater1", "rater2"):
        pending = [a.case_id for a in queue(study, personas[name])]
        assert pending == expected_pending(study, personas[name], middle)


def test_a_study_opened_with_a_model_order_starts_in_it(personas, django_capture_on_commit_callbacks):
    study = study_create(owner=personas["alice"], slug="draft", title="d", rubric="cohen2020", raters_per_case=3)
    design = {"title": "d", "rubric": "cohen2020", "raters_per_case": 3}
    study_update(study=study, **design, model_assistance="shown", queue_order="uncertainty")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role="rater")
    images_import(study=study, sources=image_sources(N))
    predict(study)  # pre-scored while a draft
    with django_capture_on_commit_callbacks(execute=True):
        study_open(study=study)
    rater = personas["rater1"]
    assert [a.case_id for a in queue(study, rater)] == expected_pending(study, rater, width)
    assert_numbers_are_counts(study, rater)


def test_activating_another_version_orders_the_queues_by_its_predictions(personas, django_capture_on_commit_callbacks):
    study = open_study(personas, mode="prelabel")
    predict(study)
    set_order(study, "uncertainty", django_capture_on_commit_callbacks)
    rater = personas["rater2"]
    before = [a.case_id for a in queue(study, rater)]
    second = predict(study, number=2, reverse=True)
    model_version_activate(version=second)
    after = [a.case_id for a in queue(study, rater)]
    assert after == expected_pending(study, rater, width) and after[:PREDICTED] == before[:PREDICTED][::-1]
    assert_numbers_are_counts(study, rater)


def test_a_prescore_orders_the_queues_by_its_new_predictions(
    personas, fake_backbone, settings, django_capture_on_commit_callbacks
):
    settings.SCORING_SALIENCY = "off"
    sources = [Source(name=f"c-{i}.png", where=f"c-{i}.png", data=chest_png(i)) for i in range(N)]
    study = open_study(personas, mode="shown", sources=sources)
    set_order(study, "disagreement", django_capture_on_commit_callbacks)
    rater = personas["rater3"]
    assert all(a.order_key >= 0 for a in queue(study, rater))  # nothing predicted yet: seeded order
    call_command("prescore", study.slug, "--sync")
    assert Prediction.objects.filter(model_version__study=study).count() == N
    pending = [a.case_id for a in queue(study, rater)]

    def middle(p: Prediction) -> float:
        return sum(1 - abs(2 * (min(max(p.values[t], lo), hi) - lo) / (hi - lo) - 1) for t, (lo, hi) in RANGES.items())

    assert pending == expected_pending(study, rater, middle)
    assert all(a.order_key < 0 for a in queue(study, rater))
    assert_numbers_are_counts(study, rater)
