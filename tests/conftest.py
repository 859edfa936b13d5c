"""Shared fixtures: every test that runs something records it under a temporary runs folder."""
from pathlib import Path

import pytest
import torch

from qrepro.runs import behaviour

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("QREPRO_RUNS", str(root))
    return root


@pytest.fixture
def one_thread(monkeypatch):
    """One CPU thread, here and in a notebook kernel the test starts: the small models of the tests gain nothing
    from two, and a shared machine runs them faster with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def session_store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("behaviour-store")


@pytest.fixture(autouse=True)
def behaviour_store(session_store, monkeypatch) -> Path:
    """Behaviour fingerprints computed in a test's process are kept in a store of the test session, never in the
    user's (a test that patches the package computes other fingerprints: it turns the store off)."""
    monkeypatch.setattr(behaviour, "store_dir", lambda: session_store)
    return session_store
