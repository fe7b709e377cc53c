"""The agreement report as CSV rows: one statistic a line, with its CI and reason when undefined."""

import io

from core.spreadsheet import safe_writer
from scoring.agreement.base import ICC_KEYS, LEVELS

COLUMNS = ["score", "statistic", "variant", "value", "ci95_low", "ci95_high", "n_cases", "note"]
# The variance components in reading order; SEM and MDC95 (Weir 2005) follow from them.
VARIANCE_PARTS = ("case", "reader", "residual", "sem", "mdc95")


def _ci(entry: dict | None) -> tuple[object, object]:
    ci = (entry or {}).get("ci95") or [None, None]
    return ci[0], ci[1]


def _case_count(score: dict, statistic: str) -> object:
    """The cases a statistic used (the summary's case_sets); the score's cases for an older report."""
    return (score.get("case_sets") or {}).get(statistic, {}).get("n_cases", score.get("n_cases"))


def _rows_for_score(key: str, score: dict):
    n = score.get("n_cases")
    alpha_n = _case_count(score, "krippendorff_alpha")
    for level, entry in score.get("krippendorff_alpha", {}).items():
        yield [key, "krippendorff_alpha", level, entry.get("value"), *_ci(entry), alpha_n, entry.get("reason", "")]
    for name, entry in score.get("icc", {}).items():
        note = "; ".join(filter(None, [entry.get("estimator"), entry.get("reason")]))
        yield [key, "icc", name, entry.get("value"), *_ci(entry), entry.get("n_cases", score.get("icc_n_cases")), note]
    fleiss = score.get("fleiss_kappa")
    fleiss_n = score.get("fleiss_kappa_n_cases", n)
    yield [key, "fleiss_kappa", "", fleiss, None, None, fleiss_n, score.get("undefined", {}).get("fleiss_kappa", "")]
    yield from _rows_for_new_coefficients(key, score)
    kappa = score.get("weighted_kappa", {})
    kappa_n = _case_count(score, "weighted_kappa")
    yield [key, "weighted_kappa", "mean", kappa.get("mean"), *_ci(kappa), kappa_n, kappa.get("reason", "")]
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
        for side, limit in (("lower", loa[0]), ("upper", loa[1])):
            if limit is not None:
                ci = entry.get(f"loa_{side}_ci95") or [None, None]
                note = entry.get("loa_ci_method", "")
                yield [key, f"bland_altman_loa_{side}", f"{entry['a']} - {entry['b']}", limit, *ci, entry["n"], note]
    yield from _bca_rows(key, score)
    yield from _intra_rater_rows(key, score.get("intra_rater"))


def _intra_rater_rows(key: str, intra: dict | None):
    """Intra-rater reliability from repeat reads: ICC(A,1) and alpha per rater and pooled (n pairs)."""
    if not isinstance(intra, dict):
        return
    if intra.get("pooled") is None:
        yield [key, "intra_rater", "", None, None, None, 0, intra.get("reason", "")]
        return
    for who, entry in [*intra.get("raters", {}).items(), ("pooled", intra["pooled"])]:
        for name in ("icc", "alpha"):
            stat = entry.get(name) or {}
            note = stat.get("reason") or (intra.get("icc_form", "") if name == "icc" else "interval")
            yield [key, f"intra_rater_{name}", who, stat.get("value"), *_ci(stat), entry.get("n_pairs"), note]


def _bca_rows(key: str, score: dict):
    """The BCa bootstrap intervals, next to the percentile ones in the rows above."""
    entries = [("krippendorff_alpha", level, e, "value") for level, e in score.get("krippendorff_alpha", {}).items()]
    entries.append(("weighted_kappa", "mean", score.get("weighted_kappa") or {}, "mean"))
    for name, variant, entry, value in entries:
        if entry.get("ci95_bca"):
            low, high = entry["ci95_bca"]
            yield [key, f"{name}_bca", variant, entry.get(value), low, high, score.get("n_cases"), "BCa bootstrap"]


def _rows_for_new_coefficients(key: str, score: dict):
    """Gwet's AC1/AC2, Lin's CCC, the variance components and the test for reader differences."""
    for name in ("gwet_ac1", "gwet_ac2"):
        entry = score.get(name)
        if isinstance(entry, dict):
            note = entry.get("reason") or (f"SE {entry['se']:.6g}" if entry.get("se") is not None else "")
            yield [key, name, entry.get("weights", ""), entry.get("value"), *_ci(entry), entry.get("n_cases"), note]
    ccc = score.get("lin_ccc")
    if isinstance(ccc, dict):
        method, note = ccc.get("method", ""), ccc.get("reason", "")
        yield [key, "lin_ccc", method, ccc.get("value"), *_ci(ccc), ccc.get("n_cases"), note]
    for cut in score.get("kappa_at_cutoffs") or []:
        variant, n = f">= {cut['cutoff']:g}", cut.get("n_cases")
        share = f"positive share {cut['positive_share']:.6g}" if cut.get("positive_share") is not None else ""
        yield [key, "cutoff_cohen_kappa_mean", variant, cut.get("cohen_kappa_mean"), None, None, n, share]
        fleiss = cut.get("fleiss_kappa") or {}
        yield [key, "cutoff_fleiss_kappa", variant, fleiss.get("value"), None, None, n, fleiss.get("reason", "")]
        ac1 = cut.get("gwet_ac1") or {}
        yield [key, "cutoff_gwet_ac1", variant, ac1.get("value"), *_ci(ac1), n, ac1.get("reason", "")]
    components = score.get("variance_components")
    if not isinstance(components, dict):
        return
    n, note = components.get("n_cases"), components.get("reason", components.get("estimator", ""))
    for part in VARIANCE_PARTS:
        yield [key, "variance_component", part, (components.get(part) or {}).get("value"), None, None, n, note]
    for name in ("reader_test", "reader_test_ordinal"):
        test = components.get(name)
        if isinstance(test, dict):
            statistic = test.get("statistic")
            note = (
                f"statistic {statistic:.6g}, df {test.get('df')}" if statistic is not None else test.get("reason", "")
            )
            yield [key, name, test.get("test", ""), test.get("p_value"), None, None, test.get("n_cases"), note]


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
        score["variance_components"] = _ordered(
            score.get("variance_components"), ("estimator", "n_cases", "n_ratings", *VARIANCE_PARTS, "reader_test")
        )
        scores[key] = score
    out["scores"] = scores
    if isinstance(data.get("model"), dict):
        out["model"] = {**data["model"], "scores": _ordered(data["model"].get("scores"), keys)}
    if isinstance(data.get("reading_conditions"), dict):
        conditions = _ordered(data["reading_conditions"], ("unaided", "aided", "comparison"))
        out["reading_conditions"] = {
            name: _comparison_in_order(c, keys)
            if name == "comparison"
            else {**c, "scores": _ordered(c.get("scores"), keys)}
            if isinstance(c, dict)
            else c
            for name, c in conditions.items()
        }
    return out


def _comparison_in_order(comparison: dict | None, keys: list[str]) -> dict | None:
    """The crossover comparison: totals in the rubric's order, reading time last, readers by name."""
    ordered = _ordered(comparison, [*keys, "reading_time_s"])
    if not isinstance(ordered, dict):
        return ordered
    return {
        key: {**entry, "readers": _ordered(entry.get("readers"), ())} if isinstance(entry, dict) else entry
        for key, entry in ordered.items()
    }


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
        intra = score.get("intra_rater")
        if isinstance(intra, dict) and isinstance(intra.get("raters"), dict):
            renamed = {name(n): stats for n, stats in intra["raters"].items()}
            score["intra_rater"] = {
                **intra,
                "raters": {label: renamed[label] for label in sorted(renamed, key=_label_order)},
            }
        kappa = score.get("weighted_kappa")
        if isinstance(kappa, dict) and isinstance(kappa.get("pairs"), list):
            pairs = [{**pair, "raters": [name(r) for r in pair["raters"]]} for pair in kappa["pairs"]]
            score["weighted_kappa"] = {**kappa, "pairs": pairs}
        scores[key] = score
    out["scores"] = scores
    comparison = (data.get("reading_conditions") or {}).get("comparison")
    if isinstance(comparison, dict):  # the crossover comparison's per-reader rows
        relabelled = {}
        for key, entry in comparison.items():
            if isinstance(entry, dict) and isinstance(entry.get("readers"), dict):
                renamed = {name(n): stats for n, stats in entry["readers"].items()}
                entry = {**entry, "readers": {label: renamed[label] for label in sorted(renamed, key=_label_order)}}
            relabelled[key] = entry
        out["reading_conditions"] = {**data["reading_conditions"], "comparison": relabelled}
    return out


def _label_order(label: str) -> tuple[int, str]:
    """Blind labels in reading order: "Rater B" before "Rater AA"."""
    return len(label), label
