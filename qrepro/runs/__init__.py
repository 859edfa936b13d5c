"""Run records: a config in, a record out; get_or_run() skips work already recorded."""
from .behaviour import is_stale
from .chapter import Shown, complete, recorded_chapter, run_chapter, run_chapters
from .record import RecordError, read_record, record_config
from .store import find_record, get_or_run, get_or_run_all, recorded, run_dir, runs_dir, unreadable, weights_path

__all__ = [
    "RecordError",
    "Shown",
    "complete",
    "find_record",
    "get_or_run",
    "get_or_run_all",
    "is_stale",
    "read_record",
    "record_config",
    "recorded",
    "recorded_chapter",
    "run_dir",
    "run_chapter",
    "run_chapters",
    "runs_dir",
    "unreadable",
    "weights_path",
]
