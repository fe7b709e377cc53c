"""Scores changed and not saved are never dropped silently: P and N (and the page's links) ask in
the page, leaving the page (reload, close, another address) makes the browser ask. Scores that are
back to what is stored, or saved, are not asked about.
"""

import pytest

from annotation.models import Rating
from tests.browser_support import (
    _log_in,
    _queue,
    _wait_for_case,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_previous_next_links_and_leaving_ask_before_unsaved_scores_are_dropped(
    browser,
    live_server,
    demo_study,
):
    base = live_server.url
    queue = _queue(demo_study, "rater1")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, base, "rater1")
    page.goto(f"{base}/studies/covid/read/")
    _wait_for_case(page, base, queue[0])
    unsaved = page.locator("#unsaved")

    # Half-filled, N: asked in the page. Esc stays, with the scores as they were.
    page.keyboard.press("2")
    page.keyboard.press("n")
    assert unsaved.is_visible() and "not saved" in unsaved.inner_text()
    page.keyboard.press("Escape")
    assert not unsaved.is_visible() and page.url == f"{base}/read/{queue[0].public_id}/"
    assert page.is_checked('input[name="extent_right"][value="2"]')
    # N again, and leave: the next case, nothing stored.
    page.keyboard.press("n")
    page.get_by_role("button", name="Leave without saving").click()
    _wait_for_case(page, base, queue[1])
    assert not Rating.objects.filter(assignment=queue[0]).exists()

    # Nothing changed here: P goes at once.
    page.keyboard.press("p")
    _wait_for_case(page, base, queue[0])
    assert not unsaved.is_visible()

    # Saved: nothing to ask about; Save and next goes on.
    for key in "2132":
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[1])
    assert not unsaved.is_visible()

    # Back on the saved case: a changed score is asked about when following a link ("Your cases");
    # changed back to what is stored, it is not.
    page.keyboard.press("p")
    _wait_for_case(page, base, queue[0])
    page.click('.item[data-item="extent_right"] .level:has(input[value="3"])')
    page.click("#my-cases")
    assert unsaved.is_visible()
    page.get_by_role("button", name="Stay on this case").click()
    assert page.url == f"{base}/read/{queue[0].public_id}/"
    page.click('.item[data-item="extent_right"] .level:has(input[value="2"])')
    page.click("#my-cases")
    page.wait_for_url(f"{base}/studies/covid/my-cases/?at={queue[0].public_id}")

    # Leaving the page any other way: the browser's own question; staying keeps the scores.
    page.go_back()
    _wait_for_case(page, base, queue[0])
    page.click('.item[data-item="opacity_left"] .level:has(input[value="0"])')
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.evaluate("window.location.assign('/')")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.url == f"{base}/read/{queue[0].public_id}/"
    assert page.is_checked('input[name="opacity_left"][value="0"]')

    assert Rating.objects.filter(assignment=queue[0]).count() == 1  # only the one saved
    assert errors == []
    context.close()
