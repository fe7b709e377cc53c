"""The adjudication page in Debian's Chromium at 1920x1080, 1366x768 and 1024x768: on arrival every
rubric button, the totals and the Save button are on screen without scrolling, next to a usable
image and the raters' scores; nothing looks chosen before a choice. An adjudicating observer then
records final scores with the keyboard and with the buttons, and each time lands on the next
discordant case. Screenshots: docs/screenshots/adjudicate-WIDTHxHEIGHT.png.

The browser is the reading room tests' (tests/conftest.py, tests/browser_support.py): skipped without
Chromium, failed under CI=true.
"""

import io

import pytest
from PIL import Image as PILImage

from annotation.ingest import metadata_parse, sources_from_paths
from annotation.models import Adjudication, Assignment, StudyMembership
from annotation.services import (
    images_import,
    import_limits,
    membership_add,
    membership_set_adjudicator,
    rating_submit,
    study_create,
    study_open,
)
from scoring.selectors import adjudication_queue
from tests.browser_support import (
    SCREENSHOT_MAX_BYTES,
    SCREENSHOTS,
    _log_in,
)
from tests.conftest import DEMO_DIR

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SCREENS = [(1920, 1080), (1366, 768), (1024, 768)]
LOW = {"extent_right": 1, "extent_left": 0, "opacity_right": 1, "opacity_left": 0}
HIGH = {"extent_right": 4, "extent_left": 3, "opacity_right": 3, "opacity_left": 2}
MID = {"extent_right": 2, "extent_left": 2, "opacity_right": 1, "opacity_left": 1}


@pytest.fixture
def study(personas):
    """The six demo X-rays read by rater1-3; cases 1, 3 and 5 split them (a range of 6 on geographic
    extent), the others agree. olivia, an observer, adjudicates, blind to names and files."""
    study = study_create(owner=personas["alice"], slug="covid", title="COVID-19 severity", rubric="cohen2020")
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role=StudyMembership.Role.RATER)
    membership_add(study=study, user=personas["olivia"], role=StudyMembership.Role.OBSERVER)
    report = images_import(
        study=study,
        sources=sources_from_paths([DEMO_DIR / "images"], limits=import_limits()),
        metadata=metadata_parse((DEMO_DIR / "metadata.csv").read_bytes()),
    )
    assert report.count("imported") == 6
    study_open(study=study)
    for i, case in enumerate(study.cases.order_by("pk")):
        split = (LOW, HIGH, MID) if i % 2 == 0 else (MID, MID, MID)
        for rater, values in zip(("rater1", "rater2", "rater3"), split, strict=True):
            assignment = Assignment.objects.get(case=case, rater__username=rater)
            rating_submit(assignment=assignment, values=values, reading_time_s=20.0)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    # Fixed membership ids, hence fixed letters (not in username order), for stable screenshots.
    for name, public_id in (("rater1", "m-c"), ("rater2", "m-a"), ("rater3", "m-b")):
        StudyMembership.objects.filter(study=study, user=personas[name]).update(public_id=public_id)
    study.adjudication_blind = True
    study.save(update_fields=["adjudication_blind"])
    assert len(adjudication_queue(study=study)) == 3
    return study


def _save_screenshot(page, name: str) -> None:
    """A palette PNG, as the reading room's; fewer colours where a large X-ray needs them to stay
    under the size limit."""
    image = PILImage.open(io.BytesIO(page.screenshot())).convert("RGB")
    path = SCREENSHOTS / name
    for colors in (256, 192, 128):
        quantized = image.quantize(colors=colors, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE)
        quantized.save(path, optimize=True)
        if path.stat().st_size < SCREENSHOT_MAX_BYTES:
            return
    raise AssertionError(f"{name} is {path.stat().st_size} bytes")


def _arrive(page, base: str, study, case_id: str) -> None:
    page.goto(f"{base}/studies/{study.slug}/adjudicate/{case_id}/")
    page.wait_for_function("document.getElementById('viewer').dataset.state === 'ready'")


def _outside(page, selector: str, width: int, height: int) -> list[str]:
    """The elements matching `selector` that are not wholly inside the viewport."""
    boxes = page.eval_on_selector_all(
        selector,
        "els => els.map((el) => { const r = el.getBoundingClientRect();"
        " return [el.textContent.trim().slice(0, 40), r.left, r.top, r.right, r.bottom]; })",
    )
    assert boxes, f"nothing matches {selector}"
    return [
        f"{selector} {text!r} at {left:.0f},{top:.0f}-{right:.0f},{bottom:.0f}"
        for text, left, top, right, bottom in boxes
        if left < 0 or top < 0 or right > width + 0.5 or bottom > height + 0.5
    ]


@pytest.mark.parametrize("width, height", SCREENS)
def test_rubric_totals_and_save_are_on_screen_on_arrival(
    browser,
    live_server,
    study,
    width,
    height,
):
    base = live_server.url
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, base, "olivia")
    first = adjudication_queue(study=study)[0].public_id
    _arrive(page, base, study, first)

    outside = []
    for selector in (".level", "#totals", "#submit", ".case-title", 'a[data-nav="next"]', "#scores thead"):
        outside += _outside(page, selector, width, height)
    assert not outside, "\n".join(outside)
    assert page.evaluate("document.scrollingElement.scrollTop") == 0
    assert page.locator(".level").count() == 5 + 4 + 5 + 4  # one button per level of each item
    # The image stays usable: a large canvas.
    canvas = page.locator("#view").bounding_box()
    assert canvas["height"] >= 0.5 * height - 60 and canvas["width"] >= 0.45 * width
    # The scores table stays inside its strip (it scrolls there, if at all), next to the panel.
    strip, panel = page.locator(".adj-scores").bounding_box(), page.locator("#panel").bounding_box()
    table = page.locator(".table-scroll").bounding_box()
    assert table["x"] + table["width"] <= strip["x"] + strip["width"] + 0.5 <= panel["x"] + 0.5
    # Nothing looks chosen: no level checked or focused, no definition previewed, totals a dash.
    assert page.locator("input[type=radio]:checked").count() == 0
    assert page.evaluate("document.activeElement.matches('input')") is False
    assert page.locator(".item-def.preview").count() == 0
    assert page.inner_text('output[data-total="geographic_extent"]') == "–"
    # Blind: letters for the raters, and neither usernames nor the file anywhere on the page.
    body = page.content()
    assert "Rater A" in body and "rater1" not in body and ".jpg" not in body
    assert "Case 1" in page.inner_text(".case-title") and "(threshold 3)" in page.inner_text(".adj-why")
    page.evaluate("document.activeElement.blur()")
    _save_screenshot(page, f"adjudicate-{width}x{height}.png")
    assert errors == []
    context.close()


def test_final_scores_by_keyboard_and_by_buttons_each_land_on_the_next_discordant_case(
    browser,
    live_server,
    study,
):
    base = live_server.url
    queue = [row.public_id for row in adjudication_queue(study=study)]
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, base, "olivia")
    _arrive(page, base, study, queue[0])

    # Keyboard only: the viewer's keys, then a digit per item (each moves on) and Enter.
    page.keyboard.press("+")
    page.keyboard.press("l")
    viewer = page.evaluate("({...document.getElementById('viewer').dataset})")
    assert float(viewer["zoom"]) > 1.1 and viewer["preset"] == "lung"
    for key in "2312":
        page.keyboard.press(key)
    assert page.inner_text('output[data-total="geographic_extent"]') == "3"  # 2 right + 1 left
    assert page.inner_text('output[data-total="opacity"]') == "5"
    assert page.evaluate("document.activeElement.id") == "submit"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/studies/{study.slug}/adjudicate/{queue[1]}/")
    page.wait_for_function("document.getElementById('viewer').dataset.state === 'ready'")
    assert "Final score recorded" in page.inner_text(".messages")
    assert "of 2 waiting" in page.inner_text(".case-title")
    final = Adjudication.objects.get(case__public_id=queue[0])
    assert final.values == {"extent_right": 2, "opacity_right": 3, "extent_left": 1, "opacity_left": 2}
    assert final.adjudicator.username == "olivia"

    # Half-filled is refused on the page, without a request; then the rest with the mouse.
    page.click('.item[data-item="extent_right"] .level:has(input[value="3"])')
    page.click("#submit")
    assert page.locator("#form-error").is_visible() and page.locator(".item.missing").count() == 3
    assert page.url.endswith(f"/adjudicate/{queue[1]}/")
    for key, value in (("opacity_right", 2), ("extent_left", 3), ("opacity_left", 2)):
        page.click(f'.item[data-item="{key}"] .level:has(input[value="{value}"])')
    assert page.inner_text('output[data-total="geographic_extent"]') == "6"
    page.click("#submit")
    page.wait_for_url(f"{base}/studies/{study.slug}/adjudicate/{queue[2]}/")
    assert Adjudication.objects.get(case__public_id=queue[1]).totals == {"geographic_extent": 6, "opacity": 4}

    # Skip with N: the queue wraps round to the one case left before this one... which is none:
    # the two before are done, so the last case has no "next" and offers the report.
    assert page.locator('a[data-nav="next"]').count() == 0
    for key in "1111":
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/studies/{study.slug}/report/")
    assert "No case waits for adjudication now" in page.inner_text(".messages")
    assert Adjudication.objects.count() == 3
    assert errors == []
    context.close()
