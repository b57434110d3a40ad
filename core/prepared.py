"""A read on a hot path, compiled to SQL once (``Prepared``): the ORM builds it, so it never restates a model, and
it returns the ORM's own instances (``select_related`` included), but it does not compile the same statement again
for every call.

Compiling is what a short read costs most: a consumer's chat message locks their live chat with its ticket
(``chat.services._live``), and Django's compiler took three times the CPU the row's fetching did. Only a
queryset's parameter values change from call to call, so ``Prepared`` builds the queryset once with a marker value
for each parameter, compiles it once per database connection (a thread's own: the compiler and its converters
belong to it), and for each call puts the values where the markers were.

What the ORM would refuse it refuses too: a row lock outside a transaction. A queryset whose SQL does not carry each
marker exactly once (a parameter the ORM folded into the SQL or used twice) is refused when it is first run.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: dict[str, int]  # parameter name -> its index in params
    compiler: Any  # the SQLCompiler that compiled it: its converters and column layout
    converters: dict[int, Any]
    init_list: list[str]
    fields: tuple[int, int]  # where the model's own columns are in a row
    populators: list[Any]  # select_related's, as the ORM's own iterable builds them
    locks: bool


class Prepared(Generic[M]):
    """``build(**markers)`` compiled once per connection; ``prepared(**values)`` runs it with ``values`` instead.

    The markers are example values of the right type that appear nowhere else in the query (a negative id, say)."""

    def __init__(self, build: Callable[..., QuerySet[M]], using: str = DEFAULT_DB_ALIAS, **markers: Any) -> None:
        self.build, self.using, self.markers = build, using, markers
        self._compiled: weakref.WeakKeyDictionary[Any, _Compiled] = weakref.WeakKeyDictionary()

    def __call__(self, **values: Any) -> list[M]:
        if values.keys() != self.markers.keys():
            raise TypeError(f"expected the parameters {sorted(self.markers)}, got {sorted(values)}")
        connection = connections[self.using]
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compiled[connection] = self._compile(connection)
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(compiled.params)
        for name, index in compiled.slots.items():
            params[index] = values[name]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.compiler.has_extra_select:  # extra() columns the instances do not take
            rows = [row[: compiled.compiler.col_count] for row in rows]
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        model, (start, end) = compiled.compiler.klass_info["model"], compiled.fields
        found = []
        for row in rows:
            instance = model.from_db(self.using, compiled.init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, instance)
            for name, position in compiled.compiler.annotation_col_map.items():
                setattr(instance, name, row[position])
            found.append(instance)
        return found

    def _compile(self, connection: Any) -> _Compiled:
        queryset = self.build(**self.markers)
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            sql, params = compiler.as_sql()
        except (EmptyResultSet, FullResultSet):
            raise ValueError(
                f"the markers {self.markers} fold the query away (one out of its column's range?)"
            ) from None
        slots = {}
        for name, marker in self.markers.items():
            where = [i for i, value in enumerate(params) if isinstance(value, type(marker)) and value == marker]
            if len(where) != 1:
                raise ValueError(f"the marker of {name!r} is {len(where)} times in the compiled query, not once")
            slots[name] = where[0]
        select, klass_info = compiler.select, compiler.klass_info
        columns = klass_info["select_fields"]
        start, end = columns[0], columns[-1] + 1
        return _Compiled(
            sql=sql, params=tuple(params), slots=slots, compiler=compiler,
            converters=compiler.get_converters([column[0] for column in select[: compiler.col_count]]),
            init_list=[column[0].target.attname for column in select[start:end]], fields=(start, end),
            populators=get_related_populators(klass_info, select, self.using), locks=queryset.query.select_for_update,
        )  # fmt: skip
