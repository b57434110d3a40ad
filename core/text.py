"""Chinese and English text helpers shared by every app: normalisation and PII masking."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


def normalize(text: str) -> str:
    """Fold full-width to half-width (NFKC), lower-case, and collapse runs of white space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())


def mask_phone(phone: str) -> str:
    """138 0013 8000 -> 138****8000. Anything that is not a whole number keeps only its ends."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return ""
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:1] + "*" * (len(digits) - 2) + digits[-1:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# Personal numbers (mainland mobile, 18-character resident ID, 16-19 digit bank card) are found in a
# stream of digits that may be written as ASCII or full-width digits, Chinese numerals (一三八, 幺 for 1,
# 两 for 2) or English number words ("one three eight", "double eight"), in groups split by single
# spaces, hyphens or dots ("138 1234 5678", "1381-234-5678", "1 3 8 ..."). A candidate is a run of
# whole groups, so a number glued to more digits is never cut out of it.
_DIGIT_CHARS = str.maketrans("０１２３４５６７８９〇零一幺二两三四五六七八九", "0123456789" + "0011223456789")
_NUMBER_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_REPEATS = {"double": 2, "triple": 3}
_WORD_RE = re.compile(r"[a-z]+", re.IGNORECASE)
_GROUP_GAP = frozenset(" -.\u3000")
# Words just before a number that say it is not personal (an order or parcel number).
_NOT_PERSONAL_BEFORE = re.compile(r"(订单|单号|运单|快递|物流|order|tracking|parcel)\D{0,6}$", re.IGNORECASE)
_ID_SHAPE = re.compile(r"[1-8]\d{5}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dX]")
_PHONE_SHAPE = re.compile(r"1[3-9]\d{9}")
_CARD_SHAPE = re.compile(r"(62|4|5[1-5]|3[47]|6)\d{13,18}")
PII_KINDS = ("phone", "id", "card")


@dataclass(frozen=True)
class PiiSpan:
    """One personal number in a text: where it is (``text[start:end]``), what it is, and its digits."""

    start: int
    end: int
    kind: str
    digits: str


@dataclass
class _Group:
    digits: str
    start: int
    end: int


def _digit_groups(text: str) -> list[list[_Group]]:
    """Runs of digit groups: groups split by one gap character belong to one run."""
    runs: list[list[_Group]] = []
    run: list[_Group] = []
    i, n = 0, len(text)
    last_end = -10
    while i < n:
        char = text[i].translate(_DIGIT_CHARS)
        group: _Group | None = None
        if char.isascii() and char.isdigit():
            j = i
            digits = []
            while j < n and (d := text[j].translate(_DIGIT_CHARS)).isascii() and d.isdigit():
                digits.append(d)
                j += 1
            if j < n and text[j] in "Xx" and (j + 1 == n or not text[j + 1].isascii() or not text[j + 1].isalpha()):
                digits.append("X")  # an ID number's check character
                j += 1
            group = _Group("".join(digits), i, j)
        elif char.isascii() and char.isalpha() and (i == 0 or not text[i - 1].isascii() or not text[i - 1].isalpha()):
            word = _WORD_RE.match(text, i)
            assert word is not None
            lower = word.group(0).lower()
            if lower in _NUMBER_WORDS:
                group = _Group(_NUMBER_WORDS[lower], i, word.end())
            elif lower in _REPEATS:
                following = _WORD_RE.match(text, word.end() + 1) if word.end() < n and text[word.end()] == " " else None
                if following and following.group(0).lower() in _NUMBER_WORDS:
                    group = _Group(_NUMBER_WORDS[following.group(0).lower()] * _REPEATS[lower], i, following.end())
            if group is None:
                i = word.end()
                if run:
                    runs.append(run)
                    run = []
                continue
        if group is None:
            if run and not (text[i] in _GROUP_GAP and i == last_end):
                runs.append(run)
                run = []
            i += 1
            continue
        if run and group.start - last_end > 1:
            runs.append(run)
            run = []
        run.append(group)
        last_end = group.end
        i = group.end
    if run:
        runs.append(run)
    return runs


def _kind_of(digits: str) -> str | None:
    if len(digits) == 18 and _ID_SHAPE.fullmatch(digits):
        return "id"
    if len(digits) == 11 and _PHONE_SHAPE.fullmatch(digits):
        return "phone"
    if 16 <= len(digits) <= 19 and _CARD_SHAPE.fullmatch(digits):
        return "card"
    return None


def pii_spans(text: str, kinds: Iterable[str] = PII_KINDS) -> list[PiiSpan]:
    """Every personal number in ``text`` of the given kinds, in order, never overlapping.

    The one detector of the product: masking for every channel and the QA rules' PII check use it.
    """
    wanted = set(kinds)
    found: list[PiiSpan] = []
    for run in _digit_groups(text):
        i = 0
        while i < len(run):
            best: PiiSpan | None = None
            digits = ""
            for j in range(i, len(run)):
                digits += run[j].digits
                if len(digits) > 19:
                    break
                kind = _kind_of(digits)
                if kind in wanted:
                    best = PiiSpan(run[i].start, run[j].end, kind, digits)
            if best is not None and not _NOT_PERSONAL_BEFORE.search(text[max(0, best.start - 12) : best.start]):
                found.append(best)
                i = next(k for k in range(i, len(run)) if run[k].end == best.end) + 1
            else:
                i += 1
    return found


def _masked(span: PiiSpan) -> str:
    if span.kind == "phone":
        return f"{span.digits[:3]}****{span.digits[-4:]}"
    if span.kind == "id":
        return span.digits[:3] + "*" * 11 + span.digits[-4:]
    return "**** **** **** " + span.digits[-4:]


@dataclass(frozen=True)
class Masked:
    """A text with its personal numbers masked, and where each number of the original went in it."""

    text: str
    # Each number found: its place in the original and the place of its mask in ``text``.
    moves: tuple[tuple[int, int, int, int], ...] = ()

    def at(self, position: int, *, end: bool = False) -> int:
        """Where ``position`` of the original is in ``text``. A place inside a number moves to the edge of its
        mask (its start, or its end when ``end``), so that a highlight over part of a number covers the mask."""
        shift = 0
        for start, stop, new_start, new_stop in self.moves:
            if position <= start:
                break
            if position >= stop:
                shift = new_stop - stop
                continue
            return new_stop if end else new_start
        return position + shift


def masked(text: str) -> Masked:
    """``text`` with phone, ID and bank card numbers masked wherever they appear, however they are written."""
    if not text:
        return Masked(text)
    parts: list[str] = []
    moves: list[tuple[int, int, int, int]] = []
    position = length = 0
    for span in pii_spans(text):
        parts.append(text[position : span.start])
        length += span.start - position
        mask = _masked(span)
        parts.append(mask)
        moves.append((span.start, span.end, length, length + len(mask)))
        length += len(mask)
        position = span.end
    parts.append(text[position:])
    return Masked("".join(parts), tuple(moves))


def mask_pii(text: str) -> str:
    """Mask phone, ID and bank card numbers wherever they appear in free text, however they are written."""
    return masked(text).text
