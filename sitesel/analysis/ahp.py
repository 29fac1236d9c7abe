"""Weights from judgement: the Analytic Hierarchy Process (Saaty).

An analyst compares criteria in pairs on Saaty's 1-9 scale ("water matters 3 times as much as
the airport"); the weights are the principal right eigenvector of the reciprocal comparison
matrix, normalised to sum 1. The consistency index ``CI = (lambda_max - n) / (n - 1)`` divided
by Saaty's random index for ``n`` criteria gives the consistency ratio ``CR``; judgements with
``CR > 0.1`` are too inconsistent to use and are refused unless forced.

In TOML (a profile's ``[ahp]`` table, or a file given to ``sitesel rank --ahp``)::

    [ahp]
    criteria = ["workforce", "water_stress", "airport"]
    matrix = [
      [1,     3,     5],
      ["1/3", 1,     3],
      ["1/5", "1/3", 1],
    ]
    # force = true      # accept CR > 0.1

Entries are numbers or fractions written as strings (TOML has no ``1/3`` literal). The matrix
must be square, positive, 1 on the diagonal and reciprocal (``a[j][i] = 1 / a[i][j]``).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from sitesel.errors import ProfileError, did_you_mean
from sitesel.io.toml import read_toml

__all__ = ["MAX_CR", "RANDOM_INDEX", "RECIPROCAL_RTOL", "AHPResult", "ahp_from_table", "ahp_weights", "apply_ahp",
           "load_ahp", "parse_matrix"]

#: Saaty's random consistency index by matrix size (Saaty 1980, *The Analytic Hierarchy
#: Process*, McGraw-Hill, table 1.7; also Saaty 1990, EJOR 48:9-26, p. 13).
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49,
                11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59}
#: Largest consistency ratio accepted without ``force``.
MAX_CR = 0.1
#: Relative tolerance of the reciprocity check (judgements like 0.333 for 1/3 are fine).
RECIPROCAL_RTOL = 0.01


@dataclass(frozen=True)
class AHPResult:
    """Weights (sum 1, in the order of ``criteria``) and consistency of a comparison matrix."""

    criteria: tuple[str, ...]
    weights: tuple[float, ...]
    lambda_max: float
    ci: float
    cr: float

    def as_dict(self) -> dict[str, float]:
        """Criterion -> weight."""
        return dict(zip(self.criteria, self.weights))

    def describe(self) -> str:
        """One line: the number of criteria, lambda_max, CI and CR."""
        return (f"AHP over {len(self.criteria)} criteria: lambda_max {self.lambda_max:.3f}, "
                f"CI {self.ci:.3f}, CR {self.cr:.3f}")


def _entry(v, where: str) -> float:
    if isinstance(v, bool):
        raise ProfileError(f"{where}: expected a positive number or a fraction such as \"1/3\", got {v!r}")
    if isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(Fraction(v.strip()))
        except (ValueError, ZeroDivisionError):
            raise ProfileError(f"{where}: expected a positive number or a fraction such as \"1/3\", "
                               f"got {v!r}") from None
    else:
        raise ProfileError(f"{where}: expected a positive number or a fraction such as \"1/3\", got {v!r}")
    if not math.isfinite(x) or x <= 0:
        raise ProfileError(f"{where}: comparison values must be positive, got {v!r}")
    return x


def parse_matrix(rows: object, where: str = "ahp.matrix") -> np.ndarray:
    """A validated reciprocal comparison matrix from TOML rows.

    Parameters
    ----------
    rows : list of lists (checked; anything else raises)
        One row per criterion; numbers, or fractions as text (``"1/3"``).
    where : str
        Where the matrix was given, for messages.

    Returns
    -------
    ndarray of float, shape (n, n)

    Raises
    ------
    ProfileError
        Not square, an entry that is not a positive number, a diagonal entry other than 1, or a
        pair of entries that are not reciprocal.

    Examples
    --------
    >>> parse_matrix([[1, 3], ["1/3", 1]]).round(3).tolist()
    [[1.0, 3.0], [0.333, 1.0]]
    """
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise ProfileError(f"{where}: give a list of rows, one per criterion")
    n = len(rows)
    if any(len(r) != n for r in rows):
        raise ProfileError(f"{where}: the matrix must be square ({n} rows of {n} values)")
    a = np.array([[_entry(v, f"{where}[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(rows)])
    for i in range(n):
        if not math.isclose(a[i, i], 1.0, rel_tol=1e-9):
            raise ProfileError(f"{where}[{i}][{i}]: a criterion compared with itself must be 1")
        for j in range(i + 1, n):
            if not math.isclose(a[i, j] * a[j, i], 1.0, rel_tol=RECIPROCAL_RTOL):
                raise ProfileError(f"{where}: [{i}][{j}] = {a[i, j]:g} and [{j}][{i}] = {a[j, i]:g} are not "
                                   f"reciprocal (expected [{j}][{i}] = 1/{a[i, j]:g})")
    return a


def ahp_weights(matrix: np.ndarray | list[list[float | str]], criteria: Sequence[str] | None = None,
                force: bool = False) -> AHPResult:
    """Weights from a pairwise comparison matrix by the principal eigenvector method.

    Parameters
    ----------
    matrix : array-like
        Square reciprocal matrix; ``matrix[i][j]`` says how much more important criterion ``i``
        is than ``j`` (Saaty's 1-9 scale).
    criteria : sequence of str, optional
        Names of the rows (default ``c0, c1, ...``).
    force : bool
        Return the weights even when the consistency ratio exceeds :data:`MAX_CR`.

    Raises
    ------
    ProfileError
        If the matrix is invalid, or inconsistent (CR > 0.1) and ``force`` is false.
    """
    a = matrix if isinstance(matrix, np.ndarray) else parse_matrix(matrix)
    n = a.shape[0]
    names = tuple(criteria) if criteria is not None else tuple(f"c{i}" for i in range(n))
    if len(names) != n:
        raise ProfileError(f"ahp: {len(names)} criteria named but the matrix has {n} rows")
    if len(set(names)) != n:
        raise ProfileError("ahp: a criterion is named twice")
    if n > max(RANDOM_INDEX):
        raise ProfileError(f"ahp: at most {max(RANDOM_INDEX)} criteria (Saaty's random index is tabulated up to that)")
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v = np.abs(vecs[:, k].real)  # Perron vector: one sign, made positive
    w = v / v.sum()
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    ri = RANDOM_INDEX[n]
    cr = ci / ri if ri > 0 else 0.0
    result = AHPResult(names, tuple(float(x) for x in w), lam, ci, cr)
    if cr > MAX_CR and not force:
        raise ProfileError(f"ahp: the comparisons are inconsistent (consistency ratio {cr:.3f} > {MAX_CR}); "
                           "revise the judgements, or set force = true ({opt:force_ahp=True}) to use them anyway")
    return result


def ahp_from_table(table: dict, where: str = "ahp", force: bool = False) -> AHPResult:
    """Weights from an ``[ahp]`` TOML table (``criteria``, ``matrix``, optional ``force``).

    Parameters
    ----------
    table : dict
        The table.
    where : str
        Where it was given, for messages.
    force : bool
        Accept a consistency ratio above :data:`MAX_CR` (as does ``force = true`` in the table).

    Returns
    -------
    AHPResult

    Raises
    ------
    ProfileError
        The table or its matrix is invalid, or the judgements are inconsistent.
    """
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: must be a table with criteria and matrix")
    bad = set(table) - {"criteria", "matrix", "force", "note"}
    if bad:
        raise ProfileError(f"{where}: unknown key(s) {sorted(bad)} (expected criteria, matrix, force)")
    names = table.get("criteria")
    if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
        raise ProfileError(f"{where}.criteria: give the criterion keys, in the order of the matrix rows")
    forced = table.get("force", False)
    if not isinstance(forced, bool):
        raise ProfileError(f"{where}.force must be true or false")
    return ahp_weights(parse_matrix(table.get("matrix"), f"{where}.matrix"), names, force=force or forced)


def load_ahp(path: str | Path) -> dict:
    """The ``[ahp]`` table of a TOML file (or the whole file if it has no such table).

    Parameters
    ----------
    path : str or Path
        A TOML file.

    Returns
    -------
    dict
        The table, to give to :func:`ahp_from_table` (not yet validated).

    Raises
    ------
    ProfileError
        The file is missing, unreadable or not valid TOML.
    """
    doc = read_toml(path, "AHP file", ProfileError)
    return doc.get("ahp", doc)


def apply_ahp(doc: dict, table: dict | None = None, force: bool = False,
              where: str = "<profile>") -> tuple[dict, str | None]:
    """Replace the weights of a profile document's criteria by those of an AHP comparison matrix.

    Parameters
    ----------
    doc : dict
        A profile document.
    table : dict, optional
        An ``[ahp]`` table (default: the document's own); it must compare every criterion.
    force : bool
        Accept a matrix whose consistency ratio exceeds :data:`MAX_CR`.
    where : str
        The profile's source, for messages.

    Returns
    -------
    doc : dict
        A copy of ``doc`` without its ``ahp`` table, with the weights set.
    note : str or None
        One line on where the weights came from (None when there was no table).

    Raises
    ------
    ProfileError
        The table is invalid or inconsistent (see :func:`ahp_weights`), or it names criteria the
        profile lacks or leaves some out.
    """
    table = table if table is not None else doc.get("ahp")
    doc = copy.deepcopy(doc)
    doc.pop("ahp", None)
    if table is None:
        return doc, None
    res = ahp_from_table(table, f"{where}: ahp", force=force)
    crits = doc.get("criteria") or {}
    unknown = [k for k in res.criteria if k not in crits]
    if unknown:
        raise ProfileError(f"{where}: ahp: unknown criterion '{unknown[0]}'{did_you_mean(unknown[0], crits)}")
    left = [k for k in crits if k not in res.criteria]
    if left:
        raise ProfileError(f"{where}: ahp: the matrix must compare every criterion; missing {', '.join(left)} "
                           "(add them, or drop them with remove = [\"criteria.KEY\"])")
    for k, w in res.as_dict().items():
        crits[k]["weight"] = round(w, 6)
    return doc, f"weights from AHP pairwise comparisons: {res.describe()}"
