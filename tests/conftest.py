"""Shared fixtures: every test that runs something records it under a temporary runs folder."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("QREPRO_RUNS", str(root))
    return root
