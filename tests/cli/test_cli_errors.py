"""Failures print exactly one line, `error: <code>: <message>`, on stderr and exit 1 (usage errors exit 2)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.cli.cli_harness import Cli, Server

TICKET = '{"subject": "s", "status": "open", "priority": "low"}'


def _one_line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text


def test_unknown_workspace(cli: Cli) -> None:
    out = cli("records", "query", "tickets", "-w", "nope", expect=1)
    assert _one_line(out.stderr) == "error: not_found: workspace 'nope' not found\n" and out.stdout == ""


@pytest.mark.parametrize("flag_value", ['{"subject": ', "@-"])
def test_invalid_json_never_reaches_the_server(cli: Cli, flag_value: str) -> None:
    dead = {"DESKBASE_URL": "http://127.0.0.1:9"}  # had the CLI called out, the error would be `unreachable`
    out = cli(
        "records", "upsert", "tickets", "-w", "acme", "--data", flag_value, input="{nope", env=dead, expect=1
    )
    assert _one_line(out.stderr).startswith("error: invalid_json: --data: ")


def test_missing_json_file(cli: Cli, tmp_path: Path) -> None:
    out = cli(
        "collections", "upsert", "t", "-w", "acme", "--schema", f"@{tmp_path / 'missing.json'}", expect=1
    )
    assert (
        _one_line(out.stderr) == f"error: bad_input: --schema: cannot read {tmp_path / 'missing.json'}: "
        "No such file or directory\n"
    )


def test_schema_violation_shows_the_pointer(cli: Cli, acme: str) -> None:
    out = cli(
        "records", "upsert", "tickets", "-w", acme, "--data", '{"subject": 1, "status": "open"}', expect=1
    )
    line = _one_line(out.stderr)
    assert line.startswith(
        "error: validation_failed: data does not match the schema of collection 'tickets' ("
    )
    assert "/data/subject: " in line and "/data: " in line  # wrong type, and the missing `priority`


def test_request_validation_is_one_line_too(cli: Cli, acme: str) -> None:
    out = cli("records", "upsert", "tickets", "-w", acme, "--data", "[1, 2]", expect=1)
    assert _one_line(out.stderr).startswith("error: validation_failed: invalid request: /data: ")


def test_bad_filter(cli: Cli, acme: str) -> None:
    out = cli(
        "records",
        "query",
        "tickets",
        "-w",
        acme,
        "--filter",
        '{"field": "data.status", "op": "nope"}',
        expect=1,
    )
    assert _one_line(out.stderr).startswith("error: invalid_filter: ")


def test_server_down(cli: Cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connections are refused
        out = cli("workspaces", "list", env={"DESKBASE_URL": url}, expect=1)
    assert (
        _one_line(out.stderr)
        == f"error: unreachable: cannot reach deskbase at {url}: is `deskbase serve` running?\n"
    )


def test_bad_and_missing_tokens(cli: Cli) -> None:
    bad = cli("workspaces", "list", env={"DESKBASE_TOKEN": "dsk_wrong"}, expect=1)
    assert _one_line(bad.stderr) == "error: unauthorized: invalid token\n"
    missing = cli("workspaces", "list", env={"DESKBASE_TOKEN": None}, expect=1)
    assert _one_line(missing.stderr).startswith("error: unauthorized: missing bearer token")
    assert "run `deskbase login`" in missing.stderr


def test_flag_token_beats_environment(cli: Cli, server: Server) -> None:
    cli("--token", server.token, "workspaces", "list", env={"DESKBASE_TOKEN": "dsk_wrong"})
    cli("--token", "dsk_wrong", "workspaces", "list", expect=1)


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("records", "get", "tickets", expect=2).exit_code == 2
    assert "Invalid value" in cli("records", "query", "t", "-w", "a", "-o", "yaml", expect=2).output
    assert "Usage: " in cli(expect=2).output  # bare `deskbase` shows help


def test_a_server_that_is_not_deskbase(cli: Cli) -> None:
    class Teapot(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(418)
            self.end_headers()
            self.wfile.write(b"<html>I'm a teapot</html>\n")

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Teapot)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        out = cli("workspaces", "list", env={"DESKBASE_URL": url}, expect=1)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert out.stderr == f"error: http_418: <html>I'm a teapot</html> (is {url} a deskbase server?)\n"


def test_version(cli: Cli) -> None:
    assert cli("--version").stdout.startswith("deskbase ")
