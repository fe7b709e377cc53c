"""In the admin, what raters recorded and the trails are read-only, nothing that holds ratings can be
deleted, and changes to users and memberships are recorded: a study's on its audit trail, a user's
on the account trail (field names, never a password)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import AccountEvent
from annotation.models import Adjudication, Assignment, AuditEvent, Rating
from tests.security_support import rich_study_create


@pytest.fixture
def admin_client(personas):
    root = get_user_model().objects.create_superuser("root", password="x")
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def rich(personas):
    return rich_study_create(personas)


@pytest.mark.parametrize("model", [Rating, Adjudication, AuditEvent, Assignment])
def test_ratings_adjudications_assignments_and_the_trail_are_read_only(admin_client, rich, model):
    label, name = model._meta.app_label, model._meta.model_name
    row = model.objects.first()
    assert admin_client.get(f"/admin/{label}/{name}/").status_code == 200
    assert admin_client.get(f"/admin/{label}/{name}/{row.pk}/change/").status_code == 200  # a read-only view
    assert admin_client.get(f"/admin/{label}/{name}/add/").status_code == 403
    assert admin_client.post(f"/admin/{label}/{name}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    admin_client.post(f"/admin/{label}/{name}/", bulk)
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("path", ["annotation/study", "annotation/case", "auth/user"])
def test_nothing_that_holds_ratings_can_be_deleted(admin_client, rich, personas, path):
    pk = {"annotation/study": rich.study.pk, "annotation/case": rich.study.cases.first().pk,
          "auth/user": personas["rater2"].pk}[path]  # fmt: skip
    assert admin_client.post(f"/admin/{path}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert Rating.objects.filter(assignment__rater=personas["rater2"]).exists()


def test_a_membership_changed_in_the_admin_is_on_the_studys_trail(admin_client, rich, personas):
    study = rich.study
    memberships = list(study.memberships.select_related("user").order_by("pk"))
    form = {
        "title": study.title, "slug": study.slug, "rubric": study.rubric, "raters_per_case": study.raters_per_case,
        "status": study.status, "consensus_method": study.consensus_method,
        "adjudication_range": study.adjudication_range, "ratings_version": study.ratings_version,
        "model_assistance": study.model_assistance, "crossover_gap": study.crossover_gap,
        "burned_in_annotation": study.burned_in_annotation, "queue_order": study.queue_order,
        "bootstrap_raters": study.bootstrap_raters, "repeat_fraction": study.repeat_fraction,
        "repeat_washout_days": study.repeat_washout_days, "repeat_washout_cases": study.repeat_washout_cases,
        "memberships-TOTAL_FORMS": len(memberships), "memberships-INITIAL_FORMS": len(memberships),
        "memberships-MIN_NUM_FORMS": 0, "memberships-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for i, m in enumerate(memberships):
        form |= {
            f"memberships-{i}-id": m.pk,
            f"memberships-{i}-study": study.pk,
            f"memberships-{i}-user": m.user_id,
            f"memberships-{i}-role": m.role,
            f"memberships-{i}-can_adjudicate": "on" if m.can_adjudicate else "",
        }
        if m.user == personas["olivia"]:
            form[f"memberships-{i}-can_adjudicate"] = ""  # the owner's admin takes olivia's right
    response = admin_client.post(f"/admin/annotation/study/{study.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.filter(study=study, action="admin_change", target="olivia").get()
    assert event.details == {"membership": "changed", "can_adjudicate": "False"} and event.actor.username == "root"


def test_a_user_changed_in_the_admin_is_on_the_account_trail(admin_client, personas):
    user = personas["oscar"]
    form = {"username": "oscar", "first_name": "", "last_name": "", "email": "oscar@example.org",
            "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"}  # fmt: skip
    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AccountEvent.objects.get(action="admin_change", target="oscar")
    assert "email" in event.details["fields"] and event.actor.username == "root"
    assert "password" not in str(event.details)
