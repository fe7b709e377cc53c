"""Issue 14, the owner's view of time and effort: per rater the median reading time, the middle half,
cases per hour and the distribution; per case where the raters are slow to agree (widest spread,
most revisions, longest time), with filenames. Reading times per named rater are personal data:
owners only, everyone else a 404."""

import re

import pytest

from annotation import selectors
from annotation.models import Assignment
from annotation.services import assignment_flag, membership_set_adjudicator, rating_submit
from tests.conftest import COHEN_VALUES

HIGH = {**COHEN_VALUES, "extent_right": 4, "extent_left": 4}  # geographic extent 8 where the others say 5


@pytest.fixture
def study(make_study, personas):
    study = make_study(n_cases=4)
    reads = {
        name: list(Assignment.objects.filter(study=study, rater=personas[name]).select_related("case").order_by("case"))
        for name in ("rater1", "rater2", "rater3")
    }
    for seconds, assignment in zip((10, 20, 30, 40), reads["rater1"], strict=True):
        rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=seconds)
    rating_submit(assignment=reads["rater1"][0], values=COHEN_VALUES, reading_time_s=5)  # a revision: 10 + 5 s
    rating_submit(assignment=reads["rater1"][2], values=HIGH, reading_time_s=100)  # changed their mind: 30 + 100 s
    for assignment in reads["rater2"][:3]:
        rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=8)
    assignment_flag(assignment=reads["rater2"][3], reason="wrong_view")
    rating_submit(assignment=reads["rater3"][2], values=COHEN_VALUES, reading_time_s=12)
    study.discordant = reads["rater1"][2].case
    return study


def page(client_for, study, query: str = "") -> str:
    response = client_for("alice").get(f"/studies/{study.slug}/effort/{query}")
    assert response.status_code == 200
    return response.content.decode()


def row_of(html: str, first_cell: str) -> list[str]:
    """The cells of the table row whose header cell is `first_cell`, as text."""
    row = re.search(rf"<tr[^>]*>\s*<th scope=\"row\">{re.escape(first_cell)}</th>(.*?)</tr>", html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_each_rater_has_reads_median_middle_half_and_cases_per_hour(study, client_for):
    html = page(client_for, study)
    # rater1's reads took 15, 20, 130 and 40 s (a read's time is the sum of its revisions')
    scored, flagged, median, iqr, total, per_hour_reading = row_of(html, "rater1")[:6]
    assert (scored, flagged, median, iqr, total) == ("4", "0", "30 s", "18.8 s – 1 min 2 s", "3 min 25 s")
    assert per_hour_reading == str(round(3600 * 4 / 205))
    assert row_of(html, "rater2")[:3] == ["3", "1", "8 s"]
    assert row_of(html, "rater3")[:3] == ["1", "0", "12 s"]


def test_the_distribution_counts_each_raters_reads_per_time_bin(study, client_for):
    html = page(client_for, study).split("Time per case, distribution", 1)[1]
    bins = re.findall(r"<th scope=\"col\" class=\"num\">(.*?)</th>", html.split("</thead>")[0])
    assert bins[0] == "0 s–5 s" and bins[-1] == "≥ 5 min"
    counts = [cell for cell in row_of(html, "rater1")]
    # 15 s, 20 s, 40 s, 130 s: one in 10-20, 20-30, 30-60 and 2-5 min
    assert counts == ["0", "0", "1", "1", "1", "0", "1", "0"]
    assert row_of(html, "All raters")[1] == "3"  # rater2's three reads of 8 s


def test_the_case_where_raters_disagree_comes_first_with_its_file_and_who_stands_out(study, client_for):
    html = page(client_for, study).split("Where raters are slow to agree", 1)[1]
    first = html.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert study.discordant.original_filename in first and study.discordant.public_id in first
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", first, re.S)]
    assert cells[1:] == ["3", "3", "Geographic extent", "rater1", "1", "2 min 30 s"]


def test_cases_can_be_ordered_by_revisions_and_by_time(study, client_for):
    for order in ("revisions", "time"):
        html = page(client_for, study, f"?cases={order}").split("Where raters are slow to agree", 1)[1]
        first = html.split("<tbody>", 1)[1].split("</tr>", 1)[0]
        assert study.discordant.original_filename in first  # 1 extra revision, 150 s: first either way
    assert "Widest spread" in page(client_for, study, "?cases=nonsense")  # an unknown order is the default


def test_reads_come_from_two_queries_whatever_the_size_of_the_study(study, django_assert_num_queries):
    with django_assert_num_queries(2):
        reads = selectors.study_effort_reads(study=study)
    assert len(reads) == 4 + 4 + 1
    revised = next(read for read in reads if read.case == study.discordant.public_id and read.rater == "rater1")
    assert (revised.revisions, revised.times_s, revised.time_s) == (2, (30.0, 100.0), 130.0)


def test_a_study_without_reads_shows_empty_tables(make_study, client_for):
    study = make_study(n_cases=2, slug="empty")
    html = page(client_for, study)
    assert html.count("No reads yet.") == 2


@pytest.mark.parametrize("name", ["rater1", "olivia", "oscar", "cora"])
def test_only_owners_see_reading_times(study, personas, client_for, name):
    # even an adjudicating observer, who reads every rater's scores, does not see their times
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True, actor=personas["alice"])
    assert client_for(name).get(f"/studies/{study.slug}/effort/").status_code == 404


def test_the_study_page_links_to_it_for_owners(study, client_for):
    assert f"/studies/{study.slug}/effort/" in client_for("alice").get(f"/studies/{study.slug}/").content.decode()
    assert f"/studies/{study.slug}/effort/" not in client_for("olivia").get(f"/studies/{study.slug}/").content.decode()
