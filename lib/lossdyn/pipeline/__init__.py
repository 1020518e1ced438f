"""The companion's pipeline: configs, units of work, results cache, sweeps, figures, the book build."""
