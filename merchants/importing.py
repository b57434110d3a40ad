"""Import merchants and merchant staff memberships, and the whole marketplace kind by kind or from a folder.

The kinds of crm (consumers, orders, reviews) and of this app (merchants, memberships) share one path,
core.importing.import_file; docs/import-formats.md documents every column. ``KINDS`` lists them in the order
a marketplace loads: what a row refers to is loaded before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _

from core.importing import DEFAULT_BATCH_SIZE, ImportReport, Kind, RowReader, import_file, rejected_lines
from core.staging import changed_only, upsert_counts
from core.tabular import format_of
from core.values import ImportFileError, show_value, text_value
from crm import importing as crm_importing
from crm.importing import MOMENT, flag, not_in_future, yuan

_MERCHANT_COLUMNS = [("line", "int"), ("code", "text"), ("name", "text"), ("category", "text"), ("city", "text"),
                     ("opened_at", "timestamptz"), ("instant_refunds", "boolean"),
                     ("instant_refund_cap", "numeric")]  # fmt: skip
_MERCHANT_FIELDS = ("name", "category", "city", "opened_at", "instant_refunds", "instant_refund_cap")


def _parse_merchant(row: RowReader) -> tuple[object, ...]:
    code = row.key("code", text_value(32))
    name = row.required("name", text_value(100), "")
    category = row.required("category", text_value(50), "")
    city = row.optional("city", text_value(50), "")
    opened_at = row.required("opened_at", MOMENT, crm_importing.STAND_IN)
    not_in_future(row, "opened_at", opened_at)
    instant_refunds = row.optional("instant_refunds", flag, True)
    cap: Decimal | None = row.optional("instant_refund_cap", yuan, None)
    return (row.line, code, name, category, city, opened_at, instant_refunds, cap)


def _load_merchants(rows: list[tuple[object, ...]]) -> ImportReport:
    incoming = changed_only(
        f"SELECT code, {', '.join(_MERCHANT_FIELDS)} FROM import_stage",
        table="merchants_merchant", key="code", columns=("code", *_MERCHANT_FIELDS), compared=_MERCHANT_FIELDS,
    )  # fmt: skip
    created, updated = upsert_counts(f"""
        INSERT INTO merchants_merchant (code, {", ".join(_MERCHANT_FIELDS)}) {incoming}
        ON CONFLICT (code) DO UPDATE SET {crm_importing.assign_all(_MERCHANT_FIELDS)}
        WHERE {crm_importing.differs("merchants_merchant", _MERCHANT_FIELDS)}
        RETURNING (xmax = 0) AS inserted""")
    return crm_importing.batch_report(rows, created, updated, [])


MERCHANTS: Kind[tuple[object, ...]] = Kind(
    "merchants", ("code", "name", "category", "opened_at"), _MERCHANT_COLUMNS, _parse_merchant, _load_merchants
)


def _parse_membership(row: RowReader) -> tuple[object, ...]:
    user = row.key("user", text_value(150))
    merchant = row.required("merchant", text_value(32), "")
    return (row.line, user, merchant)


def _load_memberships(rows: list[tuple[object, ...]]) -> ImportReport:
    """A staff user works for one merchant: the user's membership is created or moved to the merchant named."""
    users = get_user_model()._meta.db_table
    rejections = rejected_lines(
        f'SELECT s.line, s."user" FROM import_stage s LEFT JOIN {users} u ON u.username = s."user" WHERE u.id IS NULL',
        "user",
        lambda value: _("No user has the username %(value)s.") % {"value": show_value(value)},
    ) + rejected_lines(
        "SELECT s.line, s.merchant FROM import_stage s LEFT JOIN merchants_merchant m ON m.code = s.merchant"
        " WHERE m.id IS NULL",
        "merchant",
        lambda value: _("No merchant has the code %(value)s.") % {"value": show_value(value)},
    )
    incoming = changed_only(
        f'SELECT u.id, m.id, %s FROM import_stage s JOIN {users} u ON u.username = s."user"'
        " JOIN merchants_merchant m ON m.code = s.merchant",
        table="merchants_merchantmembership",
        key="user_id",
        columns=("user_id", "merchant_id", "created_at"),
        compared=("merchant_id",),
    )
    created, updated = upsert_counts(
        f"""
        INSERT INTO merchants_merchantmembership (user_id, merchant_id, created_at) {incoming}
        ON CONFLICT (user_id) DO UPDATE SET merchant_id = EXCLUDED.merchant_id
        WHERE merchants_merchantmembership.merchant_id <> EXCLUDED.merchant_id
        RETURNING (xmax = 0) AS inserted""",
        [timezone.now()],
    )
    return crm_importing.batch_report(rows, created, updated, rejections)


MEMBERSHIPS: Kind[tuple[object, ...]] = Kind(
    "memberships", ("user", "merchant"), [("line", "int"), ("user", "text"), ("merchant", "text")], _parse_membership,
    _load_memberships,
)  # fmt: skip

# The order a marketplace loads in: what a row refers to comes first.
KINDS: dict[str, Kind[tuple[object, ...]]] = {
    kind.name: kind
    for kind in (MERCHANTS, crm_importing.CONSUMERS, crm_importing.ORDERS, crm_importing.REVIEWS, MEMBERSHIPS)
}


def import_kind(kind: str, path: Path, *, fmt: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: IO[str] | None = None) -> ImportReport:  # fmt: skip
    """Load one file of one kind; the format from the extension unless given."""
    fmt = fmt or format_of(path)
    if fmt is None:
        raise ImportFileError(
            _("Cannot tell the format of %(path)s from its extension; pass --format.") % {"path": path}
        )
    return import_file(KINDS[kind], path, fmt=fmt, batch_size=batch_size, progress=progress)


@dataclass
class FolderReport:
    """What loading a folder did, kind by kind, in the order they were loaded."""

    kinds: dict[str, ImportReport] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def folder_files(folder: Path) -> dict[str, Path]:
    """The folder's file of each kind (<kind>.csv, .jsonl or .ndjson), in loading order; ImportFileError if none."""
    found: dict[str, Path] = {}
    for kind in KINDS:
        candidates = [path for path in sorted(folder.glob(f"{kind}.*")) if format_of(path)]
        if len(candidates) > 1:
            raise ImportFileError(
                _("%(folder)s has more than one file of %(kind)s: %(files)s.")
                % {"folder": folder, "kind": kind, "files": ", ".join(path.name for path in candidates)}
            )
        if candidates:
            found[kind] = candidates[0]
    if not found:
        raise ImportFileError(
            _("%(folder)s holds none of %(names)s (.csv or .jsonl).") % {"folder": folder, "names": ", ".join(KINDS)}
        )
    return found


def import_folder(folder: Path, *, batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: IO[str] | None = None) -> FolderReport:  # fmt: skip
    """Load every kind's file of a folder in dependency order (merchants and consumers before orders ...)."""
    report = FolderReport(files=folder_files(folder))
    for kind, path in report.files.items():
        report.kinds[kind] = import_kind(kind, path, batch_size=batch_size, progress=progress)
    return report
