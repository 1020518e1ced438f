"""lossdyn: the shared library of the loss-dynamics paper companion.

Paper 1 (soft cross-entropy, turnpikes): :mod:`lossdyn.soft_ce`.
Pipeline: :mod:`lossdyn.config` (typed configs), :mod:`lossdyn.cache` (results cache),
:mod:`lossdyn.plotting` (style and ``save_figure``), :mod:`lossdyn.runner` and
``python -m lossdyn build`` (papermill + Jupyter Book).
"""

__version__ = "0.1.0"
