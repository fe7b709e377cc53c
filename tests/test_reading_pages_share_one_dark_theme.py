"""One theme throughout a rater's reading: the reading room, their case list and the "All done" page
are all dark, with the same colours, so that the screen never flashes light between cases."""

import pytest

from tests.browser_support import (
    _log_in,
    _queue,
    _wait_for_case,
)

# The page's background, its text, the surface of its content (the panel or the card), the main button.
COLOURS = """() => {
  const style = (el) => el && getComputedStyle(el);
  const surface = document.querySelector('#panel, main .card');
  const button = document.querySelector('main :is(a.button, button).primary');
  return {
    scheme: style(document.documentElement).colorScheme,
    page: style(document.body).backgroundColor,
    text: style(document.body).color,
    surface: style(surface).backgroundColor,
    button: style(button).backgroundColor,
  };
}"""


def _dark(rgb: str) -> bool:
    red, green, blue = (int(part) for part in rgb.removeprefix("rgb(").removesuffix(")").split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 50


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_reading_room_case_list_and_done_page_share_the_dark_theme(
    browser,
    live_server,
    demo_study,
):
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    _log_in(page, base, "rater1")
    page.goto(f"{base}/studies/covid/read/")
    _wait_for_case(page, base, _queue(demo_study, "rater1")[0])
    reading = page.evaluate(COLOURS)
    assert reading["scheme"] == "dark" and _dark(reading["page"]) and _dark(reading["surface"])

    for url in ("/studies/covid/my-cases/", "/studies/covid/done/"):
        page.goto(f"{base}{url}")
        assert page.evaluate(COLOURS) == reading, url
    context.close()


def test_done_page_and_case_list_are_served_dark(make_study, client_for):
    study = make_study(n_cases=2)
    client = client_for("rater1")
    for url in (f"/studies/{study.slug}/done/", f"/studies/{study.slug}/my-cases/"):
        body = client.get(url).content.decode()
        assert '<html lang="en" class="dark">' in body and "css/reading.css" in body
