"""Helpers of the tests: executing a chapter notebook under papermill and reading its tables back; killing a run
mid-training and resuming it."""
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from conftest import REPO

from qrepro.config import TrainConfig
from qrepro.runs import behaviour, get_or_run, run_dir
from qrepro.train import loop


def killed_and_resumed(config: TrainConfig, monkeypatch: pytest.MonkeyPatch, after_epochs: int) -> dict[str, Any]:
    """Train ``config``, kill it right after its checkpoint of epoch ``after_epochs`` is written, check that the
    checkpoint and no record is left, then run it again; the record of the resumed run."""
    original = loop.save_checkpoint

    def save_then_die(path: Path, state: dict[str, Any]) -> None:
        original(path, state)
        if path.parent.name == config.run_id and len(state["history"]) == after_epochs:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        get_or_run(config, progress=False)
    assert (run_dir(config) / "checkpoint.pt").exists() and not (run_dir(config) / "record.json").exists()
    monkeypatch.setattr(loop, "save_checkpoint", original)
    return get_or_run(config, progress=False)


def epoch_metrics(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every epoch's entry of a record without its wall time: what a resumed run must reproduce exactly."""
    return [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in record["epochs"]]


def run_chapter(name: str, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    out = tmp_path / f"{name}-{'-'.join(f'{k}{v}' for k, v in parameters.items())}.ipynb"
    return papermill.execute_notebook(str(REPO / "book" / f"{name}.ipynb"), str(out), parameters=parameters,
                                      kernel_name="python3", cwd=str(REPO / "book"), progress_bar=False)


def table_output(notebook: nbformat.NotebookNode, call: str) -> list[dict[str, str]]:
    """The rows of the DataFrame that the cell calling ``call`` displays (from its HTML output)."""
    html = next(o["data"]["text/html"] for c in notebook.cells if c.cell_type == "code" and call in c.source
                for o in c.outputs if "text/html" in o.get("data", {}))  # the first such cell that shows a table
    head, body = html.split("</thead>")
    columns = [c.strip() for c in re.findall(r"<th[^>]*>(.*?)</th>", head)]
    rows = [[c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in body.split("</tr>")[:-1]]
    columns = columns[len(columns) - len(rows[0]):] if rows else columns  # drop the index column, if shown
    return [dict(zip(columns, row)) for row in rows]


def assert_run_links_resolve(notebook: nbformat.NotebookNode) -> set[str]:
    """Every run linked from a table of the notebook has its row in the provenance table of the page's own runs (the
    last cell); returns the linked run ids."""
    html = [o["data"]["text/html"] for c in notebook.cells if c.cell_type == "code"
            for o in c.outputs if "text/html" in o.get("data", {})]
    linked = {i for page in html[:-1] for i in re.findall(r'href="#run-([^"]+)"', page)}
    provenance = set(re.findall(r'id="run-([^"]+)"', html[-1]))
    assert linked, "no table links to its runs"
    assert linked <= provenance, f"linked runs missing from the provenance table: {sorted(linked - provenance)}"
    return linked


def forget_fingerprints() -> None:
    """Drop the behaviour fingerprints this process remembers (the store on disk stays)."""
    behaviour._stored_fingerprint.cache_clear()
    behaviour._fingerprint.cache_clear()
    behaviour._lifecycle.cache_clear()


def rewrite_record(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` as the run itself would have (its content digest recomputed): a legitimate record
    made by other code, not an edit of one."""
    from qrepro.runs.record import content_digest

    path.write_text(json.dumps({**record, "digest": content_digest(record)}))


def require_kernels() -> None:
    """Skip the calling test module where the fused CPU kernels do not build, unless QREPRO_KERNELS=compiled (as CI
    sets it): then that is a failure, so that a broken build cannot pass unnoticed."""
    import os

    from qrepro.quantizers import cpu_kernels

    built = cpu_kernels._build()
    if not isinstance(built, Exception):
        return
    if os.environ.get("QREPRO_KERNELS") == "compiled":
        pytest.fail(f"QREPRO_KERNELS=compiled, but the fused CPU kernels did not build: {built}", pytrace=False)
    pytest.skip(f"the fused CPU kernels did not build here: {built}", allow_module_level=True)
