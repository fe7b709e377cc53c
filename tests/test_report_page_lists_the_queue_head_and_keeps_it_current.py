"""The report page lists the first 50 cases waiting for adjudication (all of them are in the case
browser) from a queue kept per ratings version: an adjudication takes its case off at once."""

from annotation.csv_io import ratings_csv_import
from annotation.services import adjudication_record, membership_set_adjudicator


def _discordant_study(make_study, n: int):
    study = make_study(n_cases=0, open_it=False)
    rows = ["image,rater,extent_right,extent_left,opacity_right,opacity_left"]
    for i in range(n):
        rows += [f"c{i:03d}.png,rater1,0,0,0,0", f"c{i:03d}.png,rater2,4,4,3,3"]
    ratings_csv_import(study=study, data="\n".join(rows).encode(), allow_missing_images=True)
    return study


def test_the_first_fifty_are_listed_with_a_link_to_all(make_study, client_for):
    study = _discordant_study(make_study, 60)
    page = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    assert page.count(f"/studies/{study.slug}/adjudicate/") == 50
    assert "60 cases wait" in page and f"/studies/{study.slug}/cases/?filter=awaiting" in page


def test_an_adjudicated_case_leaves_the_listed_queue_at_once(make_study, client_for, personas):
    study = _discordant_study(make_study, 3)
    owner = client_for("alice")
    assert owner.get(f"/studies/{study.slug}/report/").content.decode().count("/adjudicate/") == 3
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    case = study.cases.get(original_filename="c001.png")
    values = {"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 1}
    adjudication_record(case=case, adjudicator=personas["olivia"], values=values)
    page = owner.get(f"/studies/{study.slug}/report/").content.decode()
    assert page.count("/adjudicate/") == 2 and "c001.png" not in page


def _queue_drawn(response) -> bool:
    return "scoring/_adjudication_queue.html" in [t.name for t in response.templates]


def test_the_listed_queue_is_drawn_once_per_ratings_and_kind_of_visitor(make_study, client_for, personas):
    # Drawing its rows cost more than sending the report's JSON (bench/report_pages.py).
    study = _discordant_study(make_study, 4)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    owner, adjudicator = client_for("alice"), client_for("olivia")
    first = owner.get(f"/studies/{study.slug}/report/")
    again = owner.get(f"/studies/{study.slug}/report/")
    assert _queue_drawn(first) and not _queue_drawn(again)
    assert _queue_of(again) == _queue_of(first)
    assert again.content.decode().count(">View</a>") == 4  # the owner here does not adjudicate
    # An adjudicator is drawn their own rows, with Adjudicate instead of View.
    adjudicating = adjudicator.get(f"/studies/{study.slug}/report/")
    assert _queue_drawn(adjudicating) and adjudicating.content.decode().count(">Adjudicate</a>") == 4
    assert ">View</a>" not in adjudicating.content.decode()
    # New ratings make a new queue: drawn again, with the change.
    case = study.cases.get(original_filename="c002.png")
    values = {"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 1}
    adjudication_record(case=case, adjudicator=personas["olivia"], values=values)
    after = owner.get(f"/studies/{study.slug}/report/")
    assert _queue_drawn(after) and after.content.decode().count(">View</a>") == 3


def _queue_of(response) -> str:
    page = response.content.decode()
    start = page.index("<h2>Adjudication queue</h2>")
    return page[start : page.index("</section>", start)]


def test_a_rater_is_shown_no_queue(make_study, client_for):
    study = _discordant_study(make_study, 2)
    page = client_for("rater1").get(f"/studies/{study.slug}/report/")
    assert page.status_code in (200, 404)
    assert "Adjudication queue" not in page.content.decode() and not _queue_drawn(page)
