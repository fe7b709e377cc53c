from django import template

from annotation.effort import duration_label

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """`value|duration`: 12.5 -> "12.5 s", 95 -> "1 min 35 s"; "—" when unknown."""
    return duration_label(seconds)
