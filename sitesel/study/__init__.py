"""One region on one analysis grid: the region and grid, the land policy and candidate cells, the inputs read
for them and the checks made before any work.
"""

__all__: list[str] = []
