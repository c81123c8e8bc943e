"""Deterministic, realistic support data shared by every benchmark: customers, tickets, submitted_by links.

Distributions follow a typical help desk: most tickets are closed or resolved, a fifth are open, priorities
lean to medium, e-mail is the main channel, ~15% of tickets are unassigned, customers are mostly on the free
plan. The same seed always yields the same rows, so runs and machines compare like with like.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from deskbase.core.clock import iso
from deskbase.support.demo import COMPANIES, CUSTOMER_LINES, FIRST, LAST, SUBJECTS

SEED = 20261126
SOURCE = "bench"
EPOCH = datetime(2025, 11, 26, tzinfo=UTC)  # tickets spread over the year before the measurement date
SPAN = timedelta(days=365)

PLANS = (("free", 55), ("pro", 30), ("enterprise", 15))
STATUSES = (("open", 20), ("in_progress", 15), ("waiting", 10), ("resolved", 25), ("closed", 30))
PRIORITIES = (("low", 25), ("medium", 40), ("high", 25), ("urgent", 10))
CATEGORIES = (("bug", 30), ("question", 30), ("billing", 15), ("feature_request", 15), ("other", 10))
CHANNELS = (("email", 45), ("chat", 25), ("web", 20), ("phone", 10))
TAGS = (
    "vip",
    "regression",
    "onboarding",
    "api",
    "mobile",
    "invoice",
    "sso",
    "outage",
    "refund",
    "churn-risk",
)
AGENTS = tuple(f"agent{i:02d}@support.example" for i in range(1, 31))
UNASSIGNED_PCT = 15


def _table(weighted: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    """A 100-slot lookup table: one `randrange(100)` picks a weighted value (much cheaper than choices())."""
    out: list[str] = []
    for value, weight in weighted:
        out.extend([value] * weight)
    assert len(out) == 100, weighted
    return tuple(out)


_PLAN, _STATUS, _PRIORITY = _table(PLANS), _table(STATUSES), _table(PRIORITIES)
_CATEGORY, _CHANNEL = _table(CATEGORIES), _table(CHANNELS)


@dataclass(frozen=True)
class Customer:
    index: int
    external_id: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Ticket:
    index: int
    external_id: str
    data: dict[str, Any]
    created_at: datetime
    customer: int  # index of the submitting customer


def customers(n: int, seed: int = SEED) -> list[Customer]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        local = f"{first}.{last}".lower().encode("ascii", "ignore").decode()
        out.append(
            Customer(
                i,
                f"C-{i + 1:07d}",
                {
                    "name": f"{first} {last}",
                    "email": f"{local}.{i}@{domain}",
                    "plan": _PLAN[rng.randrange(100)],
                    "company": company,
                },
                EPOCH - timedelta(days=rng.uniform(30, 400)),
            )
        )
    return out


def ticket_data(rng: random.Random) -> dict[str, Any]:
    category = _CATEGORY[rng.randrange(100)]
    data: dict[str, Any] = {
        "subject": rng.choice(SUBJECTS[category]),
        "description": rng.choice(CUSTOMER_LINES),
        "status": _STATUS[rng.randrange(100)],
        "priority": _PRIORITY[rng.randrange(100)],
        "category": category,
        "channel": _CHANNEL[rng.randrange(100)],
        "tags": rng.sample(TAGS, rng.randrange(3)),
    }
    if rng.randrange(100) >= UNASSIGNED_PCT:
        data["assignee"] = rng.choice(AGENTS)
    return data


def tickets(n: int, n_customers: int, seed: int = SEED, start: int = 0) -> Iterator[Ticket]:
    """Tickets `start`..`start+n-1` in creation order; a ticket's content depends only on (seed, index)."""
    rng = random.Random(seed * 1_000_003 + start)
    step = SPAN / max(n, 1)
    for i in range(start, start + n):
        yield Ticket(
            i,
            f"T-{i + 1:08d}",
            ticket_data(rng),
            EPOCH + step * (i - start) + timedelta(seconds=rng.uniform(0, 60)),
            rng.randrange(max(n_customers, 1)),
        )


# ---- batch operations (the import API's shape) -------------------------------------------------------


def customer_op(c: Customer, external: bool = True) -> dict[str, Any]:
    """An import-mode upsert (historical time); `external` adds the source system's id, as imports do."""
    when = iso(c.created_at)
    op: dict[str, Any] = {"type": "upsert_record", "collection": "customers", "at": when, "created_at": when}
    if external:
        op.update(external_source=SOURCE, external_id=c.external_id)
    op["data"] = c.data
    return op


def ticket_op(t: Ticket, external: bool = True) -> dict[str, Any]:
    when = iso(t.created_at)
    op: dict[str, Any] = {"type": "upsert_record", "collection": "tickets", "ref": f"t{t.index}"}
    op.update(at=when, created_at=when)
    if external:
        op.update(external_source=SOURCE, external_id=t.external_id)
    op["data"] = t.data
    return op


def link_op(t: Ticket, customer_id: str) -> dict[str, Any]:
    return {
        "type": "upsert_relationship",
        "rel_type": "submitted_by",
        "at": iso(t.created_at),
        "source": {"collection": "tickets", "id": f"$ref:t{t.index}"},
        "target": {"collection": "customers", "id": customer_id},
    }


def batches(ops: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for op in ops:
        batch.append(op)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ticket_batches(
    n: int,
    customer_ids: list[str] | None,
    batch_ops: int = 1000,
    seed: int = SEED,
    start: int = 0,
    external: bool = True,
) -> Iterator[list[dict[str, Any]]]:
    """Batches of ticket upserts, each followed by its submitted_by link when customer ids are given
    (so a 1,000-op batch then holds 500 tickets); a ticket and its link never straddle two batches.
    `external=False` leaves out the external ids (a plain bulk create rather than an import)."""
    batch: list[dict[str, Any]] = []
    for t in tickets(n, len(customer_ids) if customer_ids else 1, seed, start):
        batch.append(ticket_op(t, external))
        if customer_ids:
            batch.append(link_op(t, customer_ids[t.customer]))
        if len(batch) >= batch_ops - (1 if customer_ids else 0):
            yield batch
            batch = []
    if batch:
        yield batch


def create_bodies(n: int, seed: int = SEED + 1) -> list[dict[str, Any]]:
    """Bodies of single-ticket creates (POST /records/tickets), as an agent or a widget sends them."""
    rng = random.Random(seed)
    return [{"data": ticket_data(rng)} for _ in range(n)]
