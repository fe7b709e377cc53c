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
