"""The reading room in Debian's Chromium, driven by Playwright against a live server.

A rater logs in, scores three cases with the keyboard only and one with the mouse, zooms, pans,
windows and inverts, goes back to revise, flags, reloads and resumes; the database is checked
afterwards. The test also takes the screenshots of the README and docs (docs/screenshots/).

Chromium is /usr/bin/chromium (`apt-get install chromium`; Playwright's own browser download does
not work here). Without it the test fails under CI=true and is skipped elsewhere.
"""

import re
from datetime import UTC, datetime

import pytest

from annotation.models import Assignment, Rating
from annotation.services import rating_submit
from tests.browser_support import (
    _focused_item,
    _log_in,
    _queue,
    _save_screenshot,
    _type,
    _viewer,
    _wait_for_case,
)
from tests.conftest import COHEN_VALUES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_rater_reads_scores_revises_and_resumes_in_chromium(browser, live_server, demo_study):
    base = live_server.url
    queue = _queue(demo_study, "rater1")
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # a laptop screen
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    _log_in(page, base, "rater1")
    page.get_by_role("link", name="Start reading").click()
    _wait_for_case(page, base, queue[0])
    page.evaluate("window.stillTheSamePage = true")  # gone if anything reloads the page
    assert page.locator(".case-title").inner_text().startswith("Case 1")

    # Case 1, keyboard only: viewer keys, then digits (each advances to the next item) and Enter.
    assert _focused_item(page) == "extent_right"  # focus starts on the first item (on no level of it)
    _type(page, "++")
    assert float(_viewer(page)["zoom"]) > 1.5
    page.keyboard.press("l")
    state = _viewer(page)
    assert state["preset"] == "lung" and int(state["windowWidth"]) < 255
    assert page.inner_text("#viewer-readout").startswith(f"W {state['windowWidth']} · L {state['windowCenter']} · ")
    page.keyboard.press("i")
    assert _viewer(page)["invert"] == "true"
    page.keyboard.press("r")
    state = _viewer(page)
    assert (state["zoom"], state["invert"], state["preset"]) == ("1.000", "false", "default")
    _type(page, "2132")
    assert page.inner_text('output[data-total="geographic_extent"]') == "5"
    assert page.evaluate("document.activeElement.id") == "submit"
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[1])

    # Case 2, keyboard only: arrows move between items and levels; half-filled is refused here.
    page.keyboard.press("ArrowRight")  # extent right: nothing chosen -> 0
    page.keyboard.press("ArrowRight")  # 0 -> 1
    page.keyboard.press("ArrowRight")  # 1 -> 2
    page.keyboard.press("ArrowDown")  # to opacity right
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    assert page.locator("#form-error").is_visible()
    assert "Geographic extent, left lung" in page.inner_text("#form-error")
    assert _focused_item(page) == "extent_left"
    assert page.url == f"{base}/read/{queue[1].public_id}/"
    _type(page, "00")
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[2])

    # Case 3, keyboard only; a digit outside an item's scale is refused.
    _type(page, "4")
    page.keyboard.press("4")  # opacity is 0-3: stays unscored, focus stays
    assert _focused_item(page) == "opacity_right"
    _type(page, "343")
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[3])

    # Case 4, mouse only: wheel zoom, drag pan, right-drag and Shift-drag window/level, invert.
    box = page.locator("#view").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -300)
    page.wait_for_function("Number(document.getElementById('viewer').dataset.zoom) > 1.2")
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 60, steps=5)
    page.mouse.up()
    state = _viewer(page)
    assert float(state["panX"]) > 50 and float(state["panY"]) > 20
    readout = page.inner_text("#viewer-readout")
    page.mouse.down(button="right")
    page.mouse.move(cx - 80, cy + 40, steps=5)
    page.mouse.up(button="right")
    state = _viewer(page)
    assert int(state["windowWidth"]) < 255 and state["preset"] == ""
    assert page.inner_text("#viewer-readout") != readout
    page.keyboard.down("Shift")
    page.mouse.down()
    page.mouse.move(cx, cy - 60, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert int(_viewer(page)["windowCenter"]) < int(state["windowCenter"])
    assert float(_viewer(page)["panX"]) == float(state["panX"])  # Shift-drag did not pan
    page.click('[data-action="invert"]')
    assert _viewer(page)["invert"] == "true"
    assert page.get_attribute('[data-action="invert"]', "aria-pressed") == "true"
    page.click('[data-preset="soft"]')
    assert _viewer(page)["preset"] == "soft"

    def click_level(key: str, value: int) -> None:
        page.click(f'.item[data-item="{key}"] .level:has(input[value="{value}"])')

    click_level("extent_right", 1)
    click_level("opacity_right", 1)
    page.click("#submit")  # half-filled: refused before anything is sent
    assert page.locator(".item.missing").count() == 2
    click_level("extent_left", 0)
    click_level("opacity_left", 0)
    assert page.inner_text("#remaining").startswith("All items scored")
    page.click("#submit")
    _wait_for_case(page, base, queue[4])
    assert _viewer(page)["invert"] == "false"  # a new case starts with a fresh view

    # Back to case 4 with P, revise one item with the keyboard: a second revision.
    page.keyboard.press("p")
    _wait_for_case(page, base, queue[3])
    assert page.is_checked('input[name="extent_right"][value="1"]')
    assert "1 revision" in page.inner_text("#panel .note")
    page.keyboard.press("3")  # focus is on the first item: extent right 1 -> 3
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[4])  # back to the first case not done

    # Case 5: flag it with the keyboard (F, choose a reason, Enter).
    page.keyboard.press("f")
    page.keyboard.press("ArrowDown")  # "Wrong view"
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[5])
    assert "Case flagged." in page.inner_text(".messages")

    # Case 6: half-way through, reload (the browser asks first; yes): the same case, nothing stored;
    # log out (asked again), log in, resume there.
    _type(page, "31")
    assert page.evaluate("window.stillTheSamePage") is True  # five cases without a page load
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    page.reload()
    _wait_for_case(page, base, queue[5])
    assert page.locator(".case-title").inner_text().startswith("Case 6")
    assert page.locator("input:checked").count() == 0
    _type(page, "31")
    page.evaluate("document.activeElement.blur()")
    _save_screenshot(page, "reading.png")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/accounts/login/")
    assert asked == ["beforeunload", "beforeunload"]
    _log_in(page, base, "rater1")
    page.get_by_role("link", name="Resume reading").click()
    _wait_for_case(page, base, queue[5])
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible() and "Flag the case" in page.inner_text("#shortcuts")
    page.keyboard.press("Escape")
    assert not page.locator("#shortcuts").is_visible()
    assert "5 of 6 done" in page.inner_text(".progress-text")

    # The browser's Back button goes to the previous case without leaving the page.
    page.keyboard.press("p")
    _wait_for_case(page, base, queue[4])
    page.go_back()
    _wait_for_case(page, base, queue[5])

    # Finish: the last Save and next lands on the done page.
    page.keyboard.press("Escape")
    _type(page, "1111")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/studies/covid/done/")
    assert "You have completed 6 of 6 cases" in page.inner_text("main")
    assert errors == []

    # What the database holds.
    def current(assignment: Assignment) -> dict[str, int]:
        assignment.refresh_from_db()
        return assignment.current_rating.values

    assert current(queue[0]) == {"extent_right": 2, "opacity_right": 1, "extent_left": 3, "opacity_left": 2}
    assert current(queue[1]) == {"extent_right": 2, "opacity_right": 1, "extent_left": 0, "opacity_left": 0}
    assert current(queue[2]) == {"extent_right": 4, "opacity_right": 3, "extent_left": 4, "opacity_left": 3}
    assert current(queue[3]) == {"extent_right": 3, "opacity_right": 1, "extent_left": 0, "opacity_left": 0}
    assert current(queue[5]) == {"extent_right": 1, "opacity_right": 1, "extent_left": 1, "opacity_left": 1}
    revised = list(Rating.objects.filter(assignment=queue[3]).order_by("revision"))
    assert [r.revision for r in revised] == [1, 2] and revised[0].values["extent_right"] == 1
    queue[4].refresh_from_db()
    assert queue[4].flag_reason == "wrong_view" and queue[4].current_rating is None
    ratings = Rating.objects.filter(assignment__in=queue)
    assert ratings.count() == 6 and set(ratings.values_list("source", flat=True)) == {"web"}
    assert all(r.reading_time_s is not None and r.reading_time_s > 0 for r in ratings)
    assert all(
        r.totals
        == {
            "geographic_extent": r.values["extent_right"] + r.values["extent_left"],
            "opacity": r.values["opacity_right"] + r.values["opacity_left"],
        }
        for r in ratings
    )
    context.close()

    # The owner's dashboard: progress per rater, flags with reasons (at fixed times, for a stable PNG).
    Assignment.objects.filter(study=demo_study).exclude(flag_reason="").update(
        flagged_at=datetime(2026, 3, 2, 9, 41, tzinfo=UTC)
    )
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    page = owner.new_page()
    _log_in(page, base, "alice")
    page.goto(f"{base}/studies/covid/")
    body = page.inner_text("main")
    assert "Wrong view" in body and "rotated, clipped bases" in body
    assert re.search(r"rater1\s+6\s+5\s+1", body)  # assigned, scored, flagged
    page.wait_for_function("[...document.images].every((img) => img.complete || img.loading === 'lazy')")
    _save_screenshot(page, "dashboard.png")
    owner.close()


def test_tablet_lays_out_the_viewer_above_the_scores_and_pinches_to_zoom(browser, live_server, demo_study):
    base = live_server.url
    queue = _queue(demo_study, "rater1")
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    page = context.new_page()
    _log_in(page, base, "rater1")
    page.goto(f"{base}/studies/covid/read/")
    _wait_for_case(page, base, queue[0])
    viewer, panel = page.locator("#viewer").bounding_box(), page.locator("#panel").bounding_box()
    assert viewer["y"] + viewer["height"] <= panel["y"] + 1 and viewer["width"] > 800  # stacked, full width

    # A two-finger pinch, as real touch events through the DevTools protocol.
    cdp = context.new_cdp_session(page)
    cx, cy = viewer["x"] + viewer["width"] / 2, viewer["y"] + viewer["height"] / 2

    def touch(kind: str, spread: float) -> None:
        points = (
            []
            if kind == "touchEnd"
            else [
                {"x": cx - spread, "y": cy, "id": 1},
                {"x": cx + spread, "y": cy, "id": 2},
            ]
        )
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 40)
    for spread in (60, 90, 120):
        touch("touchMove", spread)
    touch("touchEnd", 0)
    assert float(_viewer(page)["zoom"]) > 2

    # Tap to score: the large targets work with a finger.
    for key, value in (("extent_right", 1), ("opacity_right", 1), ("extent_left", 2), ("opacity_left", 1)):
        page.tap(f'.item[data-item="{key}"] .level:has(input[value="{value}"])')
    page.tap("#submit")
    _wait_for_case(page, base, queue[1])
    queue[0].refresh_from_db()
    assert queue[0].current_rating.values == {
        "extent_right": 1,
        "opacity_right": 1,
        "extent_left": 2,
        "opacity_left": 1,
    }
    context.close()


def test_without_javascript_the_plain_form_still_scores_and_moves_on(browser, live_server, demo_study):
    base = live_server.url
    queue = _queue(demo_study, "rater1")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    _log_in(page, base, "rater1")
    page.goto(f"{base}/studies/covid/read/")
    page.wait_for_url(f"{base}/read/{queue[0].public_id}/")
    assert page.locator("#xray").is_visible() and not page.locator("#view").is_visible()

    page.click('.item[data-item="extent_right"] .level:has(input[value="2"])')
    page.click("#submit")  # half-filled: the browser's own check (required radios) keeps it here
    assert page.url == f"{base}/read/{queue[0].public_id}/"
    for key, value in (("opacity_right", 1), ("extent_left", 0), ("opacity_left", 0)):
        page.click(f'.item[data-item="{key}"] .level:has(input[value="{value}"])')
    page.click("#submit")
    page.wait_for_url(f"{base}/read/{queue[1].public_id}/")
    queue[0].refresh_from_db()
    assert queue[0].current_rating.values == {
        "extent_right": 2,
        "opacity_right": 1,
        "extent_left": 0,
        "opacity_left": 0,
    }
    context.close()


def test_pages_viewer_report_and_api_docs_work_under_the_content_security_policy(browser, live_server, demo_study):
    """No inline script or style anywhere: every page, the viewer, the report's figures and Swagger
    UI run with the site's policy, and Chromium reports no violation of it."""
    base = live_server.url
    for rater, extent_right in (("rater1", 1), ("rater2", 2), ("rater3", 4)):
        for assignment in _queue(demo_study, rater):
            if assignment.current_rating_id is None and not assignment.flag_reason:
                values = {**COHEN_VALUES, "extent_right": extent_right}
                rating_submit(assignment=assignment, values=values, reading_time_s=9.0)
    violations: list[str] = []

    def watch(page) -> None:
        page.on(
            "console",
            lambda m: (
                ("Content Security Policy" in m.text or "Permissions-Policy" in m.text) and violations.append(m.text)
            ),
        )
        page.on("pageerror", lambda exc: violations.append(str(exc)))

    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    page = owner.new_page()
    watch(page)
    _log_in(page, base, "alice")
    page.goto(f"{base}/studies/covid/")
    assert page.evaluate("getComputedStyle(document.querySelector('progress.progress')).height") == "10px"
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Lock").click()  # asked first (static/js/confirm.js); dismissed
    assert questions == ["Lock the study? Ratings can no longer change."] and page.url == f"{base}/studies/covid/"
    demo_study.refresh_from_db()
    assert demo_study.status == "open"
    page.goto(f"{base}/studies/covid/report/")
    page.get_by_role("button", name="Compute the report").click()
    # Attached, not visible: the figures are lazy images, below the fold of a long report until
    # scrolled to. Load them all, then each must decode (each its own SVG).
    page.wait_for_selector(".plots img", state="attached")
    sizes = page.evaluate(
        """Promise.all([...document.querySelectorAll('.plots img')].map((img) => {
            img.loading = 'eager';
            return img.decode().then(() => img.naturalWidth, () => 0);
        }))"""
    )
    assert sizes and all(width > 100 for width in sizes)  # the SVG figures decode as images
    page.goto(f"{base}/studies/covid/model/")
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock")
    assert "CXR severity API" in page.inner_text(".swagger-ui .info")
    owner.close()

    rater = browser.new_context(viewport={"width": 1280, "height": 800})
    page = rater.new_page()
    watch(page)
    _log_in(page, base, "rater1")
    page.goto(f"{base}/read/{_queue(demo_study, 'rater1')[0].public_id}/")
    _wait_for_case(page, base, _queue(demo_study, "rater1")[0])
    rater.close()
    assert violations == []
