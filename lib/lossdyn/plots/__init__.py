"""Plot functions, one module per experiment; each takes a run's result and returns a Figure.

They never train or compute anything beyond presentation.
"""
