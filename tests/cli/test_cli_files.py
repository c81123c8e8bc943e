"""`deskbase files upload|show|download` against a real server: bytes in, the same bytes out."""

from __future__ import annotations

from pathlib import Path

from tests.cli.cli_harness import Cli


def test_files_round_trip(cli: Cli, acme: str, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_bytes(b"line one\nline two\n" * 50_000)  # ~900 KB: streamed both ways
    fid = cli("files", "upload", str(src), "-w", acme).stdout.strip()
    meta = cli.json("files", "show", fid, "-w", acme)
    assert (meta["id"], meta["name"], meta["content_type"]) == (fid, "notes.txt", "text/plain")
    assert meta["size"] == src.stat().st_size
    dest = tmp_path / "out" / "copy.txt"
    dest.parent.mkdir()
    cli("files", "download", fid, "-o", str(dest), "-w", acme)
    assert dest.read_bytes() == src.read_bytes()
    assert cli("files", "download", fid, "-w", acme).stdout_bytes == src.read_bytes()


def test_files_errors_are_one_line(cli: Cli, acme: str, tmp_path: Path) -> None:
    missing = cli("files", "show", "nope", "-w", acme, expect=1)
    assert missing.stderr.strip() == "error: not_found: file 'nope' not found"
    dest = tmp_path / "x.bin"
    gone = cli("files", "download", "nope", "-o", str(dest), "-w", acme, expect=1)
    assert gone.stderr.strip().startswith("error: not_found:") and not dest.exists()
    assert cli("files", "upload", str(tmp_path / "absent"), "-w", acme, expect=1).stderr.startswith("error:")
