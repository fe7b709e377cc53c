"""core.prepared: a read compiled once runs the SQL the ORM writes, with each call's values, and
refuses a queryset whose values do not all reach the SQL as parameters."""

import pytest
from django.db import connection
from django.db.models import Count, Value
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, StudyMembership
from core.prepared import PreparedRead, PreparedReadError
from tests.conftest import COHEN_VALUES


def _memberships(shape, *, study_id, user_id, extra):
    rows = StudyMembership.objects.filter(study_id=study_id)
    rows = rows.filter(user_id=user_id) if shape == "of the user" else rows.exclude(user_id=user_id)
    return rows.order_by("pk").values("role", "queue_done", "public_id", marker=Value(extra))


MEMBERSHIPS = PreparedRead(_memberships, values=("study_id", "user_id", "extra"))


@pytest.fixture
def studies(make_study, personas):
    return [
        make_study(slug=f"prep-{i}", n_cases=3 + i, raters=("rater1", "rater2"), raters_per_case=2) for i in range(2)
    ]


@pytest.mark.django_db
def test_each_call_reads_with_its_own_values_as_the_orm_would(studies, personas):
    for study in studies:
        for user in (personas["rater1"], personas["rater2"], personas["alice"]):
            for shape in ("of the user", "of another member"):
                values = {"study_id": study.pk, "user_id": user.pk, "extra": study.pk * 10}
                expected = _memberships(shape, **values).first()
                assert MEMBERSHIPS.first(shape, **values) == expected
    assert MEMBERSHIPS.first("of the user", study_id=studies[0].pk, user_id=personas["oscar"].pk, extra=1) is None


@pytest.mark.django_db
def test_the_sql_is_written_once_per_shape(studies, personas):
    values = {"study_id": studies[0].pk, "user_id": personas["rater1"].pk, "extra": 0}
    read = PreparedRead(_memberships, values=("study_id", "user_id", "extra"))
    read.first("of the user", **values)
    with CaptureQueriesContext(connection) as queries:
        read.first("of the user", **values)
        read.first("of the user", **{**values, "study_id": studies[1].pk})
    assert len(queries) == 2 and queries[0]["sql"].replace(str(studies[0].pk), str(studies[1].pk)) == queries[1][
        "sql"
    ].replace(str(studies[0].pk), str(studies[1].pk))
    assert len(read._compiled) == 1
    read.first("of another member", **values)
    assert len(read._compiled) == 2


@pytest.mark.django_db
def test_values_converted_as_the_orm_converts_them(studies, personas, client_for):
    # JSON and datetimes come back as Python values, not text, on SQLite as on PostgreSQL.
    rater = personas["rater1"]
    assignment = Assignment.objects.filter(study=studies[0], rater=rater).order_by("order_key").first()
    client_for("rater1").post(f"/read/{assignment.public_id}/", COHEN_VALUES)

    def build(shape, *, pk):
        return Assignment.objects.filter(pk=pk).values("completed_at", "current_rating__values", n=Count("ratings"))

    read = PreparedRead(build, values=("pk",))
    expected = build((), pk=assignment.pk).first()
    assert expected["completed_at"] is not None
    assert read.first(pk=assignment.pk) == expected


@pytest.mark.django_db
def test_a_value_that_does_not_reach_the_parameters_is_refused(studies):
    def inlined(shape, *, study_id):
        return StudyMembership.objects.values("role")  # the value is not used at all

    with pytest.raises(PreparedReadError, match="study_id"):
        PreparedRead(inlined, values=("study_id",)).first(study_id=studies[0].pk)
    with pytest.raises(TypeError):
        MEMBERSHIPS.first("of the user", study_id=1)


def _assignments(shape, *, rater_id, public_id):
    return Assignment.objects.select_related(*shape).filter(rater_id=rater_id, public_id=public_id)


ASSIGNMENTS = PreparedRead(_assignments, values=("rater_id",), texts=("public_id",))


@pytest.mark.django_db
def test_model_instances_come_with_what_they_select_related(studies, personas):
    rater = personas["rater1"]
    for assignment in Assignment.objects.filter(study__in=studies, rater=rater):
        for related in ((), ("study",), ("study", "case__image", "current_rating")):
            expected = _assignments(related, rater_id=rater.pk, public_id=assignment.public_id).get()
            got = ASSIGNMENTS.first(related, rater_id=rater.pk, public_id=assignment.public_id)
            assert type(got) is Assignment and got == expected and not got._state.adding
            fields = [f.attname for f in Assignment._meta.concrete_fields]
            assert [getattr(got, f) for f in fields] == [getattr(expected, f) for f in fields]
            with CaptureQueriesContext(connection) as queries:
                for name in related:
                    obj = got
                    for step in name.split("__"):
                        obj = getattr(obj, step)
            assert len(queries) == 0
        assert got.study.slug == assignment.study.slug and got.current_rating is None
    other = personas["rater2"]
    assert ASSIGNMENTS.first((), rater_id=other.pk, public_id=assignment.public_id) is None  # not theirs


@pytest.mark.django_db(transaction=True)  # outside the test's own transaction
def test_a_locking_read_runs_only_inside_a_transaction(studies):
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    locked = PreparedRead(lambda shape, *, pk: Assignment.objects.select_for_update().filter(pk=pk), values=("pk",))
    pk = Assignment.objects.filter(study=studies[0]).values_list("pk", flat=True).first()
    with transaction.atomic():
        assert locked.first(pk=pk).pk == pk
    if connection.features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            locked.first(pk=pk)


@pytest.mark.django_db
def test_a_prepared_update_changes_the_rows_its_values_name(studies, personas):
    from django.db.models import F

    from core.prepared import PreparedUpdate

    bump = PreparedUpdate(
        lambda shape, *, study_id, user_id: (
            StudyMembership.objects.filter(study_id=study_id, user_id=user_id),
            {"queue_done": F("queue_done") + 1},
        ),
        values=("study_id", "user_id"),
    )
    rater1, rater2 = personas["rater1"], personas["rater2"]
    assert bump.run(study_id=studies[0].pk, user_id=rater1.pk) == 1
    assert bump.run(study_id=studies[0].pk, user_id=rater1.pk) == 1
    assert bump.run(study_id=studies[1].pk, user_id=rater2.pk) == 1
    assert bump.run(study_id=studies[1].pk, user_id=personas["oscar"].pk) == 0  # not a member
    done = dict(StudyMembership.objects.filter(user__in=[rater1, rater2]).values_list("study_id", "queue_done"))
    rows = StudyMembership.objects.filter(user__in=[rater1, rater2]).values_list("study_id", "user_id", "queue_done")
    assert sorted(rows) == sorted(
        [(studies[0].pk, rater1.pk, 2), (studies[0].pk, rater2.pk, 0), (studies[1].pk, rater1.pk, 0)]
        + [(studies[1].pk, rater2.pk, 1)]
    ), done
