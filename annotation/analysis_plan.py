"""The pre-specified primary analysis of a study: one agreement metric on one rubric total, chosen
before any rating (Study.primary_metric, Study.primary_score) and reported first. Pure: no Django.

The names are those of the agreement report (scoring/agreement/summary.py PRIMARY_METRIC_ENTRIES
reads each from a score's summary; a test keeps the two lists equal). They live here because the
rating domain validates a study's settings and may not import the analysis (pyproject.toml layers).
Fleiss' kappa is not among them: the report computes it for the categorical items only, and a
primary metric applies to a total.
"""

from annotation.rubrics import Rubric

PRIMARY_METRICS = {
    "krippendorff_alpha": "Krippendorff's alpha (interval)",
    "krippendorff_alpha_ordinal": "Krippendorff's alpha (ordinal)",
    "icc_2_1": "ICC(2,1): one rater, raters random, absolute agreement",
    "icc_2_k": "ICC(2,k): the mean of k raters, raters random",
    "icc_1_1": "ICC(1,1): one rater, one-way",
    "icc_3_1": "ICC(3,1): one rater, raters fixed, consistency",
    "weighted_kappa": "Weighted kappa (quadratic), mean of rater pairs",
    "gwet_ac1": "Gwet's AC1",
    "gwet_ac2": "Gwet's AC2 (quadratic weights)",
    "lin_ccc": "Lin's CCC (the overall CCC for three or more raters)",
}
PRIMARY_METRIC_CHOICES = [("", "None pre-specified"), *PRIMARY_METRICS.items()]


def primary_analysis_problem(*, metric: str, score: str, rubric: Rubric) -> str | None:
    """Why this pre-specified analysis is refused, or None. Both or neither: a metric needs the total
    it applies to, and a total needs its metric."""
    if not metric and not score:
        return None
    if not metric:
        return f"a primary score needs its metric (--primary-metric): one of {', '.join(PRIMARY_METRICS)}"
    if metric not in PRIMARY_METRICS:
        return f"unknown primary metric {metric!r}; the metrics are {', '.join(PRIMARY_METRICS)}"
    if score not in rubric.total_keys:
        totals = ", ".join(rubric.total_keys)
        if not score:
            return f"a primary metric needs the total it applies to (--primary-score): one of {totals}"
        return f"unknown primary score {score!r} for rubric {rubric.key}; its totals are {totals}"
    return None
