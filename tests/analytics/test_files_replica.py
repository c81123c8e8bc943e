"""`files` reaches the SQL replica: metadata only, deletions included, readable with read:files."""

from __future__ import annotations

from tests.conftest import Api

WS = "/v1/workspaces/acme"


def test_file_metadata_is_queryable_with_sql(sql_api: Api) -> None:
    api = sql_api
    assert api.put(WS, json={"name": "Acme"}).status_code == 201
    a = api.post(f"{WS}/files", files={"file": ("a.png", b"png", "image/png")}).json()
    b = api.post(f"{WS}/files", files={"file": ("b.txt", b"text!", "text/plain")}).json()
    assert api.delete(f"{WS}/files/{b['id']}").status_code == 204
    q = "SELECT id, name, content_type, size, sha256, deleted FROM files FINAL ORDER BY name"
    r = api.post(f"{WS}/sql", json={"query": q})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [
        [a["id"], "a.png", "image/png", 3, a["sha256"], False],
        [b["id"], "b.txt", "text/plain", 5, b["sha256"], True],
    ]
    raw, _ = api.core.tokens.create(  # type: ignore[attr-defined]
        "sql-only", [{"scope": {"workspaces": ["acme"]}, "permissions": ["sql", "read:records"]}]
    )
    denied = api.post(f"{WS}/sql", json={"query": "SELECT count() FROM files"}, token=raw)
    assert denied.status_code == 403 and denied.json()["error"]["details"]["permission"] == "read:files"
