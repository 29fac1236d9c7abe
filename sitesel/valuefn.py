"""Value functions: map a criterion's raw value to a 0-1 score (cf. ArcGIS Rescale by Function)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ProfileError

PARAMS = {
    "linear": ("best", "worst"),
    "step": ("thresholds", "scores"),
    "logistic": ("midpoint", "width", "increasing"),
    "gaussian": ("ideal", "spread"),
}


@dataclass(frozen=True)
class ValueFunction:
    """A named transform with its parameters; ``missing`` is the score of a missing raw value."""

    kind: str
    params: dict = field(default_factory=dict)
    missing: float = 0.0

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        p = self.params
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if self.kind == "linear":
                best, worst = np.float32(p["best"]), np.float32(p["worst"])
                s = (x - worst) / (best - worst)
            elif self.kind == "step":
                idx = np.searchsorted(np.asarray(p["thresholds"], dtype=np.float32), x, side="right")
                s = np.asarray(p["scores"], dtype=np.float32)[np.minimum(idx, len(p["scores"]) - 1)]
            elif self.kind == "logistic":
                z = (x - np.float32(p["midpoint"])) / np.float32(p["width"])
                s = 1.0 / (1.0 + np.exp(-z if p["increasing"] else z))
            else:  # gaussian
                z = (x - np.float32(p["ideal"])) / np.float32(p["spread"])
                s = np.exp(-0.5 * z * z)
        s = np.clip(np.asarray(s, dtype=np.float32), 0.0, 1.0)
        return np.where(np.isnan(x), np.float32(self.missing), s).astype(np.float32)

    def reach(self) -> float:
        """The raw value beyond which the score no longer changes (to within 0.3%)."""
        p = self.params
        if self.kind == "linear":
            return float(max(p["best"], p["worst"]))
        if self.kind == "step":
            return float(max(p["thresholds"])) if p["thresholds"] else 0.0
        if self.kind == "logistic":
            return float(p["midpoint"] + 6 * p["width"])
        return float(p["ideal"] + 3.5 * p["spread"])

    def describe(self) -> str:
        return f"{self.kind}(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"


def value_function(spec: dict, where: str) -> ValueFunction:
    """Build a :class:`ValueFunction` from a profile's criterion table, with clear errors."""
    kind = spec.get("function")
    if kind not in PARAMS:
        raise ProfileError(f"{where}: function must be one of {', '.join(PARAMS)}, not {kind!r}")
    missing_keys = [k for k in PARAMS[kind] if k not in spec]
    if missing_keys:
        raise ProfileError(f"{where}: {kind} function needs {', '.join(missing_keys)}")
    params = {k: spec[k] for k in PARAMS[kind]}
    num = lambda k: _number(params[k], f"{where}.{k}")  # noqa: E731
    if kind == "linear":
        num("best"), num("worst")
        if params["best"] == params["worst"]:
            raise ProfileError(f"{where}: linear best and worst must differ")
    elif kind == "step":
        t, s = params["thresholds"], params["scores"]
        if not isinstance(t, list) or not isinstance(s, list) or len(s) != len(t) + 1:
            raise ProfileError(f"{where}: step needs a list of thresholds and one more score than thresholds")
        [_number(v, f"{where}.thresholds") for v in t]
        if list(t) != sorted(t):
            raise ProfileError(f"{where}: step thresholds must be ascending")
        if any(not 0 <= _number(v, f"{where}.scores") <= 1 for v in s):
            raise ProfileError(f"{where}: step scores must lie in 0-1")
    elif kind == "logistic":
        num("midpoint")
        if num("width") <= 0:
            raise ProfileError(f"{where}: logistic width must be positive")
        if not isinstance(params["increasing"], bool):
            raise ProfileError(f"{where}: logistic increasing must be true or false")
    else:
        num("ideal")
        if num("spread") <= 0:
            raise ProfileError(f"{where}: gaussian spread must be positive")
    missing = _number(spec.get("missing", 0.0), f"{where}.missing")
    if not 0 <= missing <= 1:
        raise ProfileError(f"{where}: missing must lie in 0-1")
    return ValueFunction(kind, params, float(missing))


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProfileError(f"{where}: expected a number, got {v!r}")
    return float(v)
