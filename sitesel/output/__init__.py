"""Writing a run: the staged output folder, run records, vector exports and the suitability COG.
"""
