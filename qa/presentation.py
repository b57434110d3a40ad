"""How QA text is shown: a passage with its match highlighted, PII masked for whoever may not see it."""

from __future__ import annotations

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from core.privacy import sees_pii
from core.text import masked
from core.users import RequestUser

CONTEXT = 40  # characters shown either side of a match in the queue


def can_see_pii(user: RequestUser | None) -> bool:
    return sees_pii(user)


def passage(text: str, start: int, end: int, *, mask: bool, context: int | None = CONTEXT) -> SafeString:
    """``text`` with [start, end) in <mark>, cut to ``context`` characters either side.

    The whole text is masked before it is cut or marked: a number split by the mark or by the cut is
    still one number to the detector.
    """
    if mask:
        hidden = masked(text)
        text, start, end = hidden.text, hidden.at(start), hidden.at(end, end=True)
    before, match, after = text[:start], text[start:end], text[end:]
    cut_before = context is not None and len(before) > context
    cut_after = context is not None and len(after) > context
    if context is not None:
        before = _cut_start(before[-context:], cut_before)
        after = _cut_end(after[:context], cut_after)
    return format_html(
        "{}{}<mark>{}</mark>{}{}",
        "…" if cut_before else "",
        before,
        match,
        after,
        "…" if cut_after else "",
    )


def _cut_start(text: str, cut: bool) -> str:
    """Do not start inside a Latin word: drop the partial word a cut left."""
    if cut and text[:1].isascii() and text[:1].isalnum() and " " in text:
        return text[text.index(" ") + 1 :]
    return text


def _cut_end(text: str, cut: bool) -> str:
    if cut and text[-1:].isascii() and text[-1:].isalnum() and " " in text:
        return text[: text.rindex(" ")]
    return text


def marked(text: str, spans: list[tuple[int, int, str]], *, mask: bool) -> SafeString:
    """A whole segment with several (start, end, title) spans marked; overlapping spans merge (masked whole first)."""
    if mask:
        hidden = masked(text)
        text = hidden.text
        spans = [(hidden.at(start), hidden.at(end, end=True), title) for start, end, title in spans]
    out: list[str] = []
    last = 0
    for start, end, title in sorted(spans):
        start = max(start, last)
        if start >= end:
            continue
        out.append(escape(text[last:start]))
        out.append(f'<mark title="{escape(title)}">{escape(text[start:end])}</mark>')
        last = end
    out.append(escape(text[last:]))
    return SafeString("".join(out))


def clock(ms: int | None) -> str:
    """Milliseconds into a recording as m:ss (or h:mm:ss)."""
    if ms is None:
        return ""
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
