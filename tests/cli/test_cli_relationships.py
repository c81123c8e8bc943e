"""Relationship types and relationships: upsert, list in every direction, cardinality, delete."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.cli.cli_harness import Cli, write_json


def _record(cli: Cli, ws: str, collection: str, data: str) -> str:
    return cli("records", "upsert", collection, "-w", ws, "--data", data).stdout.strip()


def _ticket(cli: Cli, ws: str, subject: str) -> str:
    return _record(cli, ws, "tickets", f'{{"subject": "{subject}", "status": "open", "priority": "low"}}')


def test_relationship_types(cli: Cli, acme: str, tmp_path: Path) -> None:
    schema = write_json(tmp_path / "s.json", {"type": "object", "properties": {"role": {"type": "string"}}})
    out = cli(
        "relationship-types",
        "upsert",
        "cc",
        "-w",
        acme,
        "--source-collections",
        "tickets",
        "--target-collections",
        "customers,responses",
        "--cardinality",
        "one",
        "--description",
        "Copied",
        "--schema",
        schema,
    )
    assert out.stdout.startswith("cc (version ")
    got = cli.json("relationship-types", "get", "cc", "-w", acme)
    assert got["target_collections"] == ["customers", "responses"] and got["cardinality"] == "one"
    assert got["schema"]["properties"]["role"] == {"type": "string"}
    listed = cli("relationship-types", "list", "-w", acme, "-o", "csv").stdout
    assert [r["rel_type"] for r in csv.DictReader(io.StringIO(listed))] == [
        "cc",
        "has_response",
        "related_to",
        "submitted_by",
    ]
    bad = cli("relationship-types", "upsert", "cc", "-w", acme, "--source-collections", "nope", expect=1)
    assert bad.stderr.startswith("error: not_found: collection 'nope'")
    cli("relationship-types", "delete", "cc", "-w", acme, "--yes")
    assert cli("relationship-types", "get", "cc", "-w", acme, expect=1).stderr.startswith("error: not_found:")


def test_relationships_directions_and_delete(cli: Cli, acme: str) -> None:
    a, b, c = (_ticket(cli, acme, s) for s in "abc")
    ab = cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{a}",
        "--target",
        f"tickets/{b}",
        "--type",
        "related_to",
        "-w",
        acme,
        "--data",
        '{"why": "same bug"}',
    ).stdout.strip()
    cb = cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{c}",
        "--target",
        f"tickets/{b}",
        "--type",
        "related_to",
        "-w",
        acme,
    ).stdout.strip()
    ba = cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{b}",
        "--target",
        f"tickets/{a}",
        "--type",
        "related_to",
        "-w",
        acme,
    ).stdout.strip()

    def ids(direction: str, *extra: str) -> set[str]:
        page = cli.json("relationships", "list", "tickets", b, "--direction", direction, "-w", acme, *extra)
        return {r["id"] for r in page["data"]}

    assert ids("outgoing") == {ba}
    assert ids("incoming") == {ab, cb}
    assert ids("both") == {ab, cb, ba}
    assert ids("both", "--type", "related_to", "--limit", "1", "--all") == {ab, cb, ba}
    table = cli("relationships", "list", "tickets", b, "--direction", "incoming", "-w", acme).stdout
    assert "source.id" in table and a in table and c in table
    assert cli.json("relationships", "get", ab, "-w", acme)["data"] == {"why": "same bug"}

    assert cli("relationships", "delete", ab, "-w", acme).stdout == f"deleted relationship {ab}\n"
    assert ids("incoming") == {cb}


def test_cardinality_one_needs_replace(cli: Cli, acme: str) -> None:
    ticket = _ticket(cli, acme, "t")
    ada, bob = (
        _record(cli, acme, "customers", f'{{"name": "{n}", "email": "{n}@example.com"}}')
        for n in ("ada", "bob")
    )
    cli(
        "relationship-types",
        "upsert",
        "submitted_by",
        "-w",
        acme,
        "--source-collections",
        "tickets",
        "--target-collections",
        "customers",
        "--cardinality",
        "one",
    )
    cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{ticket}",
        "--target",
        f"customers/{ada}",
        "--type",
        "submitted_by",
        "-w",
        acme,
    )
    second = cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{ticket}",
        "--target",
        f"customers/{bob}",
        "--type",
        "submitted_by",
        "-w",
        acme,
        expect=1,
    )
    assert second.stderr.startswith("error: conflict: ")
    cli(
        "relationships",
        "upsert",
        "--source",
        f"tickets/{ticket}",
        "--target",
        f"customers/{bob}",
        "--type",
        "submitted_by",
        "-w",
        acme,
        "--replace",
    )
    links = cli.json("relationships", "list", "tickets", ticket, "--type", "submitted_by", "-w", acme)["data"]
    assert [link["target"]["id"] for link in links] == [bob]


def test_endpoint_must_be_collection_slash_id(cli: Cli, acme: str) -> None:
    out = cli(
        "relationships",
        "upsert",
        "--source",
        "tickets",
        "--target",
        "customers/x",
        "--type",
        "t",
        "-w",
        acme,
        expect=2,
    )
    assert "is not COLLECTION/ID" in out.output
