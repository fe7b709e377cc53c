from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current page's query string with some parameters changed (a pager link keeps the
    search, filter and sort)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


@register.filter
def spread_over(value, threshold) -> bool:
    return value is not None and value >= threshold
