"""Report helpers: paper reference tables, accuracy-drop and provenance tables, plots."""
from .plots import epochs_frame, histogram_on_levels, level_sets, per_layer, training_curves
from .reference import paper_table
from .scoreboard import real_data_rows
from .tables import accuracy_table, cost_table, provenance_table, runs_frame, show_accuracy, show_table, variant

__all__ = [
    "accuracy_table",
    "cost_table",
    "epochs_frame",
    "histogram_on_levels",
    "level_sets",
    "paper_table",
    "per_layer",
    "provenance_table",
    "real_data_rows",
    "runs_frame",
    "show_accuracy",
    "show_table",
    "training_curves",
    "variant",
]
