"""GET /plan/: any logged-in user may plan (it reads no study), anonymous visitors go to the login
page, and a GET never writes."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from scoring.agreement.planning import icc_plan

QUERY = {"metric": "icc", "expected": "0.8", "raters": "3", "half_width": "0.1"}


def test_a_rater_gets_the_number_of_cases(client_for):
    client = client_for("rater1")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/plan/", QUERY)
    assert response.status_code == 200
    assert f"{icc_plan(expected=0.8, raters=3, half_width=0.1).cases} cases" in response.content.decode()
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_the_blank_page_shows_the_form_only(client_for):
    response = client_for("alice").get("/plan/")
    assert response.status_code == 200
    assert response.context["plan"] is None
    assert 'name="half_width"' in response.content.decode()


def test_a_bad_value_is_shown_next_to_its_field(client_for):
    response = client_for("alice").get("/plan/", {**QUERY, "raters": "1"})
    assert response.status_code == 200
    assert response.context["plan"] is None
    assert response.context["form"].errors["raters"]


def test_coordinators_find_it_on_the_home_page(client_for):
    assert 'href="/plan/"' in client_for("alice").get("/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/plan/", QUERY)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_takes_no_posts(client_for):
    assert client_for("rater1").post("/plan/", QUERY).status_code == 405


def test_a_plan_too_large_for_a_page_is_left_to_the_command(client_for):
    # The simulation's cost grows with the cases: the page stops at 1,000 and says where to go.
    query = {"metric": "alpha", "expected": "0.5", "raters": "2", "half_width": "0.02"}
    page = client_for("alice").get("/plan/", query).content.decode()
    assert "more than 1000 cases would be needed" in page and "plan_study" in page
