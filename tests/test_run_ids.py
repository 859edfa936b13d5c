"""Run ids are the names of records made over CPU-hours or on a lent GPU: a refactor must never change them.

``tests/data/run_ids.json`` pins every run id (parents included) of every chapter's default sweep for every
profile it had when the file was written; a change to a config's fields, defaults or hashing fails here.
"""
import json

import pytest
from conftest import REPO

from qrepro.chapters import first_phase
from qrepro.runs.shard import lineage

PINNED = json.loads((REPO / "tests" / "data" / "run_ids.json").read_text())


@pytest.mark.parametrize("key", sorted(PINNED))
def test_every_run_id_of_every_default_sweep_is_unchanged(key):
    chapter, profile = key.split("/")
    ids = sorted({c.run_id for config in first_phase(chapter, profile=profile) for c in lineage(config)})
    assert ids == PINNED[key]
