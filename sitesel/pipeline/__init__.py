"""The jobs the command line and the API both run, from options to files: opening a study, a rank
run over one or more park types, and writing a run folder and the products drawn from it.
"""
