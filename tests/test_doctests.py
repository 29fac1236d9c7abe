"""The examples in docstrings run and say what they show."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sitesel.errors",
    "sitesel.analysis.valuefn",
    "sitesel.analysis.sites",
    "sitesel.analysis.profile_documents",
    "sitesel.analysis.overrides",
    "sitesel.io.toml",
    "sitesel.io.formats",
    "sitesel.io.attributes",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    # A module without examples yet passes (attempted == 0); any failing example fails the test.
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see above)"
