"""Report helpers: paper reference tables, paper-vs-ours comparisons (compare), provenance tables, plots."""
from .compare import accuracy_table, compare, show_accuracy
from .display import show_tables
from .plots import epochs_frame, histogram_on_levels, level_sets, per_layer, training_curves
from .reference import paper_table
from .tables import cost_table, provenance_table, runs_frame, show_table, variant

__all__ = [
    "accuracy_table",
    "compare",
    "cost_table",
    "epochs_frame",
    "histogram_on_levels",
    "level_sets",
    "paper_table",
    "per_layer",
    "provenance_table",
    "runs_frame",
    "show_accuracy",
    "show_table",
    "show_tables",
    "training_curves",
    "variant",
]
