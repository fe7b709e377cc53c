"""No level of any rubric item looks chosen before the rater chooses it (an anchoring risk): on
arrival the first item has the focus as a whole, so its "0" looks exactly like every other
unchosen button, no definition is shown, the totals show a dash. The keyboard still scores from
there: digits, arrows and Tab move item by item without ever resting on a level nobody chose.
"""

import pytest

from tests.browser_support import (
    _focused_item,
    _log_in,
    _queue,
    _wait_for_case,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Everything that could make one button look different from another.
LOOKS = """(key) => [...document.querySelectorAll(`.item[data-item="${key}"] .level`)].map((level) => {
  const style = getComputedStyle(level.querySelector('.level-value'));
  return ['backgroundColor', 'borderColor', 'color', 'outlineStyle', 'outlineWidth', 'outlineColor',
          'boxShadow', 'fontStyle', 'fontWeight', 'textDecorationLine', 'opacity']
    .map((name) => style[name]).join(' | ')
    + (level.querySelector('input').matches(':focus, :focus-visible, :checked') ? ' | active' : '');
})"""
DEFINITIONS = """() => [...document.querySelectorAll('.item-def')].map(
  (line) => [line.textContent.trim(), getComputedStyle(line).fontStyle].join(' | '))"""


def test_no_level_looks_chosen_on_arrival_and_the_keyboard_still_scores(
    browser,
    live_server,
    demo_study,
):
    base = live_server.url
    queue = _queue(demo_study, "rater1")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    _log_in(page, base, "rater1")
    page.keyboard.press("Tab")  # a keyboard user: focus rings would show (:focus-visible) if any were drawn
    page.goto(f"{base}/studies/covid/read/")
    _wait_for_case(page, base, queue[0])

    # The first item has the focus, as a whole: digits go there; none of its levels is focused.
    assert _focused_item(page) == "extent_right"
    assert page.evaluate("document.activeElement.tagName") == "FIELDSET"
    assert page.locator("#rating-form input:checked").count() == 0
    # The first item's buttons look exactly like the same buttons of the left lung's item (same scale,
    # no focus), and its "0" like its "1".
    first, other = page.evaluate(LOOKS, "extent_right"), page.evaluate(LOOKS, "extent_left")
    assert first == other and len(set(first)) == 1
    assert page.evaluate(LOOKS, "opacity_right") == page.evaluate(LOOKS, "opacity_left")
    assert page.evaluate(DEFINITIONS) == [" | normal"] * 4  # no definition shown, nothing in italics
    assert page.locator("output[data-total]").all_inner_texts() == ["–", "–"]

    # The keyboard: a digit scores the focused item, and the next item takes the focus as a whole.
    page.keyboard.press("2")
    assert page.is_checked('input[name="extent_right"][value="2"]')
    assert _focused_item(page) == "opacity_right" and page.evaluate("document.activeElement.tagName") == "FIELDSET"
    assert page.evaluate(LOOKS, "opacity_right") == page.evaluate(LOOKS, "opacity_left")
    assert page.evaluate(LOOKS, "extent_right") != page.evaluate(LOOKS, "extent_left")  # the choice shows
    assert page.inner_text('.item[data-item="extent_right"] .item-def').startswith("2 · 25-50% involvement")
    assert page.locator("output[data-total]").all_inner_texts() == ["2…", "–"]

    # An arrow enters the focused item's scale at its lowest level; Tab moves to the next item,
    # not onto one of its levels.
    page.keyboard.press("ArrowRight")
    assert page.is_checked('input[name="opacity_right"][value="0"]')
    page.keyboard.press("ArrowRight")
    assert page.is_checked('input[name="opacity_right"][value="1"]')
    page.keyboard.press("Tab")
    assert _focused_item(page) == "extent_left" and page.evaluate("document.activeElement.tagName") == "FIELDSET"
    page.keyboard.press("ArrowLeft")  # from the other end: the highest level
    assert page.is_checked('input[name="extent_left"][value="4"]')
    page.keyboard.press("ArrowDown")
    page.keyboard.press("0")
    assert _focused_item(page) is None and page.evaluate("document.activeElement.id") == "submit"
    page.keyboard.press("Enter")
    _wait_for_case(page, base, queue[1])
    queue[0].refresh_from_db()
    assert queue[0].current_rating.values == {
        "extent_right": 2,
        "opacity_right": 1,
        "extent_left": 4,
        "opacity_left": 0,
    }

    # The next case starts afresh: again nothing looks chosen.
    assert page.locator("#rating-form input:checked").count() == 0
    assert page.evaluate(LOOKS, "extent_right") == page.evaluate(LOOKS, "extent_left")
    context.close()
