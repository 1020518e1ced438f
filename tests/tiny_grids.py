"""Tiny configs of the grid notebooks (seconds on a CPU), for the unit and sweep tests."""

from __future__ import annotations

from typing import Any

from lossdyn.pipeline.config import ExperimentConfig
from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.paths import notebook_dir
from lossdyn.pipeline.runner import notebook_defaults

TINY: dict[str, dict[str, Any]] = {
    "p2_fig5_edge_of_stability": {
        "H": 20,
        "etas": [1.0, 2.0],
        "periods": [100, 200],
        "time_budget": 1200.0,
        "n_seeds": 2,
        "workers": 1,
    },
    "p2_fig4_validation_accuracy": {
        "widths": [5, 10],
        "n_seeds_ce": 2,
        "n_seeds_mse": 1,
        "T": 50,
        "n_periods": 3,
        "n_periods_mse": 2,
        "workers": 1,
    },
    "p1_turnpike_horizon": {
        "depths": [3, 5],
        "state_dims": [4],
        "seeds": 2,
        "steps": 40,
        "n_per_class": 30,
        "width": 6,
    },
    "p1_fig5_mnist_layer_loss": {
        "depth_stage": 4,
        "depths_without": [3, 2],
        "n_train": 200,
        "n_test": 50,
        "epochs": 1,
        "width": 8,
    },
}


def tiny(notebook: str, **changes: Any) -> ExperimentConfig:
    values = notebook_defaults(notebook_dir() / f"{notebook}.ipynb")
    values.update(TINY[notebook])
    values.update(changes)
    return config_class(notebook).from_mapping(values)
