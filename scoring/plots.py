"""Report figures as SVG markup. Pure: arrays in, text out (matplotlib's Agg backend, no GUI)."""

import io
from itertools import combinations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        # text.parse_math off: a rater named "$$" is a label, not a formula that fails to parse.
        {"font.size": 9, "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False,
         "text.parse_math": False}
    )  # fmt: skip
    return plt


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    text = out.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog so it can be inlined in HTML


def _pairs(raters: list[str]) -> list[tuple[int, int]]:
    return list(combinations(range(len(raters)), 2))


def _grid(n: int):
    plt = _pyplot()
    cols = min(n, 3)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _pair_panels(matrix: np.ndarray, raters: list[str]):
    """A figure with one panel per pair of raters, and for each panel (axes, a, b, x, y): the two
    raters' scores on the cases both rated. (None, []) with fewer than two raters."""
    pairs = _pairs(raters)
    if not pairs:
        return None, []
    fig, axes = _grid(len(pairs))
    panels = []
    for ax, (a, b) in zip(axes, pairs, strict=False):  # the grid may have spare axes
        both = ~np.isnan(matrix[:, a]) & ~np.isnan(matrix[:, b])
        panels.append((ax, a, b, matrix[both, a], matrix[both, b]))
    return fig, panels


def bland_altman_svg(matrix: np.ndarray, raters: list[str], label: str) -> str | None:
    fig, panels = _pair_panels(matrix, raters)
    if fig is None:
        return None
    for ax, a, b, x, y in panels:
        mean, diff = (x + y) / 2, x - y
        ax.scatter(mean, diff, s=12, alpha=0.5, color="#1f5fbf", edgecolors="none")
        if len(diff) >= 2:
            md, sd = diff.mean(), diff.std(ddof=1)
            for value, style in ((md, "-"), (md - 1.96 * sd, "--"), (md + 1.96 * sd, "--")):
                ax.axhline(value, color="#b3261e", linestyle=style, linewidth=1)
        ax.set_title(f"{raters[a]} - {raters[b]} (n={len(diff)})")
        ax.set_xlabel(f"mean {label}")
        ax.set_ylabel("difference")
    return _svg(fig)


def pairwise_scatter_svg(matrix: np.ndarray, raters: list[str], label: str, domain: tuple[int, int]) -> str | None:
    fig, panels = _pair_panels(matrix, raters)
    if fig is None:
        return None
    for ax, a, b, x, y in panels:
        # Integer scores overlap: marker area shows how many cases share a point.
        points, counts = (
            np.unique(np.stack([x, y], axis=1), axis=0, return_counts=True) if len(x) else (np.empty((0, 2)), [])
        )
        ax.scatter(
            points[:, 0], points[:, 1], s=12 + 8 * np.asarray(counts), alpha=0.6, color="#1d7a3a", edgecolors="none"
        )
        ax.plot(domain, domain, color="#888", linewidth=1)
        ax.set_xlim(domain[0] - 0.5, domain[1] + 0.5)
        ax.set_ylim(domain[0] - 0.5, domain[1] + 0.5)
        ax.set_xlabel(raters[a])
        ax.set_ylabel(raters[b])
        ax.set_title(f"{label} (n={len(x)})")
    return _svg(fig)


def kappa_heatmap_svg(pairs: list[dict], raters: list[str], label: str) -> str | None:
    """Pairwise weighted kappa on its whole scale, -1 to 1, diverging at 0: a pair below chance is
    red, never the colour of a weak positive. The diagonal (a rater with themself) is left blank."""
    if len(raters) < 2:
        return None
    plt = _pyplot()
    n = len(raters)
    grid = np.full((n, n), np.nan)
    index = {name: i for i, name in enumerate(raters)}
    for pair in pairs:
        if pair["value"] is None:
            continue
        i, j = index[pair["raters"][0]], index[pair["raters"][1]]
        grid[i, j] = grid[j, i] = pair["value"]
    fig, ax = plt.subplots(figsize=(1.6 + 0.8 * n, 0.9 + 0.7 * n))
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#eeeeee")  # the diagonal and undefined pairs
    image = ax.imshow(np.ma.masked_invalid(grid), vmin=-1, vmax=1, cmap=cmap)
    ax.set_xticks(range(n), raters, rotation=45, ha="right")
    ax.set_yticks(range(n), raters)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            value = grid[i, j]
            text = "n/a" if np.isnan(value) else f"{value:.2f}"
            dark = not np.isnan(value) and abs(value) > 0.6
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black")
    ax.set_title(f"Weighted kappa, {label}")
    bar = fig.colorbar(image, ax=ax, shrink=0.8, ticks=[-1, -0.5, 0, 0.5, 1])
    bar.set_label("below 0: worse than chance")
    return _svg(fig)


def distribution_svg(matrix: np.ndarray, raters: list[str], label: str, domain: tuple[int, int]) -> str | None:
    if not raters:
        return None
    plt = _pyplot()
    levels = np.arange(domain[0], domain[1] + 1)
    width = 0.8 / len(raters)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(levels) * max(1, len(raters)) / 1.5), 2.8))
    for k, name in enumerate(raters):
        column = matrix[:, k]
        column = column[~np.isnan(column)]
        counts = [(column == level).sum() for level in levels]
        ax.bar(levels - 0.4 + width * (k + 0.5), counts, width=width, label=name)
    ax.set_xticks(levels)
    ax.set_xlabel(label)
    ax.set_ylabel("cases")
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig)
