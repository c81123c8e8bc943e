"""Records: upsert/get/query/patch/replace/delete through the CLI, every output format, JSON flag sources."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.cli.cli_harness import Cli, write_json

PRIORITIES = ["low", "medium", "high", "urgent", "low", "high", "medium"]


def _tickets(cli: Cli, ws: str) -> list[str]:
    return [
        cli(
            "records",
            "upsert",
            "tickets",
            "-w",
            ws,
            "--data",
            json.dumps({"subject": f"t{i}", "status": "open", "priority": p, "tags": ["a", "b"]}),
        ).stdout.strip()
        for i, p in enumerate(PRIORITIES)
    ]


def test_query_filter_sort_limit_and_cursor(cli: Cli, acme: str) -> None:
    _tickets(cli, acme)
    flt = '{"field": "data.priority", "op": "in", "value": ["low", "medium", "high"]}'
    srt = '[{"field": "data.subject", "direction": "desc"}]'
    first = cli.json(
        "records", "query", "tickets", "-w", acme, "--filter", flt, "--sort", srt, "--limit", "2"
    )
    assert [r["data"]["subject"] for r in first["data"]] == ["t6", "t5"]
    assert first["next_cursor"]
    second = cli(
        "records",
        "query",
        "tickets",
        "-w",
        acme,
        "--filter",
        flt,
        "--sort",
        srt,
        "--limit",
        "2",
        "--cursor",
        first["next_cursor"],
        "-o",
        "csv",
    )
    assert [row["data.subject"] for row in csv.DictReader(io.StringIO(second.stdout))] == ["t4", "t2"]
    assert second.stderr.startswith("more results: --cursor ")  # people get the next cursor, CSV stays clean

    every = cli.json(
        "records", "query", "tickets", "-w", acme, "--filter", flt, "--sort", srt, "--limit", "2", "--all"
    )
    assert [r["data"]["subject"] for r in every["data"]] == ["t6", "t5", "t4", "t2", "t1", "t0"]
    assert every["next_cursor"] is None
    table = cli("records", "query", "tickets", "-w", acme, "--limit", "3", "--all").stdout
    assert all(f" t{i} " in table for i in range(7))


def test_output_formats(cli: Cli, acme: str) -> None:
    rid = _tickets(cli, acme)[0]
    table = cli("records", "get", "tickets", rid, "-w", acme).stdout
    assert "data.subject" in table and " t0" in table and '["a","b"]' in table
    rows = list(
        csv.DictReader(io.StringIO(cli("records", "get", "tickets", rid, "-w", acme, "-o", "csv").stdout))
    )
    assert rows[0]["id"] == rid and rows[0]["data.priority"] == "low" and rows[0]["data.tags"] == '["a","b"]'
    assert rows[0]["deleted"] == "false" and rows[0]["external_id"] == ""
    listed = cli("records", "query", "tickets", "-w", acme, "-o", "csv").stdout.splitlines()
    assert (
        listed[0].split(",")[:2] == ["id", "collection"] and "data.subject" in listed[0] and len(listed) == 8
    )
    assert (
        json.loads(cli("records", "query", "tickets", "-w", acme, "-o", "json").stdout)["next_cursor"] is None
    )
    empty = '{"field": "data.status", "op": "eq", "value": "closed"}'
    assert cli("records", "query", "tickets", "-w", acme, "--filter", empty).stdout == "(no results)\n"
    full = cli.json(
        "records",
        "upsert",
        "tickets",
        "-w",
        acme,
        "--data",
        '{"subject": "s", "status": "open", "priority": "low"}',
    )
    assert full["collection"] == "tickets" and full["version"] > 0


def test_json_flags_from_file_stdin_and_inline(cli: Cli, acme: str, tmp_path: Path) -> None:
    data = {"subject": "from a file", "status": "open", "priority": "low"}
    from_file = cli(
        "records", "upsert", "tickets", "-w", acme, "--data", write_json(tmp_path / "t.json", data)
    )
    from_stdin = cli(
        "records",
        "upsert",
        "tickets",
        "-w",
        acme,
        "--data",
        "@-",
        input=json.dumps({**data, "subject": "from stdin"}),
    )
    flt = write_json(tmp_path / "f.json", {"field": "data.subject", "op": "like", "value": "from%"})
    got = cli.json(
        "records", "query", "tickets", "-w", acme, "--filter", flt, "--sort", '[{"field": "created_at"}]'
    )
    assert [r["id"] for r in got["data"]] == [from_file.stdout.strip(), from_stdin.stdout.strip()]


def test_upsert_by_id_and_external_id(cli: Cli, acme: str) -> None:
    data = '{"subject": "x", "status": "open", "priority": "low"}'
    assert cli("records", "upsert", "tickets", "-w", acme, "--id", "T-1", "--data", data).stdout == "T-1\n"
    first = cli(
        "records",
        "upsert",
        "tickets",
        "-w",
        acme,
        "--data",
        data,
        "--external-id",
        "42",
        "--external-source",
        "zendesk",
    ).stdout
    again = cli.json(
        "records",
        "upsert",
        "tickets",
        "-w",
        acme,
        "--external-id",
        "42",
        "--external-source",
        "zendesk",
        "--data",
        '{"subject": "y", "status": "waiting", "priority": "low"}',
    )
    assert again["id"] == first.strip() and again["data"]["status"] == "waiting"


def test_patch_replace_if_match_and_delete(cli: Cli, acme: str) -> None:
    rid = _tickets(cli, acme)[0]
    version = cli.json("records", "get", "tickets", rid, "-w", acme)["version"]
    patched = cli.json(
        "records",
        "patch",
        "tickets",
        rid,
        "-w",
        acme,
        "--if-match",
        str(version),
        "--data",
        '{"assignee": "bob", "tags": null}',
    )
    assert patched["data"]["assignee"] == "bob" and "tags" not in patched["data"]
    stale = cli(
        "records", "patch", "tickets", rid, "-w", acme, "--if-match", str(version), "--data", "{}", expect=1
    )
    assert stale.stderr.startswith("error: version_mismatch: ") and stale.stderr.count("\n") == 1
    replaced = cli.json(
        "records",
        "replace",
        "tickets",
        rid,
        "-w",
        acme,
        "--if-match",
        str(patched["version"]),
        "--data",
        '{"subject": "new", "status": "closed", "priority": "urgent"}',
    )
    assert replaced["data"] == {"subject": "new", "status": "closed", "priority": "urgent"}
    cli("records", "delete", "tickets", rid, "-w", acme)
    assert cli.json("records", "get", "tickets", rid, "-w", acme, "--include-deleted")["deleted"] is True
    live = cli.json("records", "query", "tickets", "-w", acme, "--limit", "100")["data"]
    assert rid not in {r["id"] for r in live}
    assert rid in {
        r["id"] for r in cli.json("records", "query", "tickets", "-w", acme, "--include-deleted")["data"]
    }
    history = cli("records", "history", "tickets", rid, "-w", acme, "-o", "csv").stdout
    assert [row["op"] for row in csv.DictReader(io.StringIO(history))] == [
        "create",
        "update",
        "update",
        "delete",
    ]


@pytest.mark.parametrize("word", ["records", "documents"])
def test_documents_is_an_alias_of_records(cli: Cli, acme: str, word: str) -> None:
    rid = cli(
        word,
        "upsert",
        "tickets",
        "-w",
        acme,
        "--data",
        '{"subject": "alias", "status": "open", "priority": "low"}',
    ).stdout.strip()
    assert cli.json(word, "get", "tickets", rid, "-w", acme)["data"]["subject"] == "alias"
    assert cli.json(word, "query", "tickets", "-w", acme)["data"][0]["id"] == rid


def test_workspace_from_environment(cli: Cli, acme: str) -> None:
    env = {"DESKBASE_WORKSPACE": acme}
    rid = cli(
        "records",
        "upsert",
        "tickets",
        "--data",
        '{"subject": "e", "status": "open", "priority": "low"}',
        env=env,
    ).stdout.strip()
    assert cli.json("records", "get", "tickets", rid, env=env)["id"] == rid
    other = cli("records", "get", "tickets", rid, "-w", "nowhere", env=env, expect=1)  # the flag wins
    assert other.stderr == "error: not_found: workspace 'nowhere' not found\n"
    missing = cli("records", "get", "tickets", rid, expect=2)
    assert "no workspace given" in missing.output


def test_a_table_too_wide_for_the_terminal_keeps_one_line_per_row(cli: Cli, acme: str) -> None:
    """80 columns: the columns that fit, cut with an ellipsis, the others named on stderr; nothing folded."""
    long = "a description long enough that it could never fit beside the other columns " * 3
    for i in range(3):
        data = {
            "subject": f"Printer {i} jams again {long}",
            "status": "open",
            "priority": "low",
            "description": long,
        }
        cli("records", "upsert", "tickets", "-w", acme, "--data", json.dumps(data))
    out = cli("records", "query", "tickets", "-w", acme, env={"COLUMNS": "80"})
    lines = out.stdout.splitlines()
    assert len(lines) == 2 + 3 and all(len(line) <= 80 for line in lines)
    assert lines[0].split()[0] == "id" and "data.subject" in lines[0]
    assert sum("Printer" in line for line in lines) == 3 and "…" in out.stdout
    assert "more column(s):" in out.stderr and "data.description" in out.stderr and "-o json" in out.stderr
    wide = cli("records", "query", "tickets", "-w", acme).stdout  # COLUMNS=1000: every column, nothing cut
    assert "…" not in wide and "data.description" in wide and long.strip() in wide
