"""Realistic demo data for the support template: customers on free/pro/enterprise plans, tickets spread over
weeks with conversations (customer replies, agent replies, internal notes) and status histories.

Everything is written through the batch API in import mode, with each change dated when it "happened", so
history, SLA clocks and SQL reports see a plausible past. Deterministic for a given seed and `now`.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.context import Actor

SOURCE = "demo"
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Diego",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yara",
    "Zoe",
]
LAST = [
    "Garcia",
    "Smith",
    "Müller",
    "Rossi",
    "Kim",
    "Okafor",
    "Dubois",
    "Silva",
    "Novak",
    "Tanaka",
    "Berg",
    "Costa",
    "Nguyen",
    "Haddad",
    "Larsen",
    "Moreau",
    "Ivanova",
    "Patel",
    "Reyes",
    "Weber",
]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Retail",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Systems",
    "Cyberdyne",
    "Wonka Labs",
    "Pied Piper",
    "Massive Dynamic",
    "Oscorp",
    "Gringotts Finance",
    "Aperture Science",
    "Monarch Travel",
]
AGENTS = [
    "maria@support.example",
    "tom@support.example",
    "aisha@support.example",
    "li@support.example",
    "pedro@support.example",
    "sofia@support.example",
    "jamal@support.example",
    "nina@support.example",
]
SUBJECTS = {
    "bug": [
        "Export to CSV fails with a timeout",
        "Dashboard shows wrong totals",
        "Login loop after password reset",
        "Webhook deliveries stopped",
        "Mobile app crashes on upload",
        "Search returns deleted items",
    ],
    "feature_request": [
        "Please add SSO with Okta",
        "Bulk edit for tags",
        "Dark mode for the agent view",
        "API endpoint for audit logs",
        "Custom fields on customers",
    ],
    "question": [
        "How do I invite my team?",
        "Where can I find my API key?",
        "Is there a rate limit?",
        "Can I change the workspace region?",
        "How do SLAs pause on weekends?",
    ],
    "billing": [
        "Charged twice this month",
        "Need an invoice with our VAT id",
        "Downgrade from enterprise",
        "Card declined on renewal",
        "Refund for unused seats",
    ],
    "other": [
        "Feedback on the new editor",
        "Data deletion request",
        "Partnership inquiry",
        "Security questionnaire for procurement",
    ],
}
CUSTOMER_LINES = [
    "Any update on this?",
    "Here are the steps to reproduce, plus a screenshot.",
    "It still happens after clearing the cache.",
    "Thanks, that worked!",
    "We need this fixed today.",
]
AGENT_LINES = [
    "Thanks for reaching out — I'm looking into it now.",
    "Could you send the request id from the logs?",
    "We found the cause and shipped a fix; can you confirm?",
    "I've escalated this to engineering.",
    "Here is the article that explains the setting.",
]
NOTES = [
    "Reproduced on staging; linked to the export incident.",
    "Enterprise account — keep the CSM in the loop.",
    "Customer is on an old client version.",
    "Needs billing team approval for the refund.",
]
WEIGHTS_PRIORITY = (("low", 25), ("medium", 40), ("high", 25), ("urgent", 10))
WEIGHTS_PLAN = (("free", 55), ("pro", 30), ("enterprise", 15))


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


MACROS = [
    {
        "name": "Ask for logs",
        "shortcut": "logs",
        "body": 'Hi {{customer.first_name}},\n\nthanks for reporting "{{ticket.subject}}". Could you send us the '
        "browser console log and the time it happened (with your time zone)? That lets us find it on our side."
        "\n\nBest,\n{{agent}}",
        "set_status": "waiting",
        "add_tags": ["needs-info"],
    },
    {
        "name": "Password reset steps",
        "shortcut": "reset",
        "body": "Hi {{customer.first_name}},\n\nyou can reset your password from the sign-in page: choose "
        '"Forgot password", then follow the link we email you within a few minutes.\n\nBest,\n{{agent}}',
        "set_status": "resolved",
    },
    {
        "name": "Solved - closing",
        "shortcut": "solved",
        "body": "Hi {{customer.first_name}},\n\nglad this is sorted. I am closing the ticket; just reply if "
        "anything comes up again.\n\nBest,\n{{agent}}",
        "set_status": "resolved",
    },
    {
        "name": "Escalate to engineering",
        "shortcut": "escalate",
        "type": "internal_note",
        "body": "Escalating to engineering: {{ticket.subject}} ({{ticket.id}}). Customer: {{customer.name}}.",
        "set_priority": "high",
        "add_tags": ["engineering"],
    },
]


@dataclass
class DemoSize:
    tickets: int = 2000
    customers: int = 400
    weeks: int = 8


def _office_time(rng: random.Random, start: datetime, span: timedelta) -> datetime:
    """A moment inside `span`, biased to weekday office hours like real ticket traffic."""
    for _ in range(20):
        t = start + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        if (t.weekday() < 5 and 8 <= t.hour < 19) or rng.random() < 0.15:
            return t.replace(microsecond=0)
    return t.replace(microsecond=0)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _customer_ops(rng: random.Random, n: int, start: datetime) -> list[dict[str, Any]]:
    ops = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        ops.append(
            {
                "type": "upsert_record",
                "collection": "customers",
                "external_source": SOURCE,
                "external_id": f"C-{i + 1:05d}",
                "at": iso(start),
                "created_at": iso(start),
                "data": {
                    "name": f"{first} {last}",
                    "email": f"{_ascii(first)}.{_ascii(last)}.{i}@{domain}",
                    "plan": _pick(rng, WEIGHTS_PLAN),
                    "company": company,
                },
            }
        )
    return ops


def _ticket_ops(
    rng: random.Random, i: int, customer: dict[str, Any], created: datetime, now: datetime
) -> list[dict[str, Any]]:
    """One ticket's whole story, in time order: creation, replies, notes and status changes."""
    category = rng.choice(list(SUBJECTS))
    ref = f"t{i}"
    tid = f"$ref:{ref}"
    email = customer["data"]["email"]
    data = {
        "subject": rng.choice(SUBJECTS[category]),
        "description": f"{rng.choice(CUSTOMER_LINES)} (reported by {customer['data']['name']})",
        "status": "open",
        "priority": _pick(rng, WEIGHTS_PRIORITY),
        "category": category,
        "channel": rng.choice(["email", "email", "chat", "web", "phone"]),
        "tags": rng.sample(
            ["vip", "regression", "onboarding", "api", "mobile", "invoice", "sso"], rng.randint(0, 2)
        ),
    }
    if rng.random() < 0.7:
        data["assignee"] = rng.choice(AGENTS)
    ops: list[dict[str, Any]] = [
        {
            "type": "upsert_record",
            "collection": "tickets",
            "ref": ref,
            "external_source": SOURCE,
            "external_id": f"T-{i + 1:05d}",
            "at": iso(created),
            "created_at": iso(created),
            "data": data,
        },
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "at": iso(created),
            "source": {"collection": "tickets", "id": tid},
            "target": {"collection": "customers", "id": f"$ref:c:{customer['external_id']}"},
        },
    ]
    t = created
    n_resp = 0

    def respond(kind: str, author: str, body: str, at: datetime) -> None:
        nonlocal n_resp
        n_resp += 1
        rref = f"{ref}r{n_resp}"
        ops.append(
            {
                "type": "upsert_record",
                "collection": "responses",
                "ref": rref,
                "at": iso(at),
                "created_at": iso(at),
                "external_source": SOURCE,
                "external_id": f"T-{i + 1:05d}-R{n_resp}",
                "data": {"body": body, "type": kind, "author": author, "timestamp": iso(at)},
            }
        )
        ops.append(
            {
                "type": "upsert_relationship",
                "rel_type": "has_response",
                "at": iso(at),
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "responses", "id": f"$ref:{rref}"},
            }
        )

    def status(value: str, at: datetime) -> None:
        ops.append(
            {
                "type": "patch_record",
                "collection": "tickets",
                "id": tid,
                "at": iso(at),
                "data": {"status": value},
            }
        )

    agent: str = str(data.get("assignee") or rng.choice(AGENTS))
    steps = rng.choice(
        [
            ["reply", "resolve"],
            ["reply", "wait", "customer", "reply", "resolve"],
            ["note", "reply", "customer", "reply", "resolve"],
            ["reply", "wait"],
            ["note"],
            [],
        ]
    )
    for step in steps:
        t = t + timedelta(minutes=rng.choice([12, 35, 90, 240, 600, 1500]) * rng.uniform(0.5, 1.5))
        if t >= now:
            break
        if step == "reply":
            respond("reply", agent, rng.choice(AGENT_LINES), t)
            status("in_progress", t)
        elif step == "note":
            respond("internal_note", agent, rng.choice(NOTES), t)
        elif step == "customer":
            respond("reply", email, rng.choice(CUSTOMER_LINES), t)
        elif step == "wait":
            status("waiting", t)
        elif step == "resolve":
            status("resolved", t)
            later = t + timedelta(days=rng.uniform(1, 4))
            if later < now and rng.random() < 0.7:
                status("closed", later)
    return ops


def _pack(groups: Iterator[list[dict[str, Any]]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for g in groups:
        if batch and len(batch) + len(g) > size:
            yield batch
            batch = []
        batch.extend(g)
    if batch:
        yield batch


def load(
    core: Deskbase, workspace_id: str, actor: Actor, size: DemoSize | None = None, seed: int = 42
) -> dict[str, int]:
    """Apply the support template and load demo data, unless the workspace already holds tickets."""
    size = size or DemoSize()
    core.templates.apply(workspace_id, "support", actor)
    if core.records.query(workspace_id, "tickets", limit=1)["data"]:
        return {"tickets": 0, "customers": 0, "skipped": 1}
    rng = random.Random(seed)
    now = core.clock.now()
    core.batch.run(
        workspace_id, [{"type": "upsert_record", "collection": "macros", "data": m} for m in MACROS], actor
    )
    start = now - timedelta(weeks=size.weeks)
    customers = _customer_ops(rng, size.customers, start - timedelta(days=30))
    id_of: dict[str, str] = {}
    for chunk in _pack(iter([[c] for c in customers]), core.settings.max_batch_operations):
        for r in core.batch.run(workspace_id, chunk, actor)["results"]:
            id_of[r["record"]["external_id"]] = r["record"]["id"]
    span = now - start
    times = sorted(_office_time(rng, start, span) for _ in range(size.tickets))

    def tickets() -> Iterator[list[dict[str, Any]]]:
        for i, created in enumerate(times):
            cust = rng.choice(customers)
            ops = _ticket_ops(rng, i, cust, created, now)
            ops[1]["target"]["id"] = id_of[cust["external_id"]]
            yield ops

    total = 0
    for chunk in _pack(tickets(), core.settings.max_batch_operations):
        core.batch.run(workspace_id, chunk, actor)
        total += len(chunk)
    return {"tickets": size.tickets, "customers": size.customers, "operations": total + len(customers)}
