import base64

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def num(value, digits: int = 3) -> str:
    """A statistic for display: fixed decimals, or an em dash when undefined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{int(digits)}f}"


@register.filter
def ci(entry) -> str:
    interval = (entry or {}).get("ci95") if isinstance(entry, dict) else entry
    if not interval or interval[0] is None:
        return ""
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def svg(markup: str | None, alt: str = ""):
    """A figure as an <img> of a data: URL. Matplotlib's SVG styles itself with style attributes and
    a <style> element, which the site's Content Security Policy refuses inline in a page; inside an
    image they are the image's own, and an image runs no script whatever its text."""
    if not markup:
        return ""
    data = base64.b64encode(markup.encode()).decode("ascii")
    return format_html('<img src="data:image/svg+xml;base64,{}" alt="{}">', data, alt)
