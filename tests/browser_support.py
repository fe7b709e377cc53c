"""Helpers for the tests that drive the pages in Debian's Chromium (the `browser` and `demo_study`
fixtures are in tests/conftest.py): log in, wait for a case, read the viewer's state, take the
screenshots of the README and docs (docs/screenshots/)."""

import io
from pathlib import Path

from django.contrib.auth import get_user_model
from PIL import Image as PILImage

from annotation.models import Assignment
from tests.conftest import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SCREENSHOT_MAX_BYTES = 400_000


def _queue(study, username: str) -> list[Assignment]:
    rater = get_user_model().objects.get(username=username)
    return list(Assignment.objects.filter(study=study, rater=rater).order_by("order_key"))


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def _viewer(page) -> dict[str, str]:
    return page.evaluate("({...document.getElementById('viewer').dataset})")


def _wait_for_case(page, base: str, assignment: Assignment) -> None:
    page.wait_for_url(f"{base}/read/{assignment.public_id}/")
    page.wait_for_selector(f'#panel[data-case="{assignment.public_id}"]')
    page.wait_for_function(
        "id => document.getElementById('viewer').dataset.image?.endsWith(`/read/${id}/image.png`)"
        " && document.getElementById('viewer').dataset.state === 'ready'",
        arg=assignment.public_id,
    )


def _focused_item(page) -> str | None:
    """The rubric item that has the keyboard focus (the item itself until it has a value)."""
    return page.evaluate("document.activeElement.closest('#rating-form .item')?.dataset.item ?? null")


def _type(page, keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def _save_screenshot(page, name: str, **options) -> Path:
    """A palette PNG: the dark UI and a greyscale X-ray lose nothing visible at 256 colours."""
    image = PILImage.open(io.BytesIO(page.screenshot(**options))).convert("RGB")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    image.quantize(colors=256, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE).save(
        path, optimize=True
    )
    assert path.stat().st_size < SCREENSHOT_MAX_BYTES, f"{name} is {path.stat().st_size} bytes"
    return path
