"""Severity rubrics as data: what raters see, what the server validates, how totals are derived.

Each item lists every level with the definition shown to raters. Totals are derived on the server
from the item values, never taken from the client.
"""

import itertools
import math
from dataclasses import dataclass

from core.errors import InvalidInput


@dataclass(frozen=True)
class Level:
    value: int
    label: str
    definition: str


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    group: str  # how the reading page groups items: a lung, a zone row or a quadrant
    levels: tuple[Level, ...]
    # An item that is only scored when another item is above zero (RALE density needs extent > 0).
    requires_positive: str | None = None

    @property
    def minimum(self) -> int:
        return self.levels[0].value

    @property
    def maximum(self) -> int:
        return self.levels[-1].value

    def level(self, value: int) -> Level:
        return next(level for level in self.levels if level.value == value)


@dataclass(frozen=True)
class Total:
    """A derived score: the sum over `terms` of the product of each term's item values.

    Kept as data (not code) so the reading page can show the same live total the server stores.
    """

    key: str
    label: str
    minimum: int
    maximum: int
    terms: tuple[tuple[str, ...], ...]

    def compute(self, values: dict[str, int | None]) -> int:
        return sum(math.prod(values[key] or 0 for key in term) for term in self.terms)


@dataclass(frozen=True)
class Rubric:
    key: str
    name: str
    description: str
    items: tuple[Item, ...]
    totals: tuple[Total, ...]

    @property
    def item_keys(self) -> list[str]:
        return [item.key for item in self.items]

    @property
    def total_keys(self) -> list[str]:
        return [total.key for total in self.totals]

    def item(self, key: str) -> Item:
        return next(item for item in self.items if item.key == key)

    def groups(self) -> list[tuple[str, list[Item]]]:
        grouped: dict[str, list[Item]] = {}
        for item in self.items:
            grouped.setdefault(item.group, []).append(item)
        return list(grouped.items())


class RubricValueError(InvalidInput):
    """Item values that do not fit the rubric; the message says which item and why."""


def _sum(*keys: str) -> tuple[tuple[str, ...], ...]:
    return tuple((key,) for key in keys)


def _levels(*pairs: tuple[str, str], start: int = 0) -> tuple[Level, ...]:
    return tuple(Level(start + i, label, definition) for i, (label, definition) in enumerate(pairs))


_EXTENT = _levels(
    ("0", "No involvement."),
    ("1", "Less than 25% involvement by ground-glass opacity or consolidation."),
    ("2", "25-50% involvement by ground-glass opacity or consolidation."),
    ("3", "50-75% involvement by ground-glass opacity or consolidation."),
    ("4", "More than 75% involvement by ground-glass opacity or consolidation."),
)
_OPACITY_COHEN = _levels(
    ("0", "No opacity."),
    ("1", "Ground-glass opacity."),
    ("2", "Consolidation."),
    ("3", "White-out."),
)
_OPACITY_RALO = _levels(
    ("0", "No opacity."),
    ("1", "Ground-glass opacity."),
    ("2", "Consolidation."),
    ("3", "Mixed, with more than 50% consolidation."),
    ("4", "White-out."),
)


def _per_lung_rubric(key: str, name: str, description: str, opacity: tuple[Level, ...]) -> Rubric:
    items = (
        Item("extent_right", "Geographic extent, right lung", "Right lung", _EXTENT),
        Item("opacity_right", "Opacity, right lung", "Right lung", opacity),
        Item("extent_left", "Geographic extent, left lung", "Left lung", _EXTENT),
        Item("opacity_left", "Opacity, left lung", "Left lung", opacity),
    )
    top = opacity[-1].value
    totals = (
        Total("geographic_extent", "Geographic extent", 0, 8, _sum("extent_right", "extent_left")),
        Total("opacity", "Opacity", 0, 2 * top, _sum("opacity_right", "opacity_left")),
    )
    return Rubric(key, name, description, items, totals)


COHEN2020 = _per_lung_rubric(
    "cohen2020",
    "COVID-19 severity (Cohen et al. 2020)",
    "Per lung: geographic extent 0-4 and opacity 0-3 (totals 0-8 and 0-6).",
    _OPACITY_COHEN,
)
RALO = _per_lung_rubric(
    "ralo",
    "RALO",
    "Per lung: geographic extent 0-4 and opacity 0-4 (totals 0-8 and 0-8).",
    _OPACITY_RALO,
)

_BRIXIA_LEVELS = _levels(
    ("0", "No lung abnormalities."),
    ("1", "Interstitial infiltrates."),
    ("2", "Interstitial and alveolar infiltrates, interstitial predominance."),
    ("3", "Interstitial and alveolar infiltrates, alveolar predominance."),
)
_BRIXIA_ZONES = (
    ("zone_a", "Zone A, right upper", "Right lung"),
    ("zone_b", "Zone B, right middle", "Right lung"),
    ("zone_c", "Zone C, right lower", "Right lung"),
    ("zone_d", "Zone D, left upper", "Left lung"),
    ("zone_e", "Zone E, left middle", "Left lung"),
    ("zone_f", "Zone F, left lower", "Left lung"),
)
BRIXIA = Rubric(
    "brixia",
    "Brixia score",
    "Six zones (A-C right, D-F left), each 0-3; total 0-18.",
    tuple(Item(key, label, group, _BRIXIA_LEVELS) for key, label, group in _BRIXIA_ZONES),
    (Total("brixia", "Brixia score", 0, 18, _sum(*(key for key, _, _ in _BRIXIA_ZONES))),),
)

_RALE_EXTENT = _levels(
    ("0", "No consolidation."),
    ("1", "Less than 25% of the quadrant consolidated."),
    ("2", "25-50% of the quadrant consolidated."),
    ("3", "50-75% of the quadrant consolidated."),
    ("4", "More than 75% of the quadrant consolidated."),
)
_RALE_DENSITY = _levels(
    ("1", "Hazy."),
    ("2", "Moderate."),
    ("3", "Dense."),
    start=1,
)
_RALE_QUADRANTS = (
    ("ru", "right upper", "Right lung"),
    ("rl", "right lower", "Right lung"),
    ("lu", "left upper", "Left lung"),
    ("ll", "left lower", "Left lung"),
)


RALE = Rubric(
    "rale",
    "RALE",
    "Per quadrant: consolidation extent 0-4 and density 1-3 (density only when extent > 0); "
    "total = sum of extent x density, 0-48.",
    tuple(
        item
        for q, name, group in _RALE_QUADRANTS
        for item in (
            Item(f"{q}_extent", f"Extent, {name}", group, _RALE_EXTENT),
            Item(f"{q}_density", f"Density, {name}", group, _RALE_DENSITY, requires_positive=f"{q}_extent"),
        )
    ),
    (Total("rale", "RALE score", 0, 48, tuple((f"{q}_extent", f"{q}_density") for q, _, _ in _RALE_QUADRANTS)),),
)

RUBRICS: dict[str, Rubric] = {rubric.key: rubric for rubric in (COHEN2020, RALO, BRIXIA, RALE)}
RUBRIC_CHOICES = [(rubric.key, rubric.name) for rubric in RUBRICS.values()]


def rubric_get(key: str) -> Rubric:
    try:
        return RUBRICS[key]
    except KeyError:
        raise RubricValueError(f"unknown rubric {key!r}; choose one of {', '.join(RUBRICS)}") from None


def rubric_clean_values(rubric: Rubric, raw: dict[str, object]) -> dict[str, int | None]:
    """Validate a complete set of item values; nothing half-filled passes.

    Dependent items (RALE density) must be empty when their parent is 0 and present otherwise.
    """
    unknown = sorted(set(raw) - set(rubric.item_keys))
    if unknown:
        raise RubricValueError(f"unknown item(s) for rubric {rubric.key}: {', '.join(unknown)}")
    cleaned: dict[str, int | None] = {}
    for item in rubric.items:
        cleaned[item.key] = _clean_one(item, raw.get(item.key))
    for item in rubric.items:
        if item.requires_positive is None:
            continue
        parent = cleaned[item.requires_positive]
        if parent and cleaned[item.key] is None:
            raise RubricValueError(
                f"{item.label}: required when {rubric.item(item.requires_positive).label} is above 0"
            )
        if not parent and cleaned[item.key] is not None:
            raise RubricValueError(f"{item.label}: must be empty when {rubric.item(item.requires_positive).label} is 0")
    for item in rubric.items:
        if item.requires_positive is None and cleaned[item.key] is None:
            raise RubricValueError(f"{item.label}: a value is required")
    return cleaned


def _clean_one(item: Item, value: object) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise RubricValueError(f"{item.label}: {value!r} is not a whole number")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise RubricValueError(f"{item.label}: {value!r} is not a whole number") from None
    if not item.minimum <= number <= item.maximum:
        raise RubricValueError(f"{item.label}: {number} is outside {item.minimum}-{item.maximum}")
    return number


def rubric_totals(rubric: Rubric, values: dict[str, int | None]) -> dict[str, int]:
    return {total.key: total.compute(values) for total in rubric.totals}


def rubric_totals_spec(rubric: Rubric) -> list[dict]:
    """How totals are derived, for the reading page's live totals (JSON-serialisable)."""
    return [{"key": total.key, "terms": [list(term) for term in total.terms]} for total in rubric.totals]


def rubric_prelabel_values(rubric: Rubric, predicted: dict[str, float]) -> dict[str, int | None]:
    """A pre-labelling read's starting values: item values whose totals are the predicted totals,
    rounded and clamped to each total's range, spread over the total's terms as evenly as the items
    allow (the least sum of squared term values; ties: the earlier terms higher). Where the items
    cannot make a total exactly (RALE's 46 and 47), the nearest total they can, the lower on a tie.
    Deterministic; raises RubricValueError for a missing or non-finite predicted total."""
    values = {item.key: None if item.requires_positive else item.minimum for item in rubric.items}
    for total in rubric.totals:
        raw = predicted.get(total.key)
        if not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise RubricValueError(f"{total.label}: no predicted value to start from")
        target = min(max(round(raw), total.minimum), total.maximum)
        chosen = _even_terms([_term_values(rubric, term) for term in total.terms], target)
        for term, choice in zip(total.terms, chosen, strict=True):
            values.update(zip(term, choice, strict=True))
    return values


def _term_values(rubric: Rubric, term: tuple[str, ...]) -> dict[int, tuple[int | None, ...]]:
    """Each value a term (a product of items) can take, with the first item values that make it, the
    earlier items as low as they can be (RALE 4: extent 2 x density 2)."""
    options = [(*(level.value for level in rubric.item(key).levels),) for key in term]
    made: dict[int, tuple[int | None, ...]] = {}
    for combo in itertools.product(*options):
        chosen = dict(zip(term, combo, strict=True))
        for key in term:  # an item scored only when its parent is above 0 is empty otherwise
            parent = rubric.item(key).requires_positive
            if parent in chosen and not chosen[parent]:
                chosen[key] = None
        made.setdefault(math.prod(v or 0 for v in chosen.values()), tuple(chosen[key] for key in term))
    return made


def _even_terms(terms: list[dict[int, tuple[int | None, ...]]], target: int) -> list[tuple[int | None, ...]]:
    # best[s]: the most even choice of the terms so far that sums to s, as (sum of squares, the
    # negated term values: higher earlier terms win a tie, so 5 over two lungs is 3 + 2).
    best: dict[int, tuple[int, tuple[int, ...]]] = {0: (0, ())}
    for options in terms:
        grown: dict[int, tuple[int, tuple[int, ...]]] = {}
        for s, (cost, picks) in best.items():
            for value in options:
                candidate = (cost + value * value, (*picks, -value))
                if s + value not in grown or candidate < grown[s + value]:
                    grown[s + value] = candidate
        best = grown
    reached = min(best, key=lambda s: (abs(s - target), s))
    return [options[-value] for options, value in zip(terms, best[reached][1], strict=True)]
