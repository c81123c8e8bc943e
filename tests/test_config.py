"""Settings come from one registry; env vars override defaults; every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskbase.config import Settings, describe, render_docs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_env_overrides_and_types() -> None:
    s = Settings.from_env(
        {"DESKBASE_PORT": "9000", "DESKBASE_REPLICATE": "false", "DESKBASE_DATA_DIR": "/tmp/x"}
    )
    assert s.port == 9000 and s.replicate is False and s.data_dir == "/tmp/x"
    assert Settings.from_env({}, port=1234).port == 1234
    with pytest.raises(ValueError, match="DESKBASE_PORT"):
        Settings.from_env({"DESKBASE_PORT": "lots"})


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [d["env"] for d in describe() if d["env"] not in text]
    assert missing == []


def test_the_configuration_page_is_generated_from_the_registry() -> None:
    assert DOCS.read_text() == render_docs(), "stale: python -m deskbase.config > docs/configuration.md"
