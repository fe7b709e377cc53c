from django import template

register = template.Library()


@register.filter
def get(mapping: dict, key: str):
    """`values|get:item.key`: a dict lookup by a variable key (None when absent)."""
    return mapping.get(key) if mapping else None


@register.filter
def same(a, b) -> bool:
    """Compare a posted string with a stored int: `value|same:level.value`."""
    return a is not None and str(a) == str(b)
