"""lossdyn: the shared library of the loss-dynamics paper companion.

Paper 1 (soft cross-entropy, turnpikes): :mod:`lossdyn.dissipativity.soft_ce`.
Pipeline: :mod:`lossdyn.pipeline.config` (typed configs), :mod:`lossdyn.pipeline.cache` (results cache),
:mod:`lossdyn.pipeline.plotting` (style and ``save_figure``), :mod:`lossdyn.pipeline.runner` and
``python -m lossdyn build`` (papermill + Jupyter Book).
"""

__version__ = "0.1.0"
