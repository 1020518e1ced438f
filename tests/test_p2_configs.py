"""Paper 2 notebook configs: the range checks name the key and what is allowed."""

from __future__ import annotations

import pytest

from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.figures import config_class
from lossdyn.pipeline.paths import notebook_dir
from lossdyn.pipeline.runner import notebook_defaults

BAD = {
    "p2_fig1_size_vs_learning_rate": [("widths", [100, 10]), ("etas", [0.0]), ("time_budget", 1.0)],
    "p2_fig2_3_period_doubling": [("A", 0.5), ("dense_every", 1000), ("dtype", "float16")],
    "p2_fig4_validation_accuracy": [("dmse2_weighting", "per_sample"), ("widths", [10, 10]), ("T", 1)],
    "p2_fig5_edge_of_stability": [("amplitudes", [1.0]), ("time_budget", 10.0), ("workers", 0)],
}


@pytest.mark.parametrize(("notebook", "key", "value"), [(n, k, v) for n, cases in BAD.items() for k, v in cases])
def test_bad_values_are_rejected_with_the_key_named(notebook, key, value):
    cls = config_class(notebook)
    defaults = notebook_defaults(notebook_dir() / f"{notebook}.ipynb")
    cls.from_mapping(defaults)
    with pytest.raises(ConfigError, match=f"^{key}"):
        cls.from_mapping({**defaults, key: value})
