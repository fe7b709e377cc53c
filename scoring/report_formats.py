"""The agreement report as CSV rows: one statistic a line, with its CI and reason when undefined."""

import io

from core.spreadsheet import safe_writer
from scoring.agreement.base import ICC_KEYS, LEVELS

COLUMNS = ["score", "statistic", "variant", "value", "ci95_low", "ci95_high", "n_cases", "note"]


def _ci(entry: dict | None) -> tuple[object, object]:
    ci = (entry or {}).get("ci95") or [None, None]
    return ci[0], ci[1]


def _rows_for_score(key: str, score: dict):
    n = score.get("n_cases")
    for level, entry in score.get("krippendorff_alpha", {}).items():
        yield [key, "krippendorff_alpha", level, entry.get("value"), *_ci(entry), n, entry.get("reason", "")]
    for name, entry in score.get("icc", {}).items():
        yield [key, "icc", name, entry.get("value"), *_ci(entry), score.get("icc_n_cases", ""), entry.get("reason", "")]
    fleiss = score.get("fleiss_kappa")
    yield [key, "fleiss_kappa", "", fleiss, None, None, n, score.get("undefined", {}).get("fleiss_kappa", "")]
    kappa = score.get("weighted_kappa", {})
    yield [key, "weighted_kappa", "mean", kappa.get("mean"), *_ci(kappa), n, kappa.get("reason", "")]
    for pair in kappa.get("pairs", []):
        yield [
            key,
            "weighted_kappa",
            " vs ".join(pair["raters"]),
            pair.get("value"),
            None,
            None,
            pair.get("n", ""),
            pair.get("reason", ""),
        ]
    for name in ("exact_agreement", "within_one"):
        yield [key, name, "", score.get(name), None, None, n, score.get("undefined", {}).get(name, "")]
    for rater, stats in score.get("raters", {}).items():
        for stat in ("mean", "bias_vs_consensus", "mae_vs_consensus"):
            yield [key, f"rater_{stat}", rater, stats.get(stat), None, None, stats.get("n"), ""]
    for entry in score.get("bland_altman", []):
        loa = entry.get("loa") or [None, None]
        yield [
            key,
            "bland_altman_mean_diff",
            f"{entry['a']} - {entry['b']}",
            entry.get("mean_diff"),
            loa[0],
            loa[1],
            entry.get("n", ""),
            "limits of agreement in the CI columns",
        ]


def report_csv(data: dict) -> str:
    out = io.StringIO()
    writer = safe_writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key, score in data["scores"].items():
        for row in _rows_for_score(key, score):
            writer.writerow(
                ["" if value is None else (f"{value:.6g}" if isinstance(value, float) else value) for value in row]
            )
    return out.getvalue()


FIGURE_TITLES = {
    "bland_altman": "Bland-Altman, each pair of raters",
    "scatter": "Pairwise scatter of totals",
    "kappa": "Weighted kappa between raters",
    "distribution": "Score distribution per rater",
}


def figures_by_total(plots: dict[str, str], *, linked: bool = False) -> dict[str, list[tuple[str, str]]]:
    """Per total, (title, SVG markup) of its figures in a fixed order; with linked, (title, the
    figure's name) for a page that links each figure as its own image."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, title in FIGURE_TITLES.items():
        for key, markup in plots.items():
            total, _, figure = key.partition(":")
            if figure == name:
                out.setdefault(total, []).append((title, figure if linked else markup))
    return out


def _ordered(mapping: dict | None, order) -> dict | None:
    """The mapping with the keys of `order` first, in that order, then any others sorted."""
    if not isinstance(mapping, dict):
        return mapping
    known = [key for key in order if key in mapping]
    return {key: mapping[key] for key in [*known, *sorted(set(mapping) - set(known))]}


def report_in_rubric_order(data: dict | None, *, keys: list[str]) -> dict | None:
    """A stored report with its dictionaries in reading order: scores as the rubric lists them
    (totals, then items), alpha levels and ICCs in their usual order, raters by name. PostgreSQL's
    jsonb keeps no key order, so a report read back from it would list them by key length."""
    if not data:
        return data
    out = dict(data)
    scores = {}
    for key, score in (_ordered(data.get("scores"), keys) or {}).items():
        score = dict(score)
        score["krippendorff_alpha"] = _ordered(score.get("krippendorff_alpha"), LEVELS)
        score["icc"] = _ordered(score.get("icc"), ICC_KEYS)
        score["raters"] = _ordered(score.get("raters"), ())
        scores[key] = score
    out["scores"] = scores
    if isinstance(data.get("model"), dict):
        out["model"] = {**data["model"], "scores": _ordered(data["model"].get("scores"), keys)}
    if isinstance(data.get("reading_conditions"), dict):
        conditions = _ordered(data["reading_conditions"], ("unaided", "aided"))
        out["reading_conditions"] = {
            name: {**c, "scores": _ordered(c.get("scores"), keys)} if isinstance(c, dict) else c
            for name, c in conditions.items()
        }
    return out


def report_with_rater_labels(data: dict | None, *, labels: dict[str, str]) -> dict | None:
    """A stored report with each username replaced by its blind label ("Rater A") wherever the
    report names raters (per-rater table, Bland-Altman pairs, kappa pairs), for a blind adjudicator.
    A name without a label (cannot happen for a study's own raters) becomes "Rater ?"."""
    if not data:
        return data

    def name(username: str) -> str:
        return labels.get(username, "Rater ?")

    out = dict(data)
    scores = {}
    for key, score in (data.get("scores") or {}).items():
        score = dict(score)
        if isinstance(score.get("raters"), dict):
            renamed = {name(n): stats for n, stats in score["raters"].items()}
            score["raters"] = {label: renamed[label] for label in sorted(renamed, key=lambda x: (len(x), x))}
        if isinstance(score.get("bland_altman"), list):
            score["bland_altman"] = [{**ba, "a": name(ba["a"]), "b": name(ba["b"])} for ba in score["bland_altman"]]
        kappa = score.get("weighted_kappa")
        if isinstance(kappa, dict) and isinstance(kappa.get("pairs"), list):
            pairs = [{**pair, "raters": [name(r) for r in pair["raters"]]} for pair in kappa["pairs"]]
            score["weighted_kappa"] = {**kappa, "pairs": pairs}
        scores[key] = score
    out["scores"] = scores
    return out
