"""The reading room on the screens radiologists read on, in Chromium: on arrival every rubric button,
the totals and Save are on screen and not covered, the image keeps most of the screen and still
zooms, and the case header stays put when the panel scrolls. Portrait tablets stack the image above
the scores. The screenshots in docs/screenshots/ are taken here (reading-<width>x<height>.png).
"""

import io

import pytest
from PIL import Image as PILImage

from tests.browser_support import (
    SCREENSHOT_MAX_BYTES,
    SCREENSHOTS,
    _log_in,
    _queue,
    _viewer,
    _wait_for_case,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# What must be on screen on arrival, each with the element found at its centre: a level's button,
# the totals, Save. Something drawn over it (the totals bar over the fourth item) is a failure.
ON_SCREEN = """() => {
  const inside = (el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {
      name: el.id || el.closest('.item')?.dataset.item + '=' + el.querySelector('input')?.value,
      inViewport: r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
        && r.right <= innerWidth && r.bottom <= innerHeight,
      uncovered: Boolean(hit && (el.contains(hit) || hit.contains(el))),
    };
  };
  return [...document.querySelectorAll('#rating-form .level'), document.getElementById('totals'),
          document.getElementById('submit')].map(inside);
}"""

SCREENS = [
    # (width, height, a touch tablet, screenshot)
    (1920, 1080, False, "reading-1920x1080.png"),
    (1366, 768, False, "reading-1366x768.png"),
    (1024, 768, True, "reading-1024x768.png"),
    (1024, 768, False, None),  # a small laptop window: smaller buttons than the tablet's, same room
]


def _save_screenshot(page, name: str) -> None:
    """A palette PNG as in the README's screenshot; a large screen's X-ray needs fewer colours to
    stay under the size limit (the dark UI loses nothing visible)."""
    image = PILImage.open(io.BytesIO(page.screenshot())).convert("RGB")
    for colours in (256, 128, 64):
        out = io.BytesIO()
        palette = image.quantize(colors=colours, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE)
        palette.save(out, format="PNG", optimize=True)
        if out.tell() < SCREENSHOT_MAX_BYTES:
            break
    assert out.tell() < SCREENSHOT_MAX_BYTES, f"{name} is {out.tell()} bytes"
    (SCREENSHOTS / name).write_bytes(out.getvalue())


def _open_first_case(chromium, server, study, **context_options):
    context = chromium.new_context(**context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, server.url, "rater1")
    page.goto(f"{server.url}/studies/covid/read/")
    _wait_for_case(page, server.url, _queue(study, "rater1")[0])
    return context, page, errors


@pytest.mark.parametrize(("width", "height", "touch", "screenshot"), SCREENS)
def test_every_button_the_totals_and_save_are_on_screen_on_arrival(
    browser,
    live_server,
    demo_study,
    width,
    height,
    touch,
    screenshot,
):
    viewport = {"width": width, "height": height}
    context, page, errors = _open_first_case(
        browser, live_server, demo_study, viewport=viewport, has_touch=touch, is_mobile=touch
    )
    assert page.evaluate("matchMedia('(pointer: coarse)').matches") is touch
    found = page.evaluate(ON_SCREEN)
    assert len(found) == 18 + 2  # cohen2020: 5 + 4 levels per lung, the totals, Save
    assert [f["name"] for f in found if not f["inViewport"]] == []
    assert [f["name"] for f in found if not f["uncovered"]] == []
    assert page.evaluate("() => { scrollTo(0, 1e6); return scrollY; }") == 0  # the page itself never scrolls

    # The image keeps most of the screen and is still a viewer: zoom and pan.
    view = page.locator("#view").bounding_box()
    assert view["width"] >= 0.6 * width and view["height"] >= 0.8 * height
    page.keyboard.press("+")
    assert float(_viewer(page)["zoom"]) > 1.2
    page.keyboard.press("r")

    if screenshot:  # as on arrival: the first item has the focus, none of its levels does
        page.wait_for_timeout(300)  # the readout after the reset
        _save_screenshot(page, screenshot)

    # The case header stays put when the panel's body scrolls (the legend opened, at the bottom).
    title = page.locator(".case-title").bounding_box()
    page.click(".legend summary")
    page.evaluate("document.getElementById('panel-body').scrollTop = 1e6")
    assert page.locator(".case-title").bounding_box() == title
    assert errors == []
    context.close()


@pytest.mark.parametrize("size", [(768, 1024), (820, 1180)])
def test_portrait_tablets_stack_the_image_above_the_scores(
    browser,
    live_server,
    demo_study,
    size,
):
    width, height = size
    context, page, errors = _open_first_case(
        browser, live_server, demo_study, viewport={"width": width, "height": height}, has_touch=True, is_mobile=True
    )
    viewer, panel = page.locator("#viewer").bounding_box(), page.locator("#panel").bounding_box()
    assert viewer["y"] + viewer["height"] <= panel["y"] + 1  # stacked
    assert viewer["width"] >= width - 1 and viewer["height"] >= 0.45 * height  # the image keeps its room
    found = page.evaluate(ON_SCREEN)
    assert [f["name"] for f in found if not (f["inViewport"] and f["uncovered"])] == []
    # The two lungs side by side, as on the image: right lung on the left.
    right, left = page.locator(".group").nth(0).bounding_box(), page.locator(".group").nth(1).bounding_box()
    assert right["x"] < left["x"] and abs(right["y"] - left["y"]) < 1
    if width == 768:
        page.evaluate("document.activeElement.blur()")
        _save_screenshot(page, "reading-768x1024.png")
    assert errors == []
    context.close()
