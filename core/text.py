"""Chinese and English text helpers shared by every app: normalisation and PII masking."""

from __future__ import annotations

import re
import unicodedata

# Mainland mobile numbers, 18-character resident ID numbers, 16-19 digit bank card numbers.
PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
ID_NUMBER_RE = re.compile(r"(?<![\dXx])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dXx])")
# 16-19 digits, optionally grouped by single spaces or hyphens. Runs after ID masking.
BANK_CARD_RE = re.compile(r"(?<!\d)\d(?:[ -]?\d){15,18}(?!\d)")


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


def mask_pii(text: str) -> str:
    """Mask phone, ID and bank card numbers wherever they appear in free text."""
    text = ID_NUMBER_RE.sub(lambda m: m.group(1)[:3] + "*" * 11 + m.group(3)[-4:], text)
    text = PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return BANK_CARD_RE.sub(lambda m: "**** **** **** " + re.sub(r"\D", "", m.group(0))[-4:], text)
