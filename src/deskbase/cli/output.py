"""Printing results: a Rich table for people, pretty JSON for programs, CSV (nested keys flattened) for sheets."""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: What a table shows by default; JSON and CSV always carry every field.
RECORD_COLUMNS = ["id", "number", "data.*", "version", "updated_at"]
CHANGE_COLUMNS = ["seq", "at", "op", "entity", "collection", "entity_id", "actor.name"]
#: in a table too wide for the terminal, each column is given up to this many characters before the next
SQUEEZED_CELL = 16


class Output(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def flatten(item: dict[str, Any], prefix: str = "", deep: bool = False) -> dict[str, Any]:
    """Record data becomes dotted columns (`data.status`, `data.sla.state`), as do small objects of plain
    values (`source.id`, `actor.name`); anything else (a JSON Schema, lists) stays one JSON cell."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        into = deep or key == "data"
        if (
            isinstance(value, dict)
            and value
            and (into or not any(isinstance(v, dict | list) for v in value.values()))
        ):
            out.update(flatten(value, name + ".", into))
        else:
            out[name] = value
    return out


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _columns(rows: list[dict[str, Any]], wanted: list[str] | None = None) -> list[str]:
    """Every column in first-seen order, or the `wanted` ones that exist (`data.*` picks a whole prefix)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    if wanted is None:
        return list(seen)
    picked: list[str] = []
    for w in wanted:
        picked += [c for c in seen if c.startswith(w[:-1])] if w.endswith("*") else [w] if w in seen else []
    return picked


def print_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def print_rows(rows: list[dict[str, Any]], fmt: Output, table_columns: list[str] | None = None) -> None:
    """Rows as CSV (every column) or a table (the `table_columns` worth a glance; JSON and CSV have the rest)."""
    flat = [flatten(r) for r in rows]
    if fmt is Output.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        columns = _columns(flat)
        writer.writerow(columns)
        writer.writerows([cell(r.get(c)) for c in columns] for r in flat)
        typer.echo(buf.getvalue(), nl=False)
        return
    if not flat:
        typer.echo("(no results)")
        return
    # Columns empty in every row (external ids, usually) only cost width in a table.
    columns = [c for c in _columns(flat, table_columns) if any(cell(r.get(c)) for r in flat)]
    console = Console(highlight=False)
    widths = {c: max(len(c), *(len(cell(r.get(c))) for r in flat)) for c in columns}
    squeeze = sum(w + 3 for w in widths.values()) > console.width
    rest: list[str] = []
    allot = dict(widths)
    if squeeze:
        # Too wide for the terminal: one line per row and the columns that fit at a readable width (the rest
        # are named on stderr), rather than every cell folded into a few characters.
        room = console.width
        kept: list[str] = []
        for i, c in enumerate(columns):
            allot[c] = widths[c] if i == 0 else min(widths[c], SQUEEZED_CELL)
            if kept and sum(allot[k] + 3 for k in kept) + allot[c] + 3 > room:
                break
            kept.append(c)
        rest = columns[len(kept) :]
        columns = kept
        spare = room - sum(allot[c] + 3 for c in columns)
        for c in columns[1:]:  # what is left widens the columns that were cut, in order
            extra = min(spare, widths[c] - allot[c])
            allot[c] += extra
            spare -= extra
    table = Table(show_edge=False, header_style="bold")
    for i, c in enumerate(columns):
        if squeeze:
            table.add_column(c, overflow="ellipsis", no_wrap=True, width=allot[c])
        else:
            # The first column names the row (an id): never split it across lines.
            table.add_column(c, overflow="fold", no_wrap=i == 0, min_width=None if i else max(len(c), 8))
    for r in flat:
        values = (cell(r.get(c)) for c in columns)
        table.add_row(*(Text(v.replace("\n", " ") if squeeze else v) for v in values))
    console.print(table)
    if rest:
        typer.echo(
            f"({len(rest)} more column(s): {', '.join(rest)}; -o json or -o csv shows every field)", err=True
        )


def print_item(item: dict[str, Any], fmt: Output) -> None:
    """One object: a field/value table, a one-row CSV, or JSON."""
    if fmt is Output.json:
        print_json(item)
    elif fmt is Output.csv:
        print_rows([item], fmt)
    else:
        table = Table(show_edge=False, show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in flatten(item).items():
            table.add_row(key, Text(cell(value)))
        Console(highlight=False).print(table)


def print_list(response: dict[str, Any], fmt: Output, table_columns: list[str] | None = None) -> None:
    """A list response: JSON exactly as the server sent it, table/CSV from its `data` rows."""
    if fmt is Output.json:
        print_json(response)
    else:
        print_rows(response.get("data") or [], fmt, table_columns)


def print_written(result: Any, fmt: Output | None, summary: str) -> None:
    """Writes print a short line (an id) that scripts can capture, or the full result when asked."""
    if fmt is None:
        typer.echo(summary)
    elif isinstance(result, dict):
        print_item(result, fmt)
    else:
        print_json(result)


def hint(message: str) -> None:
    """Advice for people (next page cursor, …) goes to stderr so stdout stays machine-readable."""
    typer.echo(message, err=True)
