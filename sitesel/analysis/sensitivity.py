"""How robust is a ranking to its weights? Dirichlet perturbation and one-at-a-time sweeps.

**What is perturbed.** The normalised weights ``w`` (sum 1). Each sample draws new weights from
a Dirichlet distribution centred on them, ``Dirichlet(c * w)``: its mean is ``w`` and each
weight's standard deviation is ``sqrt(w (1 - w) / (c + 1))``. The *concentration* ``c``
(default :data:`DEFAULT_CONCENTRATION` = 100) sets how far samples stray: with ``c = 100`` a weight
of 0.15 has a standard deviation of 0.036 (about a quarter of itself), a weight of 0.05 one of
0.022; smaller ``c`` perturbs more. Criteria with weight 0 stay at 0.

**How sites are matched across samples.** Sites are not re-delineated per sample: the candidate
pool of the baseline ranking (every delineated site, ``top`` x 3, with exact vector values) is
re-scored under each sample's weights. A site's criterion scores do not depend on the weights,
so its score under weights ``v`` is ``100 * sum_i v_i s_i`` exactly, and "site 3" is the same
polygon in every sample. This is fast (a matrix product) and well defined; it leaves out sites
that only a re-delineation under other weights would find, and the slight reshaping of sites
that growth under other weights would give (re-rank with :mod:`sitesel.analysis.rerank` for that).

**What is reported**, per site: the share of samples in which it ranks within the top ``k``
(``sens_top_k_share``), its rank's 5th, 50th and 95th percentiles (``sens_rank_p05``,
``sens_rank_p50``, ``sens_rank_p95``; observed ranks, inverted-CDF percentiles) among the pool.
Ties in a sample are broken by the baseline order.

**One-at-a-time sweep.** For each criterion, its weight is set to each value of a grid from 0 up
to ``max(0.5, 2 w_i)`` while the other weights keep their ratios and fill the rest of 1; the
ranks of the baseline top sites are recorded and plotted (:func:`plot_sweep`).
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from sitesel.analysis.profiles import Profile
from sitesel.defaults import DEFAULT_CONCENTRATION, DEFAULT_K, DEFAULT_SAMPLES
from sitesel.errors import SiteselError

#: Points of the one-at-a-time sweep per criterion.
SWEEP_STEPS = 21
#: Columns added to the sites.
COLUMNS = ("sens_top_k", "sens_top_k_share", "sens_rank_p05", "sens_rank_p50", "sens_rank_p95")


def criterion_matrix(pool: gpd.GeoDataFrame, profile: Profile) -> np.ndarray:
    """``(sites, criteria)`` 0-1 criterion scores of the pool's sites, in profile order."""
    missing = [c.key for c in profile.criteria if f"score_{c.key}" not in pool]
    if missing:
        raise SiteselError(f"the sites lack score columns for {', '.join(missing)}")
    return pool[[f"score_{c.key}" for c in profile.criteria]].to_numpy(dtype="float64")


def sample_weights(weights: np.ndarray, samples: int, concentration: float, seed: int) -> np.ndarray:
    """``(samples, criteria)`` weights from ``Dirichlet(concentration * weights)``; zeros stay zero."""
    if samples < 1:
        raise SiteselError("samples must be at least 1")
    if not np.isfinite(concentration) or concentration <= 0:
        raise SiteselError("the Dirichlet concentration must be a positive number")
    w = np.asarray(weights, dtype="float64")
    w = w / w.sum()
    active = w > 0
    rng = np.random.default_rng(seed)
    out = np.zeros((samples, w.size))
    if active.sum() == 1:
        out[:, active] = 1.0
    else:
        out[:, active] = rng.dirichlet(concentration * w[active], size=samples)
    return out


def ranks_under(scores: np.ndarray) -> np.ndarray:
    """Ranks (1 = best) of each row of ``scores`` ``(sites, samples)`` per column; ties keep row order."""
    order = np.argsort(-scores, axis=0, kind="stable")
    ranks = np.empty_like(order)
    cols = np.arange(scores.shape[1])
    ranks[order, cols[None, :]] = np.arange(1, scores.shape[0] + 1)[:, None]
    return ranks


@dataclass
class Sensitivity:
    """Per-site robustness of a ranking, the sweep, and the settings that produced them."""

    sites: gpd.GeoDataFrame  # the reported sites with the sens_* columns
    pool: gpd.GeoDataFrame  # every candidate with the sens_* columns
    sweep: pd.DataFrame  # criterion, weight, site (baseline rank), rank
    settings: dict = field(default_factory=dict)
    profile: Profile | None = None

    def table(self) -> pd.DataFrame:
        """The reported sites' robustness columns, by baseline rank."""
        return pd.DataFrame(self.sites[["rank", "score", *COLUMNS]]).set_index("rank")

    def plot_sweep(self, sites: int = 10):
        """The one-at-a-time sweep as a matplotlib figure (see :func:`plot_sweep`)."""
        return plot_sweep(self.sweep, self.profile, sites)


def sensitivity(pool: gpd.GeoDataFrame, profile: Profile, top: int, k: int | None = None,
                samples: int = DEFAULT_SAMPLES, seed: int = 0,
                concentration: float = DEFAULT_CONCENTRATION) -> Sensitivity:
    """Dirichlet perturbation of the weights and a one-at-a-time sweep over a ranking's pool.

    Parameters
    ----------
    pool : GeoDataFrame
        The ranked candidate pool (``rank``, ``score_<criterion>`` columns), best first.
    profile : Profile
        The profile the pool was ranked with.
    top : int
        Sites reported (the first ``top`` of the pool).
    k : int, optional
        Top-k threshold (default ``min(10, top)``).
    samples, seed, concentration
        Number of Dirichlet samples, random seed and concentration.
    """
    k = min(DEFAULT_K, top) if k is None else int(k)
    if k < 1:
        raise SiteselError("k must be at least 1")
    s = criterion_matrix(pool, profile)
    w0 = np.array([profile.weights[c.key] for c in profile.criteria])
    w = sample_weights(w0, samples, concentration, seed)
    ranks = ranks_under(100.0 * s @ w.T)
    out = pool.copy()
    out["sens_top_k"] = k
    out["sens_top_k_share"] = (ranks <= k).mean(axis=1)
    for q, col in ((0.05, "sens_rank_p05"), (0.5, "sens_rank_p50"), (0.95, "sens_rank_p95")):
        out[col] = np.quantile(ranks, q, axis=1, method="inverted_cdf").astype(int)
    settings = {"method": "Dirichlet(concentration * weights), baseline pool re-scored",
                "samples": int(samples), "seed": int(seed), "concentration": float(concentration), "k": k,
                "pool": int(len(pool)), "top": int(top),
                "weights": {c.key: round(float(x), 6) for c, x in zip(profile.criteria, w0)}}
    return Sensitivity(out.head(top).copy(), out, sweep(pool, profile, min(top, DEFAULT_K)), settings, profile)


def sweep(pool: gpd.GeoDataFrame, profile: Profile, sites: int = DEFAULT_K, steps: int = SWEEP_STEPS) -> pd.DataFrame:
    """Ranks of the baseline top ``sites`` as each criterion's weight runs from 0 upwards.

    Returns a long table: ``criterion``, ``weight`` (that criterion's normalised weight),
    ``baseline_weight``, ``site`` (baseline rank) and ``rank`` (among the pool).
    """
    s = criterion_matrix(pool, profile)
    w0 = np.array([profile.weights[c.key] for c in profile.criteria])
    base_rank = pool["rank"].to_numpy()
    recs = []
    for i, c in enumerate(profile.criteria):
        grid = np.linspace(0.0, max(0.5, 2 * w0[i]), steps)
        rest = w0.copy()
        rest[i] = 0.0
        for v in grid:
            if rest.sum() <= 0 and v == 0:
                continue
            w = rest / rest.sum() * (1 - v) if rest.sum() > 0 else np.zeros_like(w0)
            w[i] = v if rest.sum() > 0 else 1.0
            ranks = ranks_under((100.0 * s @ w)[:, None])[:, 0]
            for j in range(min(sites, len(pool))):
                recs.append({"criterion": c.key, "weight": float(w[i]), "baseline_weight": float(w0[i]),
                             "site": int(base_rank[j]), "rank": int(ranks[j])})
    return pd.DataFrame.from_records(recs, columns=["criterion", "weight", "baseline_weight", "site", "rank"])


def plot_sweep(table: pd.DataFrame, profile: Profile | None = None, sites: int = DEFAULT_K):
    """One panel per criterion: rank of each baseline top site against that criterion's weight."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend needed

    crits = list(dict.fromkeys(table["criterion"]))
    n = max(len(crits), 1)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    top = sorted(table["site"].unique())[:sites]
    cmap = colormaps["tab10"]
    worst = int(table["rank"].max()) if len(table) else 1
    for ax, key in zip(axes.ravel(), crits):
        t = table[table["criterion"] == key]
        for j, site in enumerate(top):
            ts = t[t["site"] == site]
            ax.plot(ts["weight"], ts["rank"], color=cmap(j % 10), lw=1.4, label=f"site {site}")
        ax.axvline(float(t["baseline_weight"].iloc[0]), color="0.4", ls="--", lw=1)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("weight (others rescaled)")
        ax.set_ylim(min(worst, 3 * len(top)) + 0.5, 0.5)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(crits):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("rank")
    axes.ravel()[0].legend(fontsize=7, ncol=2, loc="lower right")
    title = f"{profile.name}: " if profile is not None else ""
    fig.suptitle(f"{title}rank of the baseline top {len(top)} sites as one weight varies (dashed: chosen weight)")
    fig.tight_layout()
    return fig


def add_robustness_layer(m, sites: gpd.GeoDataFrame):
    """Add a switchable layer to a Folium map: each site's top-k share and rank interval in a popup."""
    import folium

    wgs = sites.to_crs("EPSG:4326")
    layer = folium.FeatureGroup(name="robustness to weights", show=True).add_to(m)
    for _, row in wgs.iterrows():
        share = float(row["sens_top_k_share"])
        p = row.geometry.representative_point()
        text = (f"<b>Site {int(row['rank'])}: robustness</b><br>"
                f"in the top {int(row['sens_top_k'])} in {share:.0%} of weight samples<br>"
                f"rank 5th-95th percentile: {int(row['sens_rank_p05'])}-{int(row['sens_rank_p95'])} "
                f"(median {int(row['sens_rank_p50'])})")
        color = "#1a9850" if share >= 0.9 else ("#fee08b" if share >= 0.5 else "#d73027")
        folium.CircleMarker([p.y, p.x], radius=9, color="#333", weight=1, fill=True, fill_color=color,
                            fill_opacity=0.9, tooltip=html.escape(f"#{int(row['rank'])}: top {int(row['sens_top_k'])} "
                                                                  f"in {share:.0%} of samples"),
                            popup=folium.Popup(text, max_width=320)).add_to(layer)
    return m


def write_extras(sens: Sensitivity, folder: Path) -> None:
    """``sweep.csv``, ``sweep.png`` and ``sensitivity.json`` into ``folder``."""
    sens.sweep.to_csv(folder / "sweep.csv", index=False, lineterminator="\n")
    fig = sens.plot_sweep()
    fig.savefig(folder / "sweep.png", dpi=110)
    table = sens.table().reset_index()
    (folder / "sensitivity.json").write_text(json.dumps(
        {"settings": sens.settings, "sites": json.loads(table.to_json(orient="records"))}, indent=2) + "\n")
