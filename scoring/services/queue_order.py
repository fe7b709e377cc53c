"""Each rater's queue in the model's order, for studies whose raters see the model (`shown`,
`prelabel`): the cases the active model is least sure of, or expects raters to disagree on most,
first. Blinded studies (none, crossover) keep the seeded random order: see
annotation/services/queues.py `rater_queues_prioritise`, which refuses to reorder them."""

from annotation import reading_order
from annotation.models import Study
from annotation.rubrics import rubric_get
from annotation.services.queues import rater_queues_prioritise
from scoring.models import Prediction


def study_queues_order(*, study: Study) -> int:
    """Rewrite the pending order keys of every rater of the study from its queue order and the active
    model version's predictions (cases without one last, in seeded random order). Idempotent;
    returns the reads whose key changed."""
    if study.status == Study.Status.DRAFT or not study.model_in_view:
        return 0
    return rater_queues_prioritise(study=study, priority=case_priorities(study=study))


def case_priorities(*, study: Study) -> dict[int, float]:
    """Case id -> how much it matters to read first under the study's queue order; empty for the
    random order. A case is left out (read last) without a prediction of the active version, or,
    by uncertainty, without an interval for every total."""
    if study.queue_order == Study.QueueOrder.RANDOM:
        return {}
    ranges = {total.key: (total.minimum, total.maximum) for total in rubric_get(study.rubric).totals}
    rows = Prediction.objects.filter(model_version__study=study, model_version__is_active=True, case__study=study)
    priorities = {}
    for case_id, values, intervals in rows.values_list("case_id", "values", "intervals"):
        if study.queue_order == Study.QueueOrder.UNCERTAINTY:
            priority = reading_order.uncertainty(intervals=intervals or {}, ranges=ranges)
        else:
            priority = reading_order.expected_disagreement(values=values or {}, ranges=ranges)
        if priority is not None:
            priorities[case_id] = priority
    return priorities
