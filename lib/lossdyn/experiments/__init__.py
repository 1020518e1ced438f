"""Experiments: one module per notebook, each with its config, ``run`` and ``claims``.

Importing this package registers every config in :data:`lossdyn.config.REGISTRY`.
"""

from lossdyn.experiments import soft_ce_geometry

__all__ = ["soft_ce_geometry"]
