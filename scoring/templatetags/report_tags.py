import base64
import re

from django import template
from django.utils.html import format_html

from annotation.analysis_plan import PRIMARY_METRICS
from annotation.rubrics import Rubric

register = template.Library()


@register.filter
def num(value, digits: int = 3) -> str:
    """A statistic for display: fixed decimals, or an em dash when undefined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{round(float(value), int(digits)) + 0.0:.{int(digits)}f}"  # + 0.0: never "-0.000"


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
def score_label(key: str, rubric: Rubric | None) -> str:
    """A total's or an item's label ("geographic_extent" -> "Geographic extent"), never a raw key."""
    if rubric is not None:
        for entry in (*rubric.totals, *rubric.items):
            if entry.key == key:
                return entry.label
    return str(key).replace("_", " ").capitalize()


_ICC = re.compile(r"ICC(\d)_(\w)")


@register.filter
def statistic_label(name: str) -> str:
    """Shrout & Fleiss's notation for an ICC ("ICC2_1" -> "ICC(2,1)"); other names as they are."""
    match = _ICC.fullmatch(str(name))
    return f"ICC({match[1]},{match[2]})" if match else STATISTIC_LABELS.get(str(name), str(name))


STATISTIC_LABELS = {
    "krippendorff_alpha": "Krippendorff's α",
    "icc": "ICC",
    "fleiss_kappa": "Fleiss' κ",
    "gwet_ac1_ac2": "Gwet's AC1 and AC2",
    "lin_ccc": "Lin's CCC",
    "variance_components": "Variance components",
    "weighted_kappa": "Weighted κ",
    "exact_agreement": "Exact and within-one agreement",
    "raters": "Per rater",
}


@register.filter
def primary_metric_label(name: str) -> str:
    """A pre-specified primary metric in words (annotation/analysis_plan.py)."""
    return PRIMARY_METRICS.get(name, str(name))


ESTIMATOR_LABELS = {
    "two_way_anova": "two-way ANOVA",
    "one_way_anova_unbalanced": "one-way ANOVA, unbalanced (k0 ratings per case)",
    "reml_two_way_random": "REML variance components",
}


@register.filter
def estimator_label(name: str | None) -> str:
    """How an ICC or a variance component was estimated, in words ("" when not stated)."""
    return ESTIMATOR_LABELS.get(name, name or "")


# Agreement statistics (α, κ, ICC) run from -1 to 1: a diverging scale, red below 0 (worse than
# chance: systematic disagreement), blue and darker towards 1. The page's legend names the bands.
AGREEMENT_BANDS = ((0.0, "agree-below"), (0.4, "agree-0"), (0.6, "agree-4"), (0.8, "agree-6"))


def agreement_band(value, digits: int = 3) -> str:
    """The band of a statistic as shown, rounded: -0.0004 shows as 0.000, and is not below chance."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "agree-undefined"
    value = round(value, int(digits))
    return next((name for upper, name in AGREEMENT_BANDS if value < upper), "agree-8")


@register.filter
def agreement(value, digits: int = 3):
    """An agreement statistic, coloured on its whole scale; a value below 0 also says so in words."""
    band = agreement_band(value, digits)
    if band == "agree-below":
        return format_html(
            '<span class="agree {}">{}<span class="sr-only"> (below chance)</span></span>', band, num(value, digits)
        )
    return format_html('<span class="agree {}">{}</span>', band, num(value, digits))


@register.filter
def svg(markup: str | None, alt: str = ""):
    """A figure as an <img> of a data: URL, for the standalone HTML report (one file; the report
    page links each figure instead: scoring.views.agreement.report_figure). Matplotlib's SVG styles
    itself with style attributes and a <style> element, which the site's Content Security Policy
    refuses inline in a page; inside an image they are the image's own, and an image runs no script
    whatever its text."""
    if not markup:
        return ""
    data = base64.b64encode(markup.encode()).decode("ascii")
    return format_html('<img src="data:image/svg+xml;base64,{}" alt="{}">', data, alt)
