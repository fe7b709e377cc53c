"""How many cases a reliability study needs for a chosen precision. Pure NumPy/SciPy, no Django.

ICC: Zou (2012), "Sample size formulas for estimating intraclass correlation coefficients with
precision and assurance", Statistics in Medicine 31:3972-3981. With Fisher's large-sample variance
of the one-way ICC, Var = 2 (1 - rho)^2 (1 + (k - 1) rho)^2 / (k (k - 1) (n - 1)), the 95% CI
half-width is z * sd. Zou asks for the smallest n with

    E[half-width] + z_assurance * SD[half-width] <= w,

SD[half-width] by the delta method (d/drho of (1 - rho)(1 + (k - 1) rho) is k - 2 - 2 (k - 1) rho).
Solving the quadratic in 1 / sqrt(n - 1) gives

    n = 1 + (z g + sqrt(z^2 g^2 + 4 z z_a g h w))^2 / (2 k (k - 1) w^2),
    g = (1 - rho)(1 + (k - 1) rho),  h = |k - 2 - 2 (k - 1) rho|.

Assurance 50% (z_a = 0) is the expected-width formula, Bonett's (2002) without his k = 2 correction.
The same formula is in Borg et al. (2022, PM&R) and their published R script, which the tests check
against. It is derived for ICC(1,1); for ICC(2,1) it is an approximation that holds when the raters
differ little systematically, and the plan says so.

Krippendorff's alpha has no closed form: we simulate studies with the expected alpha (a normal
true score per case plus independent normal rater error, cut into equally likely ordinal
categories for ordinal data), and take the half-width of the central 95% of alpha across
simulated studies as the half-width the study's own bootstrap interval will have. The smallest
n whose half-width is within w is found by bisection; everything is seeded.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

METRICS = ("icc", "alpha")
ALPHA_LEVELS = ("ordinal", "interval")
MAX_CASES = 10_000
_STUDIES_PER_CHUNK = 25
_CALIBRATION_CASES = 20_000


@dataclass(frozen=True)
class StudyPlan:
    metric: str
    cases: int
    method: str
    assumptions: tuple[str, ...]


def _check(*, expected: float, raters: int, half_width: float) -> None:
    if not 0 < expected < 1:
        raise ValueError("the expected value must lie between 0 and 1")
    if raters < 2:
        raise ValueError("a reliability study needs at least 2 raters per case")
    if not 0 < half_width < 1:
        raise ValueError("the half-width must lie between 0 and 1")


def zou_cases(*, expected: float, raters: int, half_width: float, z: float, z_assurance: float = 0.0) -> float:
    """Zou's (2012) n before rounding up (z: the CI's normal quantile; z_assurance: 0 for 50%)."""
    rho, k, w = expected, raters, half_width
    g = (1 - rho) * (1 + (k - 1) * rho)
    h = abs(k - 2 - 2 * (k - 1) * rho)
    root = z * g + math.sqrt((z * g) ** 2 + 4 * z * z_assurance * g * h * w)
    return 1 + root**2 / (2 * k * (k - 1) * w**2)


def icc_plan(
    *, expected: float, raters: int, half_width: float, confidence: float = 0.95, assurance: float = 0.5
) -> StudyPlan:
    """Cases for an ICC(1,1)/ICC(2,1) CI no wider than +-half_width with probability `assurance`."""
    _check(expected=expected, raters=raters, half_width=half_width)
    if not 0.5 <= assurance < 1:
        raise ValueError("the assurance must lie in [0.5, 1)")
    z = float(norm.ppf(0.5 + confidence / 2))
    n = zou_cases(expected=expected, raters=raters, half_width=half_width, z=z, z_assurance=float(norm.ppf(assurance)))
    cases = max(math.ceil(n - 1e-9), 3)
    assurance_text = (
        "the expected half-width (50% assurance)"
        if assurance == 0.5
        else f"the half-width with {assurance:.0%} assurance"
    )
    return StudyPlan(
        metric="icc",
        cases=cases,
        method="Zou (2012), Statistics in Medicine 31:3972-3981, Fisher's large-sample variance",
        assumptions=(
            f"expected ICC {expected:g} with {raters} raters scoring every case",
            f"{confidence:.0%} CI half-width at most {half_width:g}: {assurance_text}",
            f"formula n = {n:.2f}, rounded up",
            "one-way ICC(1,1); holds for ICC(2,1) when raters differ little systematically",
        ),
    )


# --- Krippendorff's alpha by simulation ----------------------------------------------------------


def alpha_complete(values: np.ndarray, *, level: str) -> np.ndarray:
    """Krippendorff's alpha of each study in `values` (studies x cases x raters, no missing values).

    Interval: alpha = 1 - (N - 1) k sum(SS within case) / ((k - 1) N SS total). Ordinal: the same
    on mid-ranks, since Krippendorff's ordinal distance between c and k is the squared difference of
    the categories' mid-ranks among all pairable values.
    """
    x = np.asarray(values, dtype=float)
    if level == "ordinal":
        x = _midranks(x.astype(int))
    elif level != "interval":
        raise ValueError(f"level must be one of {ALPHA_LEVELS}")
    _, n, k = x.shape
    total = n * k
    within = ((x - x.mean(axis=2, keepdims=True)) ** 2).sum(axis=(1, 2))
    overall = ((x - x.mean(axis=(1, 2), keepdims=True)) ** 2).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - (total - 1) * k * within / ((k - 1) * total * overall)


def _midranks(codes: np.ndarray) -> np.ndarray:
    studies = codes.shape[0]
    width = int(codes.max()) + 1
    offsets = (np.arange(studies) * width)[:, None, None]
    counts = np.bincount((codes + offsets).ravel(), minlength=studies * width).reshape(studies, width)
    below = np.cumsum(counts, axis=1) - counts
    ranks = below + counts / 2
    return np.take_along_axis(ranks, codes.reshape(studies, -1), axis=1).reshape(codes.shape)


def _simulate(*, seed: list[int], studies: int, cases: int, raters: int, noise: float, cuts) -> np.ndarray:
    # Drawn case by case, so a study of n + 1 cases is the study of n plus one more: the half-width
    # then changes smoothly with n and the bisection below is not led astray by fresh noise.
    truth = np.random.default_rng([*seed, 0]).standard_normal((cases, studies, 1))
    error = np.random.default_rng([*seed, 1]).standard_normal((cases, studies, raters))
    x = (truth + noise * error).transpose(1, 0, 2)
    return x if cuts is None else np.searchsorted(cuts, x)


def _cuts(noise: float, categories: int) -> np.ndarray:
    # equally likely categories under the marginal N(0, 1 + noise^2)
    return norm.ppf(np.arange(1, categories) / categories) * math.sqrt(1 + noise**2)


def _noise_for(*, expected: float, raters: int, level: str, categories: int, seed: int) -> float:
    """Rater error SD whose population alpha is `expected` (closed form for interval data)."""
    if level == "interval":
        return math.sqrt((1 - expected) / expected)
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((1, _CALIBRATION_CASES, 1))
    error = rng.standard_normal((1, _CALIBRATION_CASES, raters))
    lo, hi = -8.0, 5.0  # log of the noise SD; alpha falls as the noise grows
    for _ in range(40):
        mid = (lo + hi) / 2
        noise = math.exp(mid)
        codes = np.searchsorted(_cuts(noise, categories), truth + noise * error)
        if alpha_complete(codes, level="ordinal")[0] > expected:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2)


def alpha_half_width(
    *, cases: int, raters: int, noise: float, level: str, categories: int, simulations: int, seed: int
) -> float:
    """Half the central 95% range of alpha across simulated studies of `cases` cases."""
    cuts = _cuts(noise, categories) if level == "ordinal" else None
    alphas = np.concatenate(
        [
            alpha_complete(
                _simulate(
                    seed=[seed, start],
                    studies=min(_STUDIES_PER_CHUNK, simulations - start),
                    cases=cases,
                    raters=raters,
                    noise=noise,
                    cuts=cuts,
                ),
                level=level,
            )
            for start in range(0, simulations, _STUDIES_PER_CHUNK)  # bounded memory for large studies
        ]
    )
    lo, hi = np.nanpercentile(alphas, [2.5, 97.5])
    return float(hi - lo) / 2


def alpha_plan(
    *,
    expected: float,
    raters: int,
    half_width: float,
    level: str = "ordinal",
    categories: int = 4,
    simulations: int = 400,
    seed: int = 0,
    max_cases: int = MAX_CASES,
) -> StudyPlan:
    """Smallest number of cases whose simulated 95% range of alpha is within +-half_width; a plan
    needing more than max_cases is refused (the simulation's cost grows with the cases)."""
    _check(expected=expected, raters=raters, half_width=half_width)
    if level not in ALPHA_LEVELS:
        raise ValueError(f"level must be one of {ALPHA_LEVELS}")
    if level == "ordinal" and not 2 <= categories <= 100:
        raise ValueError("ordinal data need 2 to 100 categories")
    noise = _noise_for(expected=expected, raters=raters, level=level, categories=categories, seed=seed)

    def width(n: int) -> float:
        return alpha_half_width(
            cases=n, raters=raters, noise=noise, level=level, categories=categories, simulations=simulations, seed=seed
        )

    cases, achieved = _smallest_cases(width, half_width, max_cases=max_cases)
    data = f"ordinal data in {categories} equally likely categories" if level == "ordinal" else "interval data"
    return StudyPlan(
        metric="alpha",
        cases=cases,
        method=f"simulation: {simulations} studies per candidate size, seed {seed}",
        assumptions=(
            f"expected Krippendorff's alpha {expected:g} ({data}) with {raters} raters scoring every case",
            f"95% interval half-width at most {half_width:g} (simulated: {achieved:.3f})",
            "cases independent; rater error normal, equal for every rater, no systematic rater differences",
        ),
    )


def _smallest_cases(width, target: float, *, max_cases: int = MAX_CASES) -> tuple[int, float]:
    """Bisection on n for width(n) <= target, starting from the 1/sqrt(n) law at a pilot size."""
    pilot = 30
    guess = max(3, math.ceil(pilot * (width(pilot) / target) ** 2))
    if guess > 2 * max_cases:  # the 1/sqrt(n) law is close enough to refuse without simulating
        raise ValueError(f"more than {max_cases} cases would be needed")
    lo, hi = max(2, guess // 2), min(max_cases, guess * 2)
    while width(hi) > target:
        if hi >= max_cases:
            raise ValueError(f"more than {max_cases} cases would be needed")
        lo, hi = hi, min(max_cases, hi * 2)
    while lo >= 3 and width(lo) <= target:
        hi, lo = lo, max(2, lo // 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if width(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi, width(hi)


def study_plan(*, metric: str, **options) -> StudyPlan:
    if metric == "icc":
        return icc_plan(**options)
    if metric == "alpha":
        return alpha_plan(**options)
    raise ValueError(f"metric must be one of {METRICS}")
