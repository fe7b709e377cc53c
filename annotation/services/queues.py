"""Each rater's queue in numbers: the place of every read and how many there are and are done.

The reading page shows "case 50,001 of 100,000, 50,000 done" on every case. Counted there, that is a
scan of the queue per page, which grows with the study (bench/reading_next_case.py). Instead the
numbers are stored (Assignment.position, StudyMembership.queue_total and queue_done) and kept here:
renumbered in one statement per study whenever a queue changes shape (cases given, moved,
withdrawn, removed, an image arriving for an image-less case, an import, a restore), and the done
count moved by one when a read is first completed. Changes of shape are a coordinator's acts,
rare and already proportional to the study; a rater's save stays a constant amount of work.

Only reads of cases with an image are in a rater's queue (a past study imported without its images
is never shown to raters); such reads have no position.
"""

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from annotation import reading_order
from annotation.models import Assignment, Case, Study, StudyMembership
from core.dispatch import send_after_commit
from core.prepared import PreparedUpdate


def rater_queues_renumber(*, study_id: int, rater_ids: Iterable[int] | None = None) -> None:
    """Number the raters' queues (all the study's raters when None) from their order keys and
    count them again. Call it inside the transaction that changed the queues."""
    rater_ids = None if rater_ids is None else sorted(set(rater_ids))
    if rater_ids == []:
        return
    _positions_renumber(study_id=study_id, rater_ids=rater_ids)
    _counts_refresh(study_id=study_id, rater_ids=rater_ids)


@transaction.atomic
def rater_queues_prioritise(*, study: Study, priority: dict[int, float]) -> int:
    """Put each rater's pending reads in the order of `priority` (case id -> how much it matters to
    read first; annotation/reading_order.py `prioritised_keys`), cases without one last in seeded
    random order; an empty `priority` restores the seeded random order. Reads done keep their keys;
    repeat reads keep theirs (the reading selectors hold them back). Returns the reads whose key
    changed. A blinded study (none, crossover) is never reordered: its raters keep the seeded order."""
    if not study.model_in_view:
        return 0
    Study.objects.select_for_update().get(pk=study.pk)  # not while cases are being given out
    seeds = dict(study.memberships.values_list("user_id", "queue_seed"))
    reads: dict[int, list[reading_order.Read]] = {}
    current: dict[int, int] = {}
    rows = study.assignments.filter(repeat=False).values_list("pk", "rater_id", "case_id", "order_key", "completed_at")
    for pk, rater_id, case_id, key, done in rows:
        reads.setdefault(rater_id, []).append(reading_order.Read(pk, case_id, key, done is not None))
        current[pk] = key
    changed, raters = [], set()
    for rater_id, mine in reads.items():
        keys = reading_order.prioritised_keys(mine, seed=seeds.get(rater_id, 0), priority=priority)
        for pk, key in keys.items():
            if current[pk] != key:
                changed.append(Assignment(pk=pk, order_key=key))
                raters.add(rater_id)
    Assignment.objects.bulk_update(changed, ["order_key"], batch_size=1000)
    rater_queues_renumber(study_id=study.pk, rater_ids=raters)
    return len(changed)


# Ranking cases by the model is scoring's work (annotation does not read predictions): sent by name.
QUEUE_ORDER_TASK = "scoring.tasks.study_queues_order_run"


def study_queues_order_request(*, study: Study) -> None:
    """Have the raters' queues put in the study's queue order once this transaction commits: by the
    model on a worker (scoring ranks the cases), or back to the seeded random order here and now.
    Nothing for a draft (no queues yet) or a blinded study (never reordered)."""
    if study.status == Study.Status.DRAFT or not study.model_in_view:
        return
    if study.queue_order == Study.QueueOrder.RANDOM:
        rater_queues_prioritise(study=study, priority={})
    else:
        send_after_commit(QUEUE_ORDER_TASK, study_id=study.pk)


def rater_queue_count_done(*, assignment: Assignment) -> None:
    """One more of the rater's reads done: call it when a read's completed_at is first set."""
    if assignment.position is None:  # not in the queue the rater sees (no image)
        return
    _COUNT_DONE.run(study_id=assignment.study_id, user_id=assignment.rater_id)


# Every first save or flag of a read makes this update: its SQL is written once a process.
_COUNT_DONE = PreparedUpdate(
    lambda shape, *, study_id, user_id: (
        StudyMembership.objects.filter(study_id=study_id, user_id=user_id),
        {"queue_done": F("queue_done") + 1},
    ),
    values=("study_id", "user_id"),
)


def _positions_renumber(*, study_id: int, rater_ids: list[int] | None) -> None:
    """ROW_NUMBER over each rater's reads with an image, written only where it changed; an
    UPDATE ... FROM, which PostgreSQL and SQLite (3.33 and later) both take."""
    table = connection.ops.quote_name(Assignment._meta.db_table)
    cases = connection.ops.quote_name(Case._meta.db_table)
    raters_sql, params = "", [study_id]
    if rater_ids is not None:
        raters_sql = f" AND a.rater_id IN ({', '.join(['%s'] * len(rater_ids))})"
        params += rater_ids
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET position = ranked.n
            FROM (
                SELECT a.id AS id, ROW_NUMBER() OVER (PARTITION BY a.rater_id ORDER BY a.order_key, a.id) AS n
                FROM {table} a JOIN {cases} c ON c.id = a.case_id
                WHERE a.study_id = %s AND c.image_id IS NOT NULL{raters_sql}
            ) AS ranked
            WHERE {table}.id = ranked.id AND ({table}.position IS NULL OR {table}.position <> ranked.n)
            """,
            params,
        )
    hidden = Assignment.objects.filter(study_id=study_id, case__image__isnull=True, position__isnull=False)
    if rater_ids is not None:
        hidden = hidden.filter(rater_id__in=rater_ids)
    Assignment.objects.filter(pk__in=list(hidden.values_list("pk", flat=True))).update(position=None)


def _counts_refresh(*, study_id: int, rater_ids: list[int] | None) -> None:
    queue = Assignment.objects.filter(study_id=study_id, rater_id=OuterRef("user_id"), position__isnull=False)
    members = StudyMembership.objects.filter(study_id=study_id)
    if rater_ids is not None:
        members = members.filter(user_id__in=rater_ids)
    members.update(
        queue_total=_count(queue),
        queue_done=_count(queue.filter(completed_at__isnull=False)),
    )


def _count(queue) -> Coalesce:
    counted = queue.order_by().values("rater_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
