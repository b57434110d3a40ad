"""Why a merchant's service score is what it is: each component's figure and points, the marketplace
median of each, and the changes that would raise the score most.

Pure: it takes one day's stored figures (a ``MerchantScore``) and that day's medians, and computes
with ``merchants.scoring.points`` — the score's own formula — so what it says always adds up to the
stored score. A change is, for each component the shop has data for, reaching the marketplace median
when the shop is worse than it, otherwise one *step* better (0.1 star, one percentage point of
disputes, 12 hours of refund time, 30 seconds of chat answer time, 10 points of chats resolved),
never past the best figure; changes are ranked by the points they gain.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from merchants.scoring import (
    CHAT_RESOLUTION_POINTS,
    CHAT_RESPONSE_POINTS,
    DISPUTE_POINTS,
    DSR_POINTS,
    REFUND_POINTS,
    Figures,
    points,
    traffic_weight,
)

IMPROVEMENTS = 3


@dataclass(frozen=True)
class Definition:
    """A component of the score: what it measures, its most points, and which way is better."""

    code: str
    label: Promise
    max_points: int
    higher_is_better: bool
    step: Decimal
    best: Decimal
    places: Decimal  # the precision the figure is stored with


STARS, SHARE = Decimal("0.001"), Decimal("0.0001")
DEFINITIONS = (
    Definition("dsr_item", _("DSR: item as described"), DSR_POINTS, True, Decimal("0.1"), Decimal(5), STARS),
    Definition("dsr_service", _("DSR: service attitude"), DSR_POINTS, True, Decimal("0.1"), Decimal(5), STARS),
    Definition("dsr_logistics", _("DSR: logistics"), DSR_POINTS, True, Decimal("0.1"), Decimal(5), STARS),
    Definition("dispute_rate", _("Dispute rate"), DISPUTE_POINTS, False, Decimal("0.01"), Decimal(0),
               Decimal("0.00001")),
    Definition("refund_hours", _("Time to refund"), REFUND_POINTS, False, Decimal(12), Decimal(0), Decimal("0.01")),
    Definition("chat_response_seconds", _("Time to answer a chat"), CHAT_RESPONSE_POINTS, False, Decimal(30),
               Decimal(0), Decimal(1)),
    Definition("chat_resolution_rate", _("Chats resolved"), CHAT_RESOLUTION_POINTS, True, Decimal("0.1"), Decimal(1),
               SHARE),
)  # fmt: skip
MEDIAN_FIELDS = tuple(d.code for d in DEFINITIONS)


@dataclass(frozen=True)
class Component:
    """One component as the shop stands: its figure, points, and the marketplace median's."""

    definition: Definition
    value: Decimal | None
    points: Decimal
    median: Decimal | None
    median_points: Decimal | None
    has_data: bool

    @property
    def code(self) -> str:
        return self.definition.code

    @property
    def shown(self) -> str:
        return shown(self.code, self.value)

    @property
    def median_shown(self) -> str:
        return shown(self.code, self.median)


@dataclass(frozen=True)
class Improvement:
    """A change that would raise the score: a component from its figure to a target, and the points gained."""

    definition: Definition
    current: Decimal
    target: Decimal
    towards: Literal["median", "step"]
    gain: Decimal

    @property
    def change(self) -> str:
        """The change in words, without its gain."""
        values = {"component": self.definition.label, "current": shown(self.definition.code, self.current),
                  "target": shown(self.definition.code, self.target)}  # fmt: skip
        if self.towards == "median":
            return str(_("%(component)s from %(current)s to %(target)s (the marketplace median)") % values)
        return str(_("%(component)s from %(current)s to %(target)s") % values)

    @property
    def text(self) -> str:
        return str(_("%(change)s: +%(gain)s points") % {"change": self.change, "gain": self.gain})


@dataclass(frozen=True)
class Explanation:
    """A day's score taken apart."""

    day: Any
    service_score: Decimal
    traffic_weight: Decimal
    median_score: Decimal | None
    median_weight: Decimal | None
    components: list[Component]
    improvements: list[Improvement]

    @property
    def missing(self) -> bool:
        """Whether a component has no data of the shop's (it earns half its points)."""
        return any(not c.has_data for c in self.components)


def figures_of(score: Any) -> Figures:
    return Figures(*(getattr(score, name) for name in Figures._fields))


def explain(score: Any, medians: dict[str, Decimal | None]) -> Explanation:
    """Take a stored day's score (a MerchantScore) apart against that day's ``medians`` (selectors.day_medians)."""
    figures = figures_of(score)
    own = points(figures)
    median_score = medians.get("service_score")
    components = []
    for definition in DEFINITIONS:
        median = medians.get(definition.code)
        median_points = None if median is None else points(_with(figures, definition, median))[definition.code]
        value = getattr(figures, definition.code)
        components.append(Component(definition, value, own[definition.code], median, median_points,
                                    _has_data(figures, definition.code)))  # fmt: skip
    return Explanation(
        day=score.day,
        service_score=score.service_score,
        traffic_weight=score.traffic_weight,
        median_score=median_score,
        median_weight=None if median_score is None else traffic_weight(median_score),
        components=components,
        improvements=improvements(figures, components),
    )


def improvements(figures: Figures, components: list[Component]) -> list[Improvement]:
    """The changes that would raise the score most, largest gain first (at most IMPROVEMENTS)."""
    found = []
    for component in components:
        if not component.has_data or component.value is None:
            continue
        target, towards = _target(component)
        if target is None:
            continue
        gain = points(_with(figures, component.definition, target))[component.code] - component.points
        if gain > 0:
            found.append(Improvement(component.definition, component.value, target, towards, gain))
    found.sort(key=lambda i: -i.gain)  # stable: ties keep the components' order
    return found[:IMPROVEMENTS]


def _target(component: Component) -> tuple[Decimal | None, Literal["median", "step"]]:
    d, value, median = component.definition, component.value, component.median
    assert value is not None
    better = (lambda a, b: a > b) if d.higher_is_better else (lambda a, b: a < b)
    if median is not None and better(median, value):
        return median, "median"
    if value == d.best:
        return None, "step"
    stepped = value + d.step if d.higher_is_better else value - d.step
    return (min(stepped, d.best) if d.higher_is_better else max(stepped, d.best)), "step"


def _has_data(f: Figures, code: str) -> bool:
    """Whether the shop's own figure decides these points (no orders or no chats: the neutral middle)."""
    if code in ("dispute_rate", "refund_hours"):
        return f.orders > 0 and getattr(f, code) is not None
    return getattr(f, code) is not None


def _with(figures: Figures, definition: Definition, value: Decimal) -> Figures:
    stored = value.quantize(definition.places)
    changed: dict[str, Any] = {definition.code: int(stored) if definition.places == 1 else stored}
    return figures._replace(**changed)


def shown(code: str, value: Decimal | None) -> str:
    """A figure as the scorecard writes it."""
    if value is None:
        return "—"
    if code == "dispute_rate":
        return f"{value * 100:.2f}%"
    if code == "chat_resolution_rate":
        return f"{value * 100:.1f}%"
    if code == "refund_hours":
        return str(_("%(hours)s h") % {"hours": f"{value:.1f}"})
    if code == "chat_response_seconds":
        return str(_("%(seconds)s s") % {"seconds": value})
    return f"{value:.3f}"
