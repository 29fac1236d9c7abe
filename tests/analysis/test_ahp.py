"""AHP weights and consistency against a published example."""
from __future__ import annotations

import numpy as np
import pytest

from sitesel.analysis.ahp import ahp_from_table, ahp_weights
from sitesel.analysis.profiles import load_profile, resolve_profile
from sitesel.cli import main
from sitesel.errors import ProfileError

# Saaty, T. L. (1990). How to make a decision: The Analytic Hierarchy Process. European Journal
# of Operational Research 48(1), 9-26. The "buying a house" example: eight criteria (size of house,
# transportation, neighbourhood, age of house, yard space, modern facilities, general condition,
# financing) compared pairwise by a family. Published priorities .173 .054 .188 .018 .031 .036
# .167 .333, lambda_max = 9.669, C.I. = 0.238, C.R. = 0.169.
HOUSE = [
    [1, 5, 3, 7, 6, 6, "1/3", "1/4"],
    ["1/5", 1, "1/3", 5, 3, 3, "1/5", "1/7"],
    ["1/3", 3, 1, 6, 3, 4, 6, "1/5"],
    ["1/7", "1/5", "1/6", 1, "1/3", "1/4", "1/7", "1/8"],
    ["1/6", "1/3", "1/3", 3, 1, "1/2", "1/5", "1/6"],
    ["1/6", "1/3", "1/4", 4, 2, 1, "1/5", "1/6"],
    [3, 5, "1/6", 7, 5, 5, 1, "1/2"],
    [4, 7, 5, 8, 6, 6, 2, 1],
]
HOUSE_WEIGHTS = [0.173, 0.054, 0.188, 0.018, 0.031, 0.036, 0.167, 0.333]


def test_saaty_house_example_gives_the_published_weights_and_consistency():
    res = ahp_weights(HOUSE, force=True)
    np.testing.assert_allclose(res.weights, HOUSE_WEIGHTS, atol=0.0006)
    assert res.lambda_max == pytest.approx(9.669, abs=0.0006)
    assert res.ci == pytest.approx(0.238, abs=0.0006)
    assert res.cr == pytest.approx(0.169, abs=0.0006)
    assert sum(res.weights) == pytest.approx(1.0)


def test_inconsistent_judgements_are_refused_unless_forced():
    with pytest.raises(ProfileError, match=r"consistency ratio 0\.169 > 0\.1"):
        ahp_weights(HOUSE)
    with pytest.raises(ProfileError, match="inconsistent"):
        ahp_from_table({"criteria": list("abcdefgh"), "matrix": HOUSE})
    assert ahp_from_table({"criteria": list("abcdefgh"), "matrix": HOUSE, "force": True}).cr > 0.1


def test_a_consistent_matrix_returns_its_weights_with_zero_cr():
    w = np.array([0.5, 0.25, 0.125, 0.125])
    res = ahp_weights((w[:, None] / w[None, :]).tolist())
    np.testing.assert_allclose(res.weights, w, atol=1e-12)
    assert res.lambda_max == pytest.approx(4.0) and abs(res.cr) < 1e-9


@pytest.mark.parametrize("matrix, msg", [
    ([[1, 3], [3, 1]], "not reciprocal"),
    ([[1, 2, 3], [0.5, 1]], "square"),
    ([[2, 2], [0.5, 1]], "must be 1"),
    ([[1, 0], [0, 1]], "positive"),
    ([[1, "x"], ["1/2", 1]], "fraction"),
])
def test_invalid_matrices_are_refused(matrix, msg):
    with pytest.raises(ProfileError, match=msg):
        ahp_from_table({"criteria": [f"c{i}" for i in range(len(matrix))], "matrix": matrix})


def _fab_matrix():
    keys = [c.key for c in load_profile("semiconductor_fab").criteria]
    # Consistent judgements from known priorities, then one judgement nudged (still consistent enough).
    w = np.linspace(2.0, 1.0, len(keys))
    m = (w[:, None] / w[None, :])
    m[0, 1], m[1, 0] = m[0, 1] * 1.2, 1 / (m[0, 1] * 1.2)
    return keys, m.tolist()


def test_profile_weights_from_an_ahp_table(tmp_path):
    keys, matrix = _fab_matrix()
    expect = ahp_weights(matrix, keys)
    assert expect.cr < 0.1
    p = resolve_profile("semiconductor_fab", ahp={"criteria": keys, "matrix": matrix})
    for k, w in expect.as_dict().items():
        assert p.weights[k] == pytest.approx(w, abs=1e-5)
    assert p.notes and "CR" in p.notes[0]
    # Explicit weights win over the matrix.
    q = resolve_profile("semiconductor_fab", {"flat": 0.0}, ahp={"criteria": keys, "matrix": matrix})
    assert q.weights["flat"] == 0
    with pytest.raises(ProfileError, match="missing"):
        resolve_profile("semiconductor_fab", ahp={"criteria": keys[:3], "matrix": [r[:3] for r in matrix[:3]]})


def test_cli_ahp_prints_weights_and_cr(tmp_path, capsys):
    f = tmp_path / "house.toml"
    rows = ",\n".join("  [" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in r) + "]" for r in HOUSE)
    f.write_text('[ahp]\ncriteria = ["size", "transport", "neighbourhood", "age", "yard", "modern", "condition", '
                 f'"financing"]\nmatrix = [\n{rows}\n]\n')
    assert main(["ahp", str(f)]) == 2
    assert "consistency ratio 0.169" in capsys.readouterr().err
    assert main(["ahp", str(f), "--force"]) == 0
    out = capsys.readouterr().out
    assert "CR 0.169" in out and "financing                0.333" in out
