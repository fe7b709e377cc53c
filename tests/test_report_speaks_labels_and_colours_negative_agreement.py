"""The agreement report speaks the rubric's labels, never raw keys; colours agreement on its whole
scale, so that a value below 0 (worse than chance) never looks like a weak positive one; keeps each
confidence interval on one line; and says what it is doing while it computes, with real numbers."""

import base64
import html
import io
import re

import pytest
from PIL import Image as PILImage

from annotation.csv_io import ratings_csv_import
from scoring.models import AgreementReport
from scoring.plots import kappa_heatmap_svg
from scoring.services import agreement_report_execute, agreement_report_request
from scoring.templatetags.report_tags import agreement, score_label, statistic_label
from tests.browser_support import _log_in

# Two raters who read every case the other way round: every agreement statistic is below 0.
OPPOSITES = "image,rater,extent_right,extent_left,opacity_right,opacity_left\n" + "".join(
    f"img{i}.png,rater1,{i},{i},{min(i, 3)},{min(i, 3)}\n"
    f"img{i}.png,rater2,{4 - i},{4 - i},{min(4 - i, 3)},{min(4 - i, 3)}\n"
    for i in range(5)
)


@pytest.fixture
def opposed_study(make_study, django_capture_on_commit_callbacks):
    study = make_study(n_cases=0, open_it=False)
    ratings_csv_import(study=study, data=OPPOSITES.encode(), allow_missing_images=True)
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == AgreementReport.Status.DONE, report.error
    assert report.data["scores"]["geographic_extent"]["krippendorff_alpha"]["interval"]["value"] < 0
    return study


def page_of(client, study) -> str:
    return client.get(f"/studies/{study.slug}/report/").content.decode()


def test_the_summary_and_the_tables_name_totals_and_items_by_their_labels(opposed_study, client_for):
    body = page_of(client_for("alice"), opposed_study)

    summary = body[body.index("<h2>Summary</h2>") : body.index("How to read this")]
    row_headers = re.findall(r'<th scope="row">([^<]*)</th>', summary)
    assert row_headers[:2] == ["Geographic extent", "Opacity"]
    assert "Geographic extent, right lung" in row_headers and "Opacity, left lung" in row_headers
    for key in ("geographic_extent", "extent_right", "opacity_left"):
        assert f">{key}<" not in body and f"{key}:" not in body
    assert "ICC(2,1)" in body and "ICC2_1" not in body
    assert "Krippendorff&#x27;s α (interval)" in body or "Krippendorff's α (interval)" in body


def test_a_value_below_zero_is_marked_below_chance_and_the_legend_covers_minus_one_to_one(opposed_study, client_for):
    body = page_of(client_for("olivia"), opposed_study)

    below = re.findall(
        r'<span class="agree agree-below">(-[0-9.]+)<span class="sr-only"> \(below chance\)</span>', body
    )
    assert below and all(float(value) < 0 for value in below)
    legend = html.unescape(body[body.index('class="agree-legend"') :].split("</p>", 1)[0])
    assert "coloured from −1 to 1" in legend and "below 0: worse than chance" in legend
    assert "agree agree-8" in legend


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-0.09, "agree-below"),
        (-16.3, "agree-below"),  # an ICC of the mean of k raters goes far below -1
        (-0.0004, "agree-0"),  # shown as 0.000
        (0.0, "agree-0"),
        (0.45, "agree-4"),
        (0.7, "agree-6"),
        (0.95, "agree-8"),
    ],
)
def test_the_colour_bands_follow_the_value_on_its_whole_scale(value, band):
    assert f'class="agree {band}"' in agreement(value)


def test_an_undefined_statistic_is_a_dash_without_a_colour_and_nothing_shows_as_minus_zero():
    assert agreement(None) == '<span class="agree agree-undefined">—</span>'
    assert agreement(-0.0004) == '<span class="agree agree-0">0.000</span>'


def test_labels_for_keys_of_every_rubric_and_icc_names():
    from annotation.rubrics import rubric_get

    assert score_label("geographic_extent", rubric_get("cohen2020")) == "Geographic extent"
    assert score_label("zone_a", rubric_get("brixia")) == "Zone A, right upper"
    assert score_label("ru_density", rubric_get("rale")) == "Density, right upper"
    assert score_label("some_new_total", None) == "Some new total"
    assert statistic_label("ICC3_k") == "ICC(3,k)" and statistic_label("fleiss") == "fleiss"


def _cell_colours(svg: str, n: int) -> list[tuple[int, int, int]]:
    """The colour at the centre of each cell of a heatmap drawn with imshow (embedded in the SVG as
    a PNG, maybe flipped: so the cells are compared as a whole)."""
    data = re.search(r"data:image/png;base64,([A-Za-z0-9+/=\s]+)", svg)[1]
    image = PILImage.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    width, height = image.size
    return [
        image.getpixel((int((col + 0.5) * width / n), int((row + 0.5) * height / n)))
        for row in range(n)
        for col in range(n)
    ]


def test_the_kappa_heatmap_diverges_at_zero_so_a_negative_pair_is_red_and_a_positive_one_blue():
    raters = ["r1", "r2", "r3"]
    pairs = [
        {"raters": ["r1", "r2"], "value": -0.5},
        {"raters": ["r1", "r3"], "value": 0.7},
        {"raters": ["r2", "r3"], "value": None},
    ]

    svg = kappa_heatmap_svg(pairs, raters, "Opacity")

    colours = _cell_colours(svg, 3)
    # On the old 0..1 scale -0.5 was clipped to 0 and drawn in the scale's darkest colour, a bluish purple.
    assert len([c for c in colours if c[0] > c[2] + 60]) == 2  # r1/r2 and r2/r1: red
    assert len([c for c in colours if c[2] > c[0] + 60]) == 2  # r1/r3 and r3/r1: blue
    assert colours.count((0xEE, 0xEE, 0xEE)) == 5  # the diagonal, and the undefined pair: no colour
    assert "below 0: worse than chance" in svg and "n/a" in svg and "-0.50" in svg


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_wide_screen_no_statistic_or_interval_wraps_and_no_table_leaves_its_card(
    browser, live_server, opposed_study
):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    _log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/studies/{opposed_study.slug}/report/")

    # How far apart the visible text of each cell lies vertically: under a line's height, one line.
    spread = page.evaluate(
        """[...document.querySelectorAll('td.stat, td.ci, small.ci')].map((cell) => {
             const tops = [];
             const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
             while (walker.nextNode()) {
               const text = walker.currentNode;
               if (text.parentElement.closest('.sr-only') || !text.textContent.trim()) continue;
               const range = document.createRange();
               range.selectNodeContents(text);
               tops.push(...[...range.getClientRects()].map((r) => r.top));
             }
             return [cell.textContent.trim(), Math.max(...tops) - Math.min(...tops)];
           })"""
    )
    overflowing = page.evaluate(
        "[...document.querySelectorAll('.card')].filter((card) => card.scrollWidth > card.clientWidth).length"
    )
    context.close()

    assert len([text for text, _ in spread if text.startswith("[")]) >= 10
    assert [text for text, height in spread if height >= 12] == []
    assert overflowing == 0


def test_while_computing_the_page_gives_real_numbers_or_none_never_a_question_mark(opposed_study, client_for):
    from annotation.services import rating_submit
    from tests.conftest import COHEN_VALUES

    client = client_for("alice")
    opposed_study.status = "open"
    opposed_study.save()
    rating_submit(assignment=opposed_study.assignments.filter(rater__username="rater1").first(), values=COHEN_VALUES)
    report = agreement_report_request(study=opposed_study)  # the new ratings: a new report, queued

    body = html.unescape(page_of(client, opposed_study))
    assert (
        "Waiting for a worker." in body and "?" not in body.split("Computing the report", 1)[1].split("</section>")[0]
    )

    AgreementReport.objects.filter(pk=report.pk).update(status="running", done=0, total=0)
    section = html.unescape(page_of(client, opposed_study)).split("Computing the report", 1)[1].split("</section>")[0]
    assert "Computing." in section and "?" not in section and " of " not in section

    AgreementReport.objects.filter(pk=report.pk).update(done=3, total=6)
    section = html.unescape(page_of(client, opposed_study)).split("Computing the report", 1)[1].split("</section>")[0]
    assert "Computing… 3 of 6 scores" in section and "?" not in section
    assert '<progress class="progress" value="3" max="6"' in section
    assert "Below: the previous report." in section
