"""The rule engine's text (qa.matching): normalised segments and the tokens proximity counts in.

Matching runs on the raw text, normalised (full-width to half-width, lower case, white space
collapsed, and dropped next to Chinese characters), never on word segmentation; ``Normalised`` maps
each normalised offset back to the raw text.

Units. A Chinese character is one token, a Latin word or a number is one token — the same unit as the
search index's positions. Latin terms match whole words only; Chinese terms match anywhere."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_WORD_CHAR = re.compile(r"[a-z0-9]")
TOKEN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+")


def _is_cjk(char: str) -> bool:
    return bool(_CJK_RE.match(char))


@dataclass(frozen=True)
class Normalised:
    """A segment's normalised text, and where each of its runs starts in the raw text.

    The map is kept as run starts, not a list per character: most segments have no hit, and only a
    hit needs its raw offsets (``raw_offset``, a binary search).
    """

    text: str
    run_starts: list[int]  # normalised index where each run begins
    raw_starts: list[int]  # ... and the raw index it came from

    def raw_offset(self, index: int) -> int:
        run = bisect_right(self.run_starts, index) - 1
        return self.raw_starts[run] + (index - self.run_starts[run])

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw [start, end) of the normalised [start, end)."""
        return self.raw_offset(start), self.raw_offset(end - 1) + 1

    @property
    def offsets(self) -> list[int]:
        """The raw offset of every normalised character (for tests and debugging)."""
        return [self.raw_offset(i) for i in range(len(self.text))]


_SPACE_RUN = re.compile(r"\s+")


def normalise(raw: str) -> Normalised:
    """Fold width and case, collapse white space, drop white space that touches a Chinese character."""
    folded = raw.translate(_FOLD).lower()
    pieces: list[str] = []
    run_starts: list[int] = []
    raw_starts: list[int] = []
    length = position = 0
    for match in _SPACE_RUN.finditer(folded):
        start, end = match.span()
        if start > position:
            run_starts.append(length)
            raw_starts.append(position)
            pieces.append(folded[position:start])
            length += start - position
        # One space between two non-Chinese characters; none at either end or next to Chinese.
        if length and end < len(folded) and not (_is_cjk(folded[start - 1]) or _is_cjk(folded[end])):
            run_starts.append(length)
            raw_starts.append(start)
            pieces.append(" ")
            length += 1
        position = end
    if position < len(folded):
        run_starts.append(length)
        raw_starts.append(position)
        pieces.append(folded[position:])
    return Normalised("".join(pieces), run_starts, raw_starts)


def normalise_term(term: str) -> str:
    return normalise(term).text


def whole_word(text: str, start: int, end: int, term: str) -> bool:
    """Latin terms must not start or end inside a word; Chinese ones may."""
    if _WORD_CHAR.match(term[0]) and start > 0 and _WORD_CHAR.match(text[start - 1]):
        return False
    return not (_WORD_CHAR.match(term[-1]) and end < len(text) and _WORD_CHAR.match(text[end]))


def token_index(text: str) -> list[int]:
    """For each character, how many tokens (Chinese characters, Latin words, numbers) start before it."""
    counts = [0] * (len(text) + 1)
    starts = {m.start() for m in TOKEN_RE.finditer(text)}
    running = 0
    for index in range(len(text)):
        counts[index] = running
        if index in starts:
            running += 1
    counts[len(text)] = running
    return counts
