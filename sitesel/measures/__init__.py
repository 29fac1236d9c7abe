"""Measures: the catalogue of what is measured at each candidate cell, the compiled kernels that measure it,
and the engine that runs them in tiles on worker processes or Dask.
"""

__all__: list[str] = []
