"""The `support` template: the seed's collections and relationship types, plus deskbase's hints.

`seed.json` is the seed page's JSON verbatim (a test keeps it identical to shared/seed). On top of it we add
`x-index` on the fields agents filter by, `x-search` on the text agents type into search boxes (the queue's
subject box, the customer picker), and declare `submitted_by` as cardinality one.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

INDEXED = {
    "tickets": ["status", "priority", "assignee", "category", "channel"],
    "customers": ["email", "plan"],
}
SEARCHED = {
    "tickets": ["subject", "description"],
    "customers": ["name", "email", "company"],
}
CARDINALITY = {"submitted_by": "one"}


def seed() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "seed.json").read_text())


@cache
def _definition() -> dict[str, Any]:
    d = seed()
    for coll in d["collections"]:
        for field in INDEXED.get(coll["id"], []):
            coll["json_schema"]["properties"][field]["x-index"] = True
        for field in SEARCHED.get(coll["id"], []):
            coll["json_schema"]["properties"][field]["x-search"] = True
    for rel in d["relationships"]:
        rel["cardinality"] = CARDINALITY.get(rel["type"], "many")
    return d


def seed_queries() -> dict[str, tuple[str, str]]:
    """The seed's example queries, verbatim: name -> (description from the leading comment, SQL text)."""
    return _queries("queries")


def report_queries() -> dict[str, tuple[str, str]]:
    """deskbase's own reports over the SLA tables (the dashboard runs them; analysts can too)."""
    return _queries("reports")


def _queries(folder: str) -> dict[str, tuple[str, str]]:
    out = {}
    for path in sorted((Path(__file__).parent / folder).glob("*.sql")):
        text = path.read_text()
        first = text.splitlines()[0]
        description = first[2:].strip() if first.startswith("--") else ""
        out[path.stem] = (description, text)
    return out


def definition() -> dict[str, Any]:
    """The template as applied (a fresh copy: callers may not mutate the cached one)."""
    return copy.deepcopy(_definition())
