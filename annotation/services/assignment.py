"""Who reads which case, and in which order."""

import random

from django.db import transaction
from django.db.models import Count

from annotation import reading_order
from annotation.models import Assignment, Study
from annotation.permissions import Ability, memberships_that_may


def assignment_order_key(*, seed: int, case_id: int) -> int:
    """The rater's key for a case's (first) read: reproducible from the recorded seed."""
    return reading_order.order_key(seed=seed, case_id=case_id)


@transaction.atomic
def study_assign_cases(*, study: Study) -> int:
    """Give every case with an image exactly `raters_per_case` distinct raters, balancing the load.

    Idempotent: cases that already have enough raters are left alone. Raters with the fewest
    cases are picked first; ties are broken by a random draw seeded by the study and case. In a
    model-assisted study the reads are aided; in a crossover study each rater reads each of their
    cases twice, unaided and aided (annotation/reading_order.py).
    """
    Study.objects.select_for_update().get(pk=study.pk)  # one assignment run per study at a time
    raters = list(study.memberships.filter(memberships_that_may(Ability.RATE)).select_related("user"))
    if len(raters) < study.raters_per_case or study.status != Study.Status.OPEN:
        return 0
    load = dict(
        study.assignments.values_list("rater_id")
        .annotate(n=Count("case_id", distinct=True))
        .values_list("rater_id", "n")
    )
    seeds = {m.user_id: m.queue_seed for m in raters}
    assigned: dict[int, set[int]] = {}
    for case_id, rater_id in study.assignments.values_list("case_id", "rater_id"):
        assigned.setdefault(case_id, set()).add(rater_id)
    new, touched = [], set()
    for case_id in study.cases.filter(image__isnull=False).values_list("pk", flat=True).order_by("pk"):
        have = assigned.get(case_id, set())
        missing = study.raters_per_case - len(have)
        if missing <= 0:
            continue
        tie_break = random.Random(f"{study.pk}:{case_id}")
        candidates = [m.user_id for m in raters if m.user_id not in have]
        tie_break.shuffle(candidates)
        candidates.sort(key=lambda rater_id: load.get(rater_id, 0))
        for rater_id in candidates[:missing]:
            load[rater_id] = load.get(rater_id, 0) + 1
            touched.add(rater_id)
            reads = reading_order.reads_for_case(mode=study.model_assistance, seed=seeds[rater_id], case_id=case_id)
            for aided, key in reads:
                new.append(Assignment(study=study, case_id=case_id, rater_id=rater_id, order_key=key, aided=aided))
    Assignment.objects.bulk_create(new, batch_size=1000)
    if study.model_assistance == Study.ModelAssistance.CROSSOVER:
        for rater_id in touched:
            _crossover_space(study=study, rater_id=rater_id)
    return len(new)


def _crossover_space(*, study: Study, rater_id: int) -> None:
    reads = [
        reading_order.Read(pk, case_id, key, done is not None)
        for pk, case_id, key, done in study.assignments.filter(rater_id=rater_id).values_list(
            "pk", "case_id", "order_key", "completed_at"
        )
    ]
    keys = reading_order.second_session_keys(reads, gap=study.crossover_gap)
    rows = [Assignment(pk=pk, order_key=key) for pk, key in keys.items()]
    Assignment.objects.bulk_update(rows, ["order_key"], batch_size=1000)
