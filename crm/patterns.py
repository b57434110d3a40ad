"""The risk patterns' matcher: extortion and abuse in review texts, as supervisors define them (RiskPattern).

Texts are compared normalised (core.text.normalize: full-width folded, lower-cased) and without white space,
punctuation or symbols, so "不 退 款" and "差*评" are "不退款" and "差评"; distances count what is left. A pattern is

- *phrase*: any of its terms appears;
- *proximity*: a first term and a near term within ``distance`` characters of each other (either order, or
  the near term after the first with ``ordered``), and, when then-terms are given, one of them within the
  distance after the near term — "不给我退钱 … 就 … 差评", "退款 … 否则 … 差评";
- *regex*: Python's ``re`` on the normalised text.

A match whose passage holds one of the pattern's except-terms does not count ("不退款就算了，差评" is a
complaint, not a threat).

Pure: takes definitions and texts, returns hits; crm.risk stores what they mean.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from core.text import normalize

PHRASE, PROXIMITY, REGEX = "phrase", "proximity", "regex"
# Every white space, punctuation and symbol character of the Basic Multilingual Plane, to be dropped.
_DROPPED = dict.fromkeys(
    code for code in range(0x10000) if unicodedata.category(chr(code))[0] in "PZS" or chr(code).isspace()
)


@dataclass(frozen=True)
class Definition:
    """What one pattern version matches."""

    pattern_id: int
    version: int
    name: str
    match: str
    flag: str
    terms: tuple[str, ...]
    near_terms: tuple[str, ...] = ()
    then_terms: tuple[str, ...] = ()
    except_terms: tuple[str, ...] = ()
    ordered: bool = False
    distance: int = 12
    weight: int = 5


@dataclass(frozen=True)
class Hit:
    pattern_id: int
    version: int
    name: str
    flag: str
    weight: int
    matched: str  # the normalised passage


def prepare(text: str) -> str:
    return normalize(text).translate(_DROPPED)


def lines(value: str) -> tuple[str, ...]:
    """A text field's terms, one per line, normalised like the texts they are looked for in."""
    return tuple(term for term in (prepare(line) for line in value.splitlines()) if term)


def check(match: str, terms: str, near_terms: str) -> dict[str, str]:
    """Problems with a definition, by field (empty: fine)."""
    problems: dict[str, str] = {}
    if not lines(terms):
        problems["terms"] = _("Give at least one term.")
    elif match == REGEX:
        try:
            re.compile("\n".join(terms.splitlines()).strip())
        except re.error as error:
            problems["terms"] = _("Not a valid regular expression: %(error)s.") % {"error": error}
    if match == PROXIMITY and not lines(near_terms):
        problems["near_terms"] = _("A proximity pattern needs near terms.")
    return problems


def _alternation(terms: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so that 不给我退 wins over 不给.
    return re.compile("|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)))


class Matcher:
    """Every active pattern compiled once; ``scan`` runs them all over one text."""

    def __init__(self, definitions: Iterable[Definition]) -> None:
        self.compiled: list[tuple[Definition, tuple[re.Pattern[str], ...]]] = []
        for definition in definitions:
            if definition.match == REGEX:
                expressions: tuple[re.Pattern[str], ...] = (re.compile("".join(definition.terms)),)
            else:
                groups = (definition.terms, definition.near_terms, definition.then_terms)
                expressions = tuple(_alternation(group) for group in groups if group)
            self.compiled.append((definition, expressions))

    def scan(self, text: str) -> list[Hit]:
        prepared = prepare(text)
        hits = []
        for definition, expressions in self.compiled:
            found = self._find(definition, expressions, prepared)
            if found is not None and not any(term in found for term in definition.except_terms):
                hits.append(Hit(definition.pattern_id, definition.version, definition.name, definition.flag,
                                definition.weight, found))  # fmt: skip
        return hits

    @staticmethod
    def _find(definition: Definition, expressions: Sequence[re.Pattern[str]], text: str) -> str | None:
        if definition.match == REGEX:
            found = expressions[0].search(text)
            return found.group(0) if found else None
        if definition.match == PHRASE:
            found = expressions[0].search(text)
            return found.group(0) if found else None
        first, near, *then = expressions
        reach = definition.distance
        for a in first.finditer(text):
            start = a.end() if definition.ordered else max(0, a.start() - reach - 20)
            for b in near.finditer(text, start, a.end() + reach + 20):
                gap = b.start() - a.end() if b.start() >= a.end() else a.start() - b.end()
                if gap > reach or (b.start() < a.end() and b.end() > a.start()):
                    continue
                if not then:
                    return text[min(a.start(), b.start()) : max(a.end(), b.end())]
                c = then[0].search(text, b.end(), b.end() + reach + 20)
                if c is not None and c.start() - b.end() <= reach:
                    return text[min(a.start(), b.start()) : c.end()]
        return None
