"""The rule engine: every active rule against a segment in one Aho-Corasick pass over normalised text.

Matching runs on the raw text, normalised (qa.normalising: full-width to half-width, lower case, white
space collapsed, and dropped next to Chinese characters), never on word segmentation: a keyword that is
in the text is found, always. Offsets reported are offsets into the *raw* segment text.

Units. Proximity ("A within N of B") counts **tokens**: a Chinese character is one token, a Latin
word or a number is one token — the same unit as the search index's positions. N is the largest
number of tokens allowed *between* the two matches (0: adjacent; overlapping matches count as 0).

Latin terms match whole words only ("agent" does not match inside "agents" or "reagent"); Chinese
terms match anywhere (退款 inside 我要申请退款), because Chinese has no word boundaries to respect.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ahocorasick
from django.utils.translation import gettext as _

from core.text import PII_KINDS, pii_spans
from qa.normalising import TOKEN_RE, Normalised, normalise, normalise_term, token_index, whole_word


@dataclass(frozen=True)
class RuleSpec:
    """What the engine needs of a rule (a Rule or a RuleVersion, or a draft being backtested)."""

    key: int  # the caller's id for it (rule id)
    kind: str
    speaker: str = "any"
    terms: Sequence[str] = ()
    near_terms: Sequence[str] = ()
    distance: int | None = None
    pattern: str = ""
    # proximity: "segment" (both in one turn) or "call" (in the turns of one speaker, across the call).
    scope: str = "segment"
    # A match is not one when a negation ends at most ``negation_window`` tokens before it (没法保证 退款).
    negations: Sequence[str] = ()
    negation_window: int | None = None
    # pii: which personal numbers count (core.text.PII_KINDS).
    pii_kinds: Sequence[str] = PII_KINDS


@dataclass(frozen=True)
class Hit:
    """One match: the rule, which segment (index in the list given), and the raw span. Segment None: absence."""

    key: int
    segment: int | None
    start: int
    end: int
    text: str


@dataclass
class _Compiled:
    automaton: ahocorasick.Automaton | None
    # term -> [(rule index, role)], role "a" (terms) or "b" (near terms)
    term_roles: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    regexes: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    pii: list[int] = field(default_factory=list)
    required: list[int] = field(default_factory=list)
    negated: set[int] = field(default_factory=set)  # rules with negation terms


class RuleSetError(ValueError):
    """A rule that cannot be compiled (an empty term list, a bad regular expression ...), naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_spec(spec: RuleSpec) -> None:
    """Raise RuleSetError naming what is wrong with a rule's definition."""
    kind = spec.kind
    if kind in ("keyword", "phrase", "required", "proximity") and not [t for t in spec.terms if normalise_term(t)]:
        raise RuleSetError("terms", _("At least one non-empty term is needed."))
    if kind == "proximity":
        if not [t for t in spec.near_terms if normalise_term(t)]:
            raise RuleSetError("near_terms", _("A proximity rule needs the terms to look for nearby."))
        if spec.distance is None:
            raise RuleSetError("distance", _("A proximity rule needs a distance."))
    if kind == "regex":
        if not spec.pattern:
            raise RuleSetError("pattern", _("A regular expression rule needs a pattern."))
        try:
            re.compile(spec.pattern)
        except re.error as error:
            raise RuleSetError("pattern", _("Not a valid regular expression: %(error)s") % {"error": error}) from None
    if spec.scope not in ("segment", "call"):
        raise RuleSetError("scope", _("The scope is one turn or the whole call."))
    if spec.scope == "call" and kind != "proximity":
        raise RuleSetError("scope", _("Only a proximity rule can span the turns of a call."))
    if [t for t in spec.negations if normalise_term(t)]:
        if kind == "required":
            raise RuleSetError("negations", _("A required phrase cannot have negation terms."))
        if spec.negation_window is None:
            raise RuleSetError("negation_window", _("Negation terms need a window (tokens before the match)."))
    if kind == "pii":
        if not spec.pii_kinds:
            raise RuleSetError("pii_kinds", _("Choose at least one kind of personal number."))
        unknown = sorted(set(spec.pii_kinds) - set(PII_KINDS))
        if unknown:
            raise RuleSetError("pii_kinds", _("Unknown kind of number: %(kinds)s") % {"kinds": ", ".join(unknown)})


class RuleSet:
    """Compiled rules: ``match(segments)`` returns every hit of every rule in one pass per segment."""

    def __init__(self, specs: Iterable[RuleSpec]) -> None:
        self.specs = list(specs)
        compiled = _Compiled(automaton=None)
        automaton = ahocorasick.Automaton()
        for index, spec in enumerate(self.specs):
            validate_spec(spec)
            if spec.kind == "regex":
                compiled.regexes.append((index, re.compile(spec.pattern, re.IGNORECASE)))
            elif spec.kind == "pii":
                compiled.pii.append(index)
            elif spec.kind == "required":
                compiled.required.append(index)
            roles = [] if spec.kind in ("regex", "pii") else [("a", spec.terms)]
            if spec.kind == "proximity":
                roles.append(("b", spec.near_terms))
            if spec.kind != "required" and spec.negations:
                roles.append(("n", spec.negations))
                compiled.negated.add(index)
            for role, terms in roles:
                for term in terms:
                    normal = normalise_term(term)
                    if normal:
                        compiled.term_roles.setdefault(normal, []).append((index, role))
        for term in compiled.term_roles:
            automaton.add_word(term, term)
        if compiled.term_roles:
            automaton.make_automaton()
            compiled.automaton = automaton
        self._compiled = compiled

    def match(self, segments: Sequence[tuple[str, str]]) -> list[Hit]:
        """Hits in ``segments``, a list of (speaker, raw text). Required rules report absence once."""
        compiled = self._compiled
        hits: list[Hit] = []
        required_found: set[int] = set()
        required_spoke: set[int] = set()
        call = _CallTurns(segments)
        for seg_index, (speaker, raw) in enumerate(segments):
            norm = normalise(raw)
            text = norm.text
            turn = _Turn(seg_index, raw, norm)
            # rule index -> role -> [(start, end)] in normalised offsets
            found: dict[int, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
            if compiled.automaton is not None and text:
                for end_index, term in compiled.automaton.iter(text):
                    start = end_index - len(term) + 1
                    if not whole_word(text, start, end_index + 1, term):
                        continue
                    for rule_index, role in compiled.term_roles[term]:
                        if _in_scope(self.specs[rule_index].speaker, speaker):
                            found[rule_index][role].append((start, end_index + 1))
            for rule_index, roles in found.items():
                spec = self.specs[rule_index]
                if "n" in roles:
                    turn.negations[rule_index] = roles["n"]
                if spec.kind == "required":
                    required_found.add(rule_index)
                    continue
                if spec.kind == "proximity" and spec.scope == "call":
                    call.add(rule_index, speaker, turn, roles.get("a", []), roles.get("b", []))
                    continue
                if spec.kind == "proximity":
                    a_spans, b_spans = roles.get("a", []), roles.get("b", [])
                    # Token counts only when both sides are there (most segments have one side at most).
                    pairs = _near(turn.tokens, a_spans, b_spans, spec.distance or 0) if a_spans and b_spans else []
                    spans = [
                        (min(a[0], b[0]), max(a[1], b[1]))
                        for a, b in pairs
                        if not (turn.negated(spec, rule_index, a[0]) or turn.negated(spec, rule_index, b[0]))
                    ]
                elif rule_index in turn.negations:
                    spans = [span for span in roles.get("a", []) if not turn.negated(spec, rule_index, span[0])]
                else:
                    spans = roles.get("a", [])
                for start, end in _dedupe(spans):
                    hits.append(self._hit(spec, seg_index, raw, norm, start, end))
            for rule_index, regex in compiled.regexes:
                spec = self.specs[rule_index]
                if _in_scope(spec.speaker, speaker):
                    for m in regex.finditer(text):
                        if m.end() > m.start() and not turn.negated(spec, rule_index, m.start()):
                            hits.append(self._hit(spec, seg_index, raw, norm, m.start(), m.end()))
            for rule_index in compiled.pii:
                spec = self.specs[rule_index]
                if _in_scope(spec.speaker, speaker):
                    for span in pii_spans(text, spec.pii_kinds):
                        if not turn.negated(spec, rule_index, span.start):
                            hits.append(self._hit(spec, seg_index, raw, norm, span.start, span.end))
            for rule_index in compiled.required:
                if _in_scope(self.specs[rule_index].speaker, speaker):
                    required_spoke.add(rule_index)
        for rule_index, turn, start, end in call.pairs(self.specs):
            hits.append(self._hit(self.specs[rule_index], turn.index, turn.raw, turn.norm, start, end))
        # A required phrase is missing only where its speaker said something at all.
        for rule_index in sorted(required_spoke - required_found):
            hits.append(Hit(self.specs[rule_index].key, None, 0, 0, ""))
        return hits

    @staticmethod
    def _hit(spec: RuleSpec, seg_index: int, raw: str, norm: Normalised, start: int, end: int) -> Hit:
        raw_start, raw_end = norm.raw_span(start, end)
        return Hit(spec.key, seg_index, raw_start, raw_end, raw[raw_start:raw_end])


def _in_scope(scope: str, speaker: str) -> bool:
    return scope == "any" or scope == speaker


def _dedupe(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop spans inside another one of the same rule (退款 inside 全额退款 when both are terms)."""
    result: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda s: (s[0], -s[1])):
        if result and start >= result[-1][0] and end <= result[-1][1]:
            continue
        result.append((start, end))
    return result


def _near(
    tokens: list[int], a_spans: list[tuple[int, int]], b_spans: list[tuple[int, int]], distance: int
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Each A span with its nearest B span at most ``distance`` tokens away (``tokens``: ``token_index``)."""
    if not a_spans or not b_spans:
        return []
    pairs = []
    for a in a_spans:
        best = None
        for b in b_spans:
            first, second = (a, b) if a[0] <= b[0] else (b, a)
            gap = max(0, tokens[second[0]] - tokens[first[1]])
            if gap <= distance and (best is None or gap < best[0]):
                best = (gap, b)
        if best is not None:
            pairs.append((a, best[1]))
    return pairs


class _Turn:
    """One segment as the engine reads it: its normalised text, token counts (when asked), negations found."""

    def __init__(self, index: int, raw: str, norm: Normalised) -> None:
        self.index = index
        self.raw = raw
        self.norm = norm
        self.negations: dict[int, list[tuple[int, int]]] = {}
        self._tokens: list[int] | None = None

    @property
    def tokens(self) -> list[int]:
        if self._tokens is None:
            self._tokens = token_index(self.norm.text)
        return self._tokens

    def negated(self, spec: RuleSpec, rule_index: int, start: int) -> bool:
        """Whether a negation of the rule begins before ``start`` and ends at most its window of tokens before it."""
        found = self.negations.get(rule_index)
        if not found:
            return False
        window = spec.negation_window or 0
        return any(n_start < start and self.tokens[start] - self.tokens[min(n_end, start)] <= window
                   for n_start, n_end in found)  # fmt: skip


class _CallTurns:
    """Proximity across the turns of one speaker: A and B collected per rule and speaker, paired at the end.

    Distance is counted in the speaker's own tokens, as if their turns were one text: the other
    speaker's words in between do not count.
    """

    def __init__(self, segments: Sequence[tuple[str, str]]) -> None:
        self.segments = segments
        # (rule index, speaker) -> role -> [(turn, start, end)]
        self.found: dict[tuple[int, str], dict[str, list[tuple[_Turn, int, int]]]] = {}

    def add(
        self, rule_index: int, speaker: str, turn: _Turn, a: list[tuple[int, int]], b: list[tuple[int, int]]
    ) -> None:
        roles = self.found.setdefault((rule_index, speaker), {"a": [], "b": []})
        roles["a"] += [(turn, start, end) for start, end in a]
        roles["b"] += [(turn, start, end) for start, end in b]

    def pairs(self, specs: Sequence[RuleSpec]) -> list[tuple[int, _Turn, int, int]]:
        """(rule index, turn, start, end) of each A with a B of the same speaker near enough, not negated."""
        result: list[tuple[int, _Turn, int, int]] = []
        for (rule_index, speaker), roles in self.found.items():
            if not roles["a"] or not roles["b"]:
                continue
            spec = specs[rule_index]
            offsets = self._offsets(speaker)
            spans: dict[_Turn, list[tuple[int, int]]] = defaultdict(list)
            for a_turn, a_start, a_end in roles["a"]:
                if a_turn.negated(spec, rule_index, a_start):
                    continue
                best: tuple[int, _Turn, int, int] | None = None
                for b_turn, b_start, b_end in roles["b"]:
                    if b_turn.negated(spec, rule_index, b_start):
                        continue
                    a_first = (a_turn.index, a_start) <= (b_turn.index, b_start)
                    first, second = (
                        ((a_turn, a_end), (b_turn, b_start)) if a_first else ((b_turn, b_end), (a_turn, a_start))
                    )
                    gap = max(0, offsets[second[0].index] + second[0].tokens[second[1]]
                              - offsets[first[0].index] - first[0].tokens[first[1]])  # fmt: skip
                    if gap <= (spec.distance or 0) and (best is None or gap < best[0]):
                        best = (gap, b_turn, b_start, b_end)
                if best is None:
                    continue
                _gap, b_turn, b_start, b_end = best
                if b_turn is a_turn:  # in one turn: the span covers both, as within a segment
                    spans[a_turn].append((min(a_start, b_start), max(a_end, b_end)))
                else:  # across turns: the finding is the A term, in its turn
                    spans[a_turn].append((a_start, a_end))
            for turn, found in spans.items():
                result += [(rule_index, turn, start, end) for start, end in _dedupe(found)]
        return result

    def _offsets(self, speaker: str) -> dict[int, int]:
        """For each of the speaker's turns, how many of the speaker's tokens come before it in the call."""
        offsets, running = {}, 0
        for index, (who, raw) in enumerate(self.segments):
            if who == speaker:
                offsets[index] = running
                running += len(TOKEN_RE.findall(normalise(raw).text))
        return offsets
