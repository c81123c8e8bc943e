"""`deskbase batch`: operations from a file, as one transaction or in chunks of separate transactions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.cli_harness import Cli, write_json


def _ticket(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "upsert_record",
        "collection": "tickets",
        "data": {"subject": f"t{i}", "status": "open", "priority": "low"},
        **extra,
    }


def _count(cli: Cli, ws: str) -> int:
    return len(cli.json("records", "query", "tickets", "-w", ws, "--limit", "1000", "--all")["data"])


def test_batch_from_a_file_with_refs(cli: Cli, acme: str, tmp_path: Path) -> None:
    ops = {
        "operations": [
            _ticket(0, ref="t"),
            {
                "type": "upsert_document",
                "collection": "customers",
                "ref": "c",
                "data": {"name": "Ada", "email": "ada@example.com"},
            },
            {
                "type": "upsert_relationship",
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": "$ref:t"},
                "target": {"collection": "customers", "id": "$ref:c"},
            },
        ]
    }
    path = write_json(tmp_path / "ops.json", ops)
    out = cli.json("batch", "-w", acme, "--operations", path)
    assert [r["index"] for r in out["results"]] == [0, 1, 2]
    ticket = out["results"][0]["record"]["id"]
    links = cli.json("relationships", "list", "tickets", ticket, "-w", acme)["data"]
    assert links[0]["target"]["id"] == out["results"][1]["record"]["id"]
    # A bare list works too; the default output is one summary line.
    assert (
        cli("batch", "-w", acme, "--operations", json.dumps([_ticket(1)])).stdout
        == "applied 1 operations (1 created)\n"
    )


def test_batch_is_atomic(cli: Cli, acme: str) -> None:
    ops = [_ticket(0), {**_ticket(1), "data": {"subject": "no status"}}]
    out = cli("batch", "-w", acme, "--operations", json.dumps(ops), expect=1)
    assert out.stderr.startswith("error: validation_failed: operation 1: ") and "/data" in out.stderr
    assert _count(cli, acme) == 0


def test_large_files_go_in_chunks_of_1000(cli: Cli, acme: str, tmp_path: Path) -> None:
    path = write_json(tmp_path / "ops.json", [_ticket(i) for i in range(1500)])
    out = cli("batch", "-w", acme, "--operations", path)
    assert out.stdout == "applied 1500 operations (1500 created) in 2 transactions\n"
    assert _count(cli, acme) == 1500


def test_a_failing_chunk_is_named_and_earlier_chunks_stay(cli: Cli, acme: str) -> None:
    ops = [_ticket(i) for i in range(5)]
    ops[3]["data"] = {"subject": "bad", "status": "nope", "priority": "low"}
    out = cli("batch", "-w", acme, "--operations", "@-", "--chunk-size", "2", input=json.dumps(ops), expect=1)
    assert out.stderr.startswith(
        "error: validation_failed: chunk 2 of 3 (operations 2-3) failed and chunk 1 stays applied: operation 1: "
    )
    assert "(/data/status: " in out.stderr and out.stderr.endswith(" (operation 3 of the file)\n")
    assert _count(cli, acme) == 2


def test_chunked_results_are_numbered_across_the_file(cli: Cli, acme: str) -> None:
    out = cli.json(
        "batch", "-w", acme, "--operations", json.dumps([_ticket(i) for i in range(5)]), "--chunk-size", "2"
    )
    assert [r["index"] for r in out["results"]] == [0, 1, 2, 3, 4]
    assert [r["record"]["data"]["subject"] for r in out["results"]] == ["t0", "t1", "t2", "t3", "t4"]


def test_operations_must_be_a_list(cli: Cli, acme: str) -> None:
    out = cli("batch", "-w", acme, "--operations", '{"ops": []}', expect=1)
    assert (
        out.stderr
        == 'error: bad_input: --operations must hold a list of operations or {"operations": [...]}\n'
    )


def test_chunked_batches_show_progress_on_a_terminal(cli: Cli, acme: str) -> None:
    ops = json.dumps([_ticket(i) for i in range(3)])
    shown = cli("batch", "-w", acme, "--operations", ops, "--chunk-size", "1", env={"FORCE_COLOR": "1"})
    assert "applying batch" in shown.stderr and shown.stdout.endswith("in 3 transactions\n")
    assert cli("batch", "-w", acme, "--operations", ops, "--chunk-size", "1").stderr == ""  # not a terminal
    paged = cli(
        "records",
        "query",
        "tickets",
        "-w",
        acme,
        "--limit",
        "2",
        "--all",
        "-o",
        "json",
        env={"FORCE_COLOR": "1"},
    )
    assert "fetching records" in paged.stderr and len(json.loads(paged.stdout)["data"]) == 6
