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


@pytest.mark.slow
def test_every_record_in_the_tree_is_current():
    """A refactor keeps every record current, not only its run id: each record's behaviour (and lifecycle)
    fingerprint is what the code here computes for its config. A change that really changes what a run computes
    fails here by design: re-run the runs it affects, or say in the change why their records now read as older code."""
    from qrepro.runs import is_stale, recorded

    records = [r for r in recorded() if r["config"]["profile"] != "smoke"]  # smoke runs re-run when stale
    assert records, "no records of real data under runs/"
    stale = [r["run_id"] for r in records if is_stale(r)]
    assert not stale, f"{len(stale)} of {len(records)} records are no longer current: {stale[:10]}"
