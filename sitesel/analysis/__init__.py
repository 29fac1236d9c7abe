"""From measures to ranked sites: value functions, profiles, AHP weights, scoring, site delineation,
evidence, ranking and re-ranking, sensitivity and run comparison.
"""
