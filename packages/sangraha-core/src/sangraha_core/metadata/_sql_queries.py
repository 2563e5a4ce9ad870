"""The statements that find object records: by id, the latest version of a key, and a
listing page (an index walk in (key, id) order).

Kept apart from the records' reads and writes because all of their care is planning: one
statement per read where one snapshot must answer, and for a listing which index the walk
follows and how each filter is checked per entry of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import ColumnElement, bindparam, exists, literal, select, tuple_
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.selectable import Select

from .._models import ListQuery, ObjectStatus
from ._rows import successor
from ._schema import object_metadata, objects

__all__ = ["BY_ID", "BY_IDS", "LATEST_READY", "CursorRead", "listing_statement"]


def _with_metadata(chosen: Select[Any]) -> Select[Any]:
    """The rows of ``chosen`` (one record at most), each repeated once per metadata entry
    (``meta_name``, ``meta_value``; NULL when it has none): a record in one statement."""
    found = chosen.subquery("found")
    return select(
        found,
        object_metadata.c.name.label("meta_name"),
        object_metadata.c.value.label("meta_value"),
    ).select_from(found.outerjoin(object_metadata, object_metadata.c.object_id == found.c.id))


# Built once: building and coercing a statement costs more CPU than SQLite takes to run it,
# and reads by key or id are the hot path of every cold read. The newest ready version of
# a key, or else its newest pending one (which says "still processing" rather than "no
# such object"): one statement, so one snapshot without a transaction around it.
LATEST_READY = _with_metadata(
    select(objects)
    .where(
        objects.c.bucket == bindparam("bucket"),
        objects.c.key == bindparam("key"),
        objects.c.status.in_([ObjectStatus.READY.value, ObjectStatus.PENDING.value]),
    )
    .order_by((objects.c.status == ObjectStatus.READY.value).desc(), objects.c.id.desc())
    .limit(1)
)
BY_ID = _with_metadata(select(objects).where(objects.c.id == bindparam("object_id")))
BY_IDS = _with_metadata(
    select(objects).where(objects.c.id.in_(bindparam("object_ids", expanding=True)))
)


@dataclass(frozen=True, slots=True)
class CursorRead:
    """A read statement compiled once into SQL for a DB-API cursor of one dialect.

    SQLAlchemy spends more CPU per execution (parameter expansion, execution context,
    result set) than SQLite takes to answer a lookup by key; this runs the same SQL,
    compiled by SQLAlchemy from the same statement, and converts each column with the
    result processor SQLAlchemy itself would apply, so the values are the same.
    Only for positional parameter styles (SQLite's ``?``), and for parameters of types
    without a bind processor (the text of a bucket and key): values go to the driver as
    given.
    """

    sql: str
    parameters: tuple[str, ...]
    """The bound parameters' names in the order of their placeholders."""
    fixed: dict[str, Any]
    """The values of the parameters the statement binds itself (``IN`` lists, ``LIMIT``)."""
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def of(cls, stmt: Select[Any], dialect: Dialect, names: Sequence[str]) -> Self:
        """``stmt`` for ``dialect``, whose parameters ``names`` are given per execution."""
        if not dialect.positional:
            raise ValueError(f"{dialect.name} does not use positional parameters")
        # Expanded once with placeholder values: the SQL and the placeholders' order do not
        # depend on the values, and the values given per execution replace these.
        state = stmt.compile(dialect=dialect).construct_expanded_state(dict.fromkeys(names, ""))
        order = tuple(state.positiontup or ())
        selected = list(stmt.selected_columns)
        return cls(
            sql=state.statement,
            parameters=order,
            fixed={k: v for k, v in state.parameters.items() if k not in names},
            columns=tuple(str(column.key) for column in selected),
            processors=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in selected
            ),
        )

    def arguments(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional arguments of one execution with ``values`` for the named ones."""
        fixed = self.fixed
        return tuple(values[n] if n in values else fixed[n] for n in self.parameters)

    def mapping(self, row: Sequence[Any]) -> dict[str, Any]:
        """One result row by column name, each value as SQLAlchemy would return it."""
        return {
            name: value if process is None else process(value)
            for name, process, value in zip(self.columns, self.processors, row, strict=True)
        }


def _filters(
    table: Any, query: ListQuery, pairs: Sequence[tuple[str, str]]
) -> list[ColumnElement[bool]]:
    """Conditions on one version other than its bucket, key and position."""
    conds: list[ColumnElement[bool]] = []
    if query.kind is not None:
        conds.append(table.c.kind == query.kind.value)
    if query.status is not None:
        conds.append(table.c.status == query.status.value)
    if query.created_after is not None:
        conds.append(table.c.created_at >= query.created_after)
    if query.created_before is not None:
        conds.append(table.c.created_at < query.created_before)
    for name, value in pairs:
        meta = object_metadata.alias()
        conds.append(
            exists().where(
                meta.c.object_id == table.c.id, meta.c.name == name, meta.c.value == value
            )
        )
    return conds


def listing_statement(query: ListQuery, after: tuple[str, str] | None) -> Select[Any]:
    """The ``objects`` rows of one page and one more (to tell whether another page
    follows), starting strictly after the position ``after`` (key, id)."""
    o = objects
    pairs = sorted(query.metadata.items())
    stmt: Select[Any]
    if pairs:
        # Walk the first pair's index entries, which are in listing order; the other
        # filters are checked per entry.
        lead = object_metadata.alias("lead")
        stmt = select(o).select_from(lead.join(o, o.c.id == lead.c.object_id))
        order_key, order_id = lead.c.key, lead.c.object_id
        conds = [
            lead.c.name == pairs[0][0],
            lead.c.value == pairs[0][1],
            lead.c.bucket == query.bucket,
            *_filters(o, query, pairs[1:]),
        ]
    else:
        stmt = select(o)
        order_key, order_id = o.c.key, o.c.id
        conds = [o.c.bucket == query.bucket, *_filters(o, query, ())]
    if query.prefix:
        # A key range instead of LIKE: no wildcard escaping, and an index range scan.
        conds.append(order_key >= query.prefix)
        upper = successor(query.prefix)
        if upper is not None:
            conds.append(order_key < upper)
    if query.start_after is not None:
        conds.append(order_key > query.start_after)
    if query.latest_only:
        newer = objects.alias("newer")
        conds.append(
            ~exists().where(
                newer.c.bucket == o.c.bucket,
                newer.c.key == o.c.key,
                newer.c.id > o.c.id,
                *_filters(newer, query, pairs),
            )
        )
    if after is not None:
        conds.append(tuple_(order_key, order_id) > tuple_(literal(after[0]), literal(after[1])))
    return stmt.where(*conds).order_by(order_key, order_id).limit(query.limit + 1)
