"""Experiments: one module per notebook, each with its config, ``run`` and ``claims``.

Importing this package imports every module in it, which registers each config class in
:data:`lossdyn.config.REGISTRY` under its notebook's name (no list to keep in sync).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
