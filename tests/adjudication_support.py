"""A study with two discordant cases, for the adjudication tests.

alice owns it; rater1-3 read the four images img-000.png .. img-003.png. img-001.png and img-003.png
span more than the study's range (3 points) and wait for adjudication, in that order; olivia, an
observer, is made an adjudicator.
"""

from annotation.models import Assignment, Study
from annotation.services import membership_set_adjudicator, rating_submit

AGREE = {"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}
# Per rater, so that each one's scores are recognisable in a page: rater2 always reads high.
DISCORDANT = {
    "rater1": {"extent_right": 0, "extent_left": 0, "opacity_right": 0, "opacity_left": 0},
    "rater2": {"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3},
    "rater3": {"extent_right": 1, "extent_left": 2, "opacity_right": 1, "opacity_left": 1},
}
FINAL = {"extent_right": "2", "extent_left": "2", "opacity_right": "1", "opacity_left": "2"}


def score(study: Study, filename: str, rater: str, values: dict[str, int]) -> None:
    assignment = Assignment.objects.get(study=study, case__original_filename=filename, rater__username=rater)
    rating_submit(assignment=assignment, values=values, reading_time_s=12.0)


def discordant_study_create(make_study, personas, *, blind: bool = False) -> Study:
    study = make_study(n_cases=4)
    for i in range(4):
        for rater in ("rater1", "rater2", "rater3"):
            score(study, f"img-{i:03d}.png", rater, DISCORDANT[rater] if i % 2 else AGREE)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    Study.objects.filter(pk=study.pk).update(adjudication_blind=blind)
    study.refresh_from_db()
    return study


def adjudicate_url(study: Study, filename: str) -> str:
    return f"/studies/{study.slug}/adjudicate/{study.cases.get(original_filename=filename).public_id}/"
