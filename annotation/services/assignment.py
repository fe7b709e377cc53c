"""Who reads which case, and in which order."""

import random

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q

from annotation import reading_order
from annotation.audit import Action, audit_record
from annotation.models import Assignment, Rating, Study
from annotation.permissions import Ability, memberships_that_may
from annotation.selectors import study_dropped_rater_ids
from annotation.services.queues import rater_queues_renumber, study_queues_order_request
from core.types import User


def assignment_order_key(*, seed: int, case_id: int) -> int:
    """The rater's key for a case's (first) read: reproducible from the recorded seed."""
    return reading_order.order_key(seed=seed, case_id=case_id)


@transaction.atomic
def study_assign_cases(*, study: Study) -> int:
    """Give every case with an image that is not excluded `raters_per_case` distinct raters,
    balancing the load; returns the number of assignments made.

    Idempotent: cases that already have enough raters are left alone. A read counts towards a
    case's raters while it is in the analysis (a removed rater's dropped reads do not: the case gets
    another rater). Raters with the fewest cases are picked first; ties are broken by a random draw
    seeded by the study and case. With fewer active raters than `raters_per_case` (a rater was
    removed), cases get as many as there are. In a model-assisted study the reads are aided; in a
    crossover study each rater reads each of their cases twice, unaided and aided
    (annotation/reading_order.py).
    """
    Study.objects.select_for_update().get(pk=study.pk)  # one assignment run per study at a time
    raters = list(study.memberships.filter(memberships_that_may(Ability.RATE)).select_related("user"))
    if not raters or study.status != Study.Status.OPEN:
        return 0
    load = dict(
        study.assignments.values_list("rater_id")
        .annotate(n=Count("case_id", distinct=True))
        .values_list("rater_id", "n")
    )
    seeds = {m.user_id: m.queue_seed for m in raters}
    assigned: dict[int, set[int]] = {}  # raters whose reads count towards the case's quota
    readers: dict[int, set[int]] = {}  # everyone with an assignment of the case, counted or not
    dropped = set(study_dropped_rater_ids(study=study).values_list("user_id", flat=True))
    for case_id, rater_id in study.assignments.values_list("case_id", "rater_id"):
        readers.setdefault(case_id, set()).add(rater_id)
        if rater_id not in dropped:
            assigned.setdefault(case_id, set()).add(rater_id)
    new, touched = [], set()
    cases = study.cases.filter(image__isnull=False, excluded_at__isnull=True).values_list("pk", flat=True)
    for case_id in cases.order_by("pk"):
        have = assigned.get(case_id, set())
        missing = study.raters_per_case - len(have)
        if missing <= 0:
            continue
        tie_break = random.Random(f"{study.pk}:{case_id}")
        # Never a rater who had the case before, even one whose reads were dropped.
        candidates = [m.user_id for m in raters if m.user_id not in readers.get(case_id, have)]
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
            crossover_space(study=study, rater_id=rater_id)
    repeats_sync(study=study, rater_ids=touched)
    rater_queues_renumber(study_id=study.pk, rater_ids=touched)
    if new and study.queue_order != Study.QueueOrder.RANDOM:
        study_queues_order_request(study=study)  # the new reads came with seeded keys
    return len(new)


def repeats_sync(*, study: Study, rater_ids) -> None:
    """Each rater's repeat reads (intra-rater reliability) as annotation/reading_order.py chooses
    them from the rater's cases now: the missing ones are made, with the aided value of the first
    read, and unread ones no longer chosen are withdrawn; a repeat read started or done stays.

    Made together with the first reads, so that the rater's queue total does not grow later; the
    reading selectors hold each back until its washout has passed."""
    rater_ids = sorted(set(rater_ids))
    if not study.repeat_fraction or not rater_ids:
        return
    seeds = dict(study.memberships.filter(user_id__in=rater_ids).values_list("user_id", "queue_seed"))
    reads = study.assignments.filter(rater_id__in=rater_ids, case__image__isnull=False, case__excluded_at__isnull=True)
    first: dict[int, dict[int, bool]] = {rater_id: {} for rater_id in rater_ids}  # rater -> case -> aided
    first_keys: dict[int, dict[int, int]] = {rater_id: {} for rater_id in rater_ids}  # rater -> case -> key
    repeats: dict[int, set[int]] = {rater_id: set() for rater_id in rater_ids}
    rows = reads.values_list("rater_id", "case_id", "aided", "repeat", "order_key")
    for rater_id, case_id, aided, repeat, key in rows:
        if repeat:
            repeats[rater_id].add(case_id)
        else:
            first[rater_id][case_id], first_keys[rater_id][case_id] = aided, key
    new, stale = [], Q(pk__in=[])
    for rater_id in rater_ids:
        cases, seed = first[rater_id], seeds[rater_id]
        chosen = reading_order.repeat_cases(seed=seed, case_ids=list(cases), fraction=study.repeat_fraction)
        missing = chosen - repeats[rater_id]
        keys = reading_order.repeat_keys(
            seed=seed, first_keys=first_keys[rater_id], chosen=missing, gap=study.repeat_washout_cases
        )
        new += [
            Assignment(
                study=study,
                case_id=case_id,
                rater_id=rater_id,
                aided=cases[case_id],
                repeat=True,
                order_key=keys[case_id],
            )
            for case_id in sorted(missing)
        ]
        if gone := repeats[rater_id] - chosen:
            stale |= Q(rater_id=rater_id, case_id__in=gone)
    Assignment.objects.bulk_create(new, batch_size=1000)
    unread_withdraw(study.assignments.filter(stale, repeat=True))


def crossover_space(*, study: Study, rater_id: int) -> None:
    reads = [
        reading_order.Read(pk, case_id, key, done is not None)
        for pk, case_id, key, done in study.assignments.filter(rater_id=rater_id).values_list(
            "pk", "case_id", "order_key", "completed_at"
        )
    ]
    keys = reading_order.second_session_keys(reads, gap=study.crossover_gap)
    rows = [Assignment(pk=pk, order_key=key) for pk, key in keys.items()]
    Assignment.objects.bulk_update(rows, ["order_key"], batch_size=1000)


def assignments_unread(scope):
    """Assignments nobody has started: not completed, no revision stored."""
    started = Rating.objects.filter(assignment=OuterRef("pk"))
    return scope.filter(completed_at__isnull=True).exclude(Exists(started))


def unread_withdraw(scope) -> int:
    """Delete the unread assignments in scope, under their row locks, re-checking each is still
    unread: a rater who saves at the same moment keeps their read."""
    ids = list(assignments_unread(scope).select_for_update().values_list("pk", flat=True))
    queues = Assignment.objects.filter(pk__in=ids)
    changed = list(queues.order_by().values_list("study_id", "rater_id").distinct())
    queues.delete()
    for study_id in {study_id for study_id, _ in changed}:
        rater_queues_renumber(study_id=study_id, rater_ids=[rater for study, rater in changed if study == study_id])
    return len(ids)


@transaction.atomic
def study_rebalance(*, study: Study, actor: User | None = None) -> int:
    """Move unread cases between the active raters until nobody has more than one case more left
    to read than anyone else; returns the number of cases moved (one audit event says who gave how
    many to whom). A case moves only to a rater who has no read of it, and only when all the
    giver's reads of it are unread; a giver's last cases in their order move first, so the cases
    they were about to read stay theirs. Moved reads get new public ids: nobody can tell that a
    case was someone else's."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    raters = list(study.memberships.filter(memberships_that_may(Ability.RATE)).select_related("user"))
    if len(raters) < 2 or study.status != Study.Status.OPEN:
        return 0
    ids = [m.user_id for m in raters]
    mine = study.assignments.filter(rater_id__in=ids)
    # Locked before planning: a rater cannot start a read that is about to move.
    unread = list(assignments_unread(mine).select_for_update().values_list("pk", "rater_id", "case_id", "order_key"))
    unread_pks = {row[0] for row in unread}
    cases_of: dict[int, set[int]] = {rid: set() for rid in ids}
    started: set[tuple[int, int]] = set()
    for pk, rater_id, case_id in mine.values_list("pk", "rater_id", "case_id"):
        cases_of[rater_id].add(case_id)
        if pk not in unread_pks:
            started.add((rater_id, case_id))
    first_key: dict[tuple[int, int], int] = {}
    rows_of: dict[tuple[int, int], list[int]] = {}
    for pk, rater_id, case_id, key in unread:
        first_key[(rater_id, case_id)] = min(key, first_key.get((rater_id, case_id), key))
        rows_of.setdefault((rater_id, case_id), []).append(pk)
    left = {rid: 0 for rid in ids}
    movable: dict[int, list[tuple[int, int]]] = {rid: [] for rid in ids}
    for (rater_id, case_id), key in first_key.items():
        left[rater_id] += 1
        if (rater_id, case_id) not in started:
            movable[rater_id].append((key, case_id))
    for cases in movable.values():
        cases.sort()  # the giver's last case at the end, taken first
    moves = _plan_moves(left, movable, cases_of)
    if not moves:
        return 0
    Assignment.objects.filter(pk__in=[pk for giver, _, case in moves for pk in rows_of[(giver, case)]]).delete()
    seeds = {m.user_id: m.queue_seed for m in raters}
    Assignment.objects.bulk_create(
        [
            Assignment(study=study, case_id=case_id, rater_id=taker, order_key=key, aided=aided)
            for _, taker, case_id in moves
            for aided, key in reading_order.reads_for_case(
                mode=study.model_assistance, seed=seeds[taker], case_id=case_id
            )
        ],
        batch_size=1000,
    )
    changed = {taker for _, taker, _ in moves} | {giver for giver, _, _ in moves}
    if study.model_assistance == Study.ModelAssistance.CROSSOVER:
        for rater_id in changed:
            crossover_space(study=study, rater_id=rater_id)
    repeats_sync(study=study, rater_ids=changed)
    rater_queues_renumber(study_id=study.pk, rater_ids=changed)
    if study.queue_order != Study.QueueOrder.RANDOM:
        study_queues_order_request(study=study)  # the moved reads came with seeded keys
    names = {m.user_id: m.user.get_username() for m in raters}
    counts: dict[str, int] = {}
    for giver, taker, _ in moves:
        pair = f"{names[giver]} -> {names[taker]}"
        counts[pair] = counts.get(pair, 0) + 1
    audit_record(
        study=study,
        actor=actor,
        action=Action.ASSIGNMENTS_MOVE,
        target=study.slug,
        details={"cases_moved": len(moves), "moves": counts},
    )
    return len(moves)


def _plan_moves(
    left: dict[int, int], movable: dict[int, list[tuple[int, int]]], cases_of: dict[int, set[int]]
) -> list[tuple[int, int, int]]:
    """(giver, taker, case) moves that even out the reads left: from the rater with most left to
    the one with least who can take one of the giver's cases (has no read of it)."""
    moves = []
    while True:
        move = _next_move(left, movable, cases_of)
        if move is None:
            return moves
        giver, taker, index = move
        _, case = movable[giver].pop(index)
        cases_of[giver].discard(case)
        cases_of[taker].add(case)
        left[giver] -= 1
        left[taker] += 1
        moves.append((giver, taker, case))


def _next_move(left, movable, cases_of) -> tuple[int, int, int] | None:
    takers = sorted(left, key=lambda rid: left[rid])
    for giver in sorted(left, key=lambda rid: -left[rid]):
        for taker in takers:
            if left[giver] - left[taker] <= 1:
                break
            cases = movable[giver]
            for index in range(len(cases) - 1, -1, -1):
                if cases[index][1] not in cases_of[taker]:
                    return giver, taker, index
    return None
