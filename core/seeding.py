"""What demo seeders share: a seeded random source, a progress bar, a fast bulk loader (COPY), secondary
indexes built and foreign keys checked after a load, fresh planner statistics between stages, and `load_demo`,
the run of every app's seeder that `manage.py seed_demo` starts."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec
from itertools import islice
from typing import Any, TypeVar

from django.apps import apps
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from core.models import DemoDataset

T = TypeVar("T")

# Seeders run in the order of INSTALLED_APPS, which is the apps' layer order (core first).
OUR_APPS = ("core", "crm", "merchants", "tickets", "chat", "qa", "radio")
COPY_CHUNK = 50_000  # rows per COPY statement: each statement's foreign keys are checked at its end
_LOCK_KEY = 7_230_001  # pg advisory lock: one seed_demo at a time


@dataclass
class SeedContext:
    seed: int
    scale: int
    # Seeders of higher apps read what lower ones made (e.g. consumer ids) from here.
    made: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        # Times are relative to today's local midnight: the same seed gives the same rows all day,
        # and the demo is always recent.
        self.now = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)

    def progress(self, iterable: Iterable[T], *, total: int, desc: str) -> Iterator[T]:
        yield from tqdm(iterable, total=total, desc=desc, unit="rows", disable=self.quiet, mininterval=0.5, leave=True)


class DemoUnfinished(Exception):
    """An earlier seed_demo stopped before it finished: the demo data is partly loaded."""


@dataclass
class DemoOutcome:
    """What load_demo did: the rows made, seconds per app, or that the demo was there already."""

    dataset: DemoDataset
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    already_loaded: bool = False


def load_demo(*, seed: int, scale: int, quiet: bool = False) -> DemoOutcome:
    """Run every app's demo seeder (``<app>/demo.py``'s ``seed``), once per database.

    Each app's rows commit together (and every COPY statement checks its foreign keys as it ends), so memory
    stays flat and no transaction holds millions of rows; the planner statistics of the tables an app wrote
    are refreshed before its commit, so the next app's queries (ratings, scores) plan on what is there. The
    dataset row is written first and marked finished last: a run that stopped half-way is refused
    (DemoUnfinished), never loaded over.
    """
    with _one_at_a_time():
        existing = DemoDataset.objects.order_by("pk").first()
        if existing is not None and existing.finished_at is None:
            raise DemoUnfinished(existing)
        if existing is not None:
            return DemoOutcome(existing, already_loaded=True)
        outcome = DemoOutcome(DemoDataset.objects.create(seed=seed, scale=scale, counts={}))
        ctx = SeedContext(seed=seed, scale=scale, quiet=quiet)
        for config in apps.get_app_configs():
            if config.name not in OUR_APPS or find_spec(f"{config.name}.demo") is None:
                continue
            started = time.monotonic()
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                outcome.counts.update(import_module(f"{config.name}.demo").seed(ctx))
                analyze_changed()
                outcome.dataset.counts = outcome.counts
                outcome.dataset.save(update_fields=["counts"])
            outcome.seconds[config.label] = time.monotonic() - started
        outcome.dataset.finished_at = timezone.now()
        outcome.dataset.save(update_fields=["finished_at"])
    return outcome


class _one_at_a_time:
    """A session advisory lock held while seeding: a second seed_demo waits, then finds the data loaded."""

    def __enter__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])


def analyze(*model_classes: type[models.Model]) -> None:
    """Fresh planner statistics of these models' tables (the rows this transaction wrote count).

    Bulk loading outruns autovacuum (which cannot see a load before its commit): without this, the queries
    that follow a load plan on an empty table's statistics; the merchant scores stalled for minutes so.
    """
    _analyze([model._meta.db_table for model in model_classes])


def analyze_changed() -> None:
    """analyze() every table this transaction has written to (what a stage of the demo loaded)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_xact_user_tables WHERE schemaname = current_schema()"
            " AND n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname"
        )
        _analyze([row[0] for row in cursor.fetchall()])


def _analyze(tables: list[str]) -> None:
    if tables:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(table) for table in tables)}")


@contextmanager
def indexes_built_after(*model_classes: type[models.Model]) -> Iterator[None]:
    """Within the block, these tables' secondary indexes are gone; they are built again as it ends.

    A million rows COPYed into a table with its indexes insert a million keys into each at random places; built
    after the load, an index is one sort (crm_order's two took the load from 5.6 s to 1.9 s + 1.2 s of builds
    per 100,000 rows). Only plain (non-unique) indexes go: primary keys, unique indexes and constraints stay and
    are checked row by row, ON CONFLICT finds its index. Call it inside the stage's transaction (a failure rolls
    the DROPs back too), and keep out of the block the queries that need those indexes. DROP INDEX locks the
    table until that transaction commits: for a load that nobody reads meanwhile (`make run` seeds before it
    starts its servers).
    """
    tables = [model._meta.db_table for model in model_classes]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)


@contextmanager
def foreign_keys_checked_after(*model_classes: type[models.Model]) -> Iterator[None]:
    """Within the block, these tables' foreign keys are gone; as it ends they are added again, each checked over
    every row at once.

    A COPY into a table with foreign keys runs a lookup in each referenced table per row and key (a million
    orders: two million index probes, most of the COPY's time on the server); a constraint added afterwards is
    checked by one join. A row without its referenced row still fails the stage, at the block's end instead
    of its statement's. The same rules as indexes_built_after: inside the stage's transaction (ALTER TABLE
    locks the table until the commit), for a load that nobody reads meanwhile.
    """
    tables = [model._meta.db_table for model in model_classes]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks still pending run now: ALTER TABLE needs none
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
            [tables],
        )
        keys = cursor.fetchall()
        for table, name, _definition in keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
    yield
    with connection.cursor() as cursor:
        for table, name, definition in keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")


def copy_rows(model: type[models.Model], fields: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Load rows with PostgreSQL COPY, COPY_CHUNK rows a statement: an order of magnitude faster than bulk_create."""
    opts = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    count = 0
    items = iter(rows)
    # The psycopg cursor under Django's wrapper, its errors raised as Django's (IntegrityError ...).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        while chunk := list(islice(items, COPY_CHUNK)):
            with raw.copy(f"COPY {quote(opts.db_table)} ({columns}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            count += len(chunk)
    return count


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a concrete column")
    return field.column


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys of the model's table, in ascending order, for rows COPYed with their ids."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s) ORDER BY 1",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def new_ids(model: type[models.Model], after_id: int) -> list[int]:
    return list(model._default_manager.filter(pk__gt=after_id).order_by("pk").values_list("pk", flat=True))


def max_id(model: type[models.Model]) -> int:
    return model._default_manager.aggregate(m=models.Max("pk"))["m"] or 0
