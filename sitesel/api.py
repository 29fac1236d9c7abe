"""A small Python API for notebooks: open a study once, rank and re-rank in about a second.

>>> import sitesel
>>> study = sitesel.open_study(region="AZ,NM", resolution=1000)
>>> fab = study.rank("semiconductor_fab", weights={"water_stress": 0.3}, set={"max_slope_pct": 5})
>>> fab.sites.head()          # GeoDataFrame in the grid CRS
>>> fab.map()                 # folium.Map, renders inline in Jupyter
>>> fab.explain(1)            # criterion breakdown of site 1
>>> fab.to_file("out/fab")    # the same files as `sitesel rank --out out/fab`

Measures are computed once per study (and cached on disk, so a new Python process reuses them);
re-ranking with new weights or constraints reuses feasible cells, criterion scores and site
descriptions (see :class:`sitesel.analysis.ranking.Ranker`). The command line runs the same
functions (:mod:`sitesel.pipeline`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from sitesel.analysis.costmodel import CostModel, load_costs
from sitesel.analysis.costs import cost_columns
from sitesel.analysis.profiles import Profile, apply_overrides, parse_profile, resolve_profile
from sitesel.analysis.ranking import DEFAULT_TOP, Ranker, Result
from sitesel.analysis.sensitivity import Sensitivity, sensitivity
from sitesel.defaults import DEFAULT_CONCENTRATION, DEFAULT_EXPORTS, DEFAULT_SAMPLES
from sitesel.errors import SiteselError
from sitesel.maps.interactive import result_map
from sitesel.measures.catalogue import MEASURES
from sitesel.output.sites import tidy
from sitesel.output.staging import OutputDir
from sitesel.output.vector import write_csv, write_geojson, write_gpkg, write_parquet
from sitesel.pipeline.study import StudyOptions
from sitesel.pipeline.study import open_study as open_study_from
from sitesel.pipeline.write import RunSettings, write_park
from sitesel.progress import Progress
from sitesel.study.core import Study

__all__ = ["RankResult", "StudySession", "explain", "open_study", "write_run", "write_sites_file"]


def open_study(region: str | None = None, resolution: float | None = None, layers: str | Path | None = None,
               land: str = "federal", bbox: tuple[float, float, float, float] | None = None,
               use_cache: bool = True, progress: bool = False, workers: int | None = None,
               demo: bool = False, costs: str | Path | CostModel | None = None) -> StudySession:
    """Open a study of ``region`` (USPS codes such as ``"AZ,NM"``, or ``"L48"``) on one grid.

    Parameters
    ----------
    region : str, optional
        States (comma-separated USPS codes) or ``L48``; or give ``bbox``.
    resolution : float, optional
        Cell size in metres (default: as ``sitesel rank``).
    layers : path, optional
        Layer manifest (default: the shipped national manifest).
    land : {'federal', 'all'}
        Eligible federal land only, or all land except never-eligible land.
    bbox : tuple, optional
        ``(west, south, east, north)`` in degrees.
    use_cache : bool
        Read and write the on-disk cache of layers and measures.
    progress : bool
        Print progress lines to stderr.
    workers : int, optional
        Local worker processes for the measures (default: one per core).
    demo : bool
        Use the synthetic demo dataset that sitesel generates (region ``XX`` unless given).
    costs : path or CostModel, optional
        The site-cost model (default: the shipped ``data/costs.toml``); see ``docs/costs.md``.

    Returns
    -------
    StudySession
    """

    if land not in ("federal", "all"):
        raise SiteselError(f"land must be 'federal' or 'all', not {land!r}", option="land")
    model = costs if isinstance(costs, CostModel) or costs is None else load_costs(costs)
    box = (bbox[0], bbox[1], bbox[2], bbox[3]) if bbox is not None else None
    options = StudyOptions(region=region, bbox=box, resolution=resolution,
                           layers=layers, demo=demo, use_cache=use_cache, workers=workers)
    study = open_study_from(options, Progress(quiet=not progress))
    return StudySession(study, land, model)


def _profile_with(park: str | Path | Profile, weights: dict | None, sets, ahp: dict | None,
                  force_ahp: bool) -> Profile:
    if not isinstance(park, Profile):
        return resolve_profile(park, weights, sets, ahp, force_ahp)
    profile = park
    if sets or ahp is not None:
        if profile.document is None:
            raise SiteselError(f"profile '{profile.name}' has no document to apply settings to; pass its name instead")
        doc = dict(profile.document)
        if ahp is not None:
            doc["ahp"] = ahp
        return parse_profile(apply_overrides(doc, weights, sets, profile.source), profile.source)
    return profile.with_weights(weights) if weights else profile


@dataclass
class StudySession:
    """An open study and land mode, ready to rank any park type (see :func:`open_study`)."""

    study: Study
    land: str = "federal"
    costs: CostModel | None = field(default=None, repr=False)
    ranker: Ranker = field(init=False, repr=False)

    def __post_init__(self):
        self.ranker = Ranker(self.study, self.land, self.costs)

    def __enter__(self) -> StudySession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the study's worker processes (the caches stay)."""
        self.study.close()

    def __repr__(self) -> str:
        g = self.study.grid
        return (f"<sitesel study {self.study.region.label}: {g.width} x {g.height} cells of {g.res:g} m "
                f"in {g.crs}, land={self.land}>")

    def profile(self, park: str | Path | Profile, weights: dict | None = None, set=None,  # noqa: A002
                ahp: dict | None = None, force_ahp: bool = False) -> Profile:
        """The effective profile of a park type or profile file with overrides (not ranked)."""
        return _profile_with(park, weights, set, ahp, force_ahp)

    def prepare(self, *parks: str | Path | Profile) -> None:
        """Compute (or load from the cache) the measures the given park types need."""
        names = sorted({m for p in parks for m in self.profile(p).measures()})
        self.study.prepare(names, self.land)

    def rank(self, park: str | Path | Profile, weights: dict | None = None, set=None,  # noqa: A002
             top: int = DEFAULT_TOP, ahp: dict | None = None, force_ahp: bool = False,
             allow_missing: bool = False) -> RankResult:
        """Rank a park type with optional weight and requirement overrides.

        Parameters
        ----------
        park : str, Path or Profile
            Built-in park type, profile TOML file (may ``extend`` another) or a profile.
        weights : dict, optional
            ``{criterion: weight}``; raw weights, normalised to sum 1.
        set : dict or list, optional
            Requirement overrides, ``{"constraints.slope.max": 5}`` or ``["max_slope_pct=5"]``
            (see ``docs/schema.md``).
        top : int
            Number of sites.
        ahp : dict, optional
            An ``[ahp]`` table (criteria and pairwise matrix) giving the weights.
        """
        if top < 1:
            raise SiteselError("top must be at least 1")
        profile = _profile_with(park, weights, set, ahp, force_ahp)
        t = time.perf_counter()
        result = self.ranker.rank(profile, top=top, allow_missing=allow_missing)
        return RankResult(result, self, time.perf_counter() - t)

    def sensitivity(self, result: RankResult, samples: int = DEFAULT_SAMPLES, seed: int = 0,
                    concentration: float = DEFAULT_CONCENTRATION, k: int | None = None) -> Sensitivity:
        """Robustness of ``result``'s ranking to its weights (see :mod:`sitesel.analysis.sensitivity`)."""
        return sensitivity(result.pool, result.profile, top=len(result.sites), k=k, samples=samples, seed=seed,
                           concentration=concentration)


@dataclass
class RankResult:
    """Ranked sites of one park type, with the score surface and what went into them."""

    result: Result
    session: StudySession = field(repr=False)
    seconds: float = 0.0

    @property
    def pool(self) -> gpd.GeoDataFrame:
        """Every delineated candidate site, ranked (``sites`` are its first ``top``)."""
        return self.result.pool

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Ranked sites (GeoDataFrame in the grid CRS; columns as in README.md)."""
        return self.result.sites

    @property
    def profile(self) -> Profile:
        return self.result.profile

    @property
    def weights(self) -> dict[str, float]:
        """Normalised weights used."""
        return self.result.profile.weights

    @property
    def stats(self) -> dict:
        return self.result.stats

    @property
    def score(self) -> np.ndarray:
        """Cell scores 0-1 over the whole grid (float32, NaN = infeasible)."""
        return self.result.score

    @property
    def study(self):
        return self.session.study

    def __repr__(self) -> str:
        s = self.result.stats
        head = "; ".join(f"#{int(r['rank'])} {r['score']:.1f} ({r['lon']:.2f}, {r['lat']:.2f})"
                         for _, r in self.sites.head(3).iterrows())
        return (f"<sitesel ranking {self.profile.name} over {self.study.region.label}: {s['sites']} sites, "
                f"{s['feasible_acres']:,} feasible acres, {self.seconds:.2f} s; {head}>")

    def title(self) -> str:
        return f"sitesel: {self.profile.title} - {self.study.region.label} ({len(self.sites)} sites)"

    def map(self):
        """A Folium map of the ranked sites (renders inline in Jupyter)."""
        return result_map(self.study, self.result)

    def site(self, site) -> pd.Series:
        """One site's row, by rank (1 = best) or as a row of :attr:`sites`."""
        if isinstance(site, pd.Series):
            return site
        rank = int(site)
        rows = self.sites[self.sites["rank"] == rank]
        if rows.empty:
            raise SiteselError(f"no site ranked {rank}; ranks run 1-{len(self.sites)}")
        return rows.iloc[0]

    def explain(self, site) -> pd.DataFrame:
        """The criterion breakdown of one site: raw value, 0-1 score, weight and points.

        ``points`` add up to the site's score (0-100); ``attrs`` holds the rank, score, the
        hard constraints with whether each is met and, for a profile with a ``[demand]``, the
        site's ``costs`` (``cost_<item>_usd``, the total's range, ``capex_usd``,
        ``time_to_power_months`` and a ``cost_summary``).
        """
        return explain(self.site(site), self.profile)

    def to_file(self, path: str | Path) -> Path:
        """Write the sites to ``path``: a folder gets every output of ``sitesel rank``; a file
        ending in ``.geojson``, ``.csv``, ``.gpkg`` or ``.parquet`` gets the sites alone."""
        path = Path(path)
        if path.suffix.lower() in SITE_FORMATS:
            write_sites_file(self.sites, path)
            return path
        write_run(self, path)
        return path


#: Single-file formats of :meth:`RankResult.to_file`.
SITE_FORMATS = (".geojson", ".csv", ".gpkg", ".parquet")


def explain(row: pd.Series, profile: Profile) -> pd.DataFrame:
    """The criterion breakdown of one site row (see :meth:`RankResult.explain`); ``attrs`` holds
    its rank, score, constraint checks and, when the sites were priced, its costs."""
    recs = []
    for c in profile.criteria:
        recs.append({"criterion": c.key, "measure": c.measure, "unit": MEASURES[c.measure].unit,
                     "value": row.get(c.measure), "score": row[f"score_{c.key}"], "weight": row[f"weight_{c.key}"],
                     "points": row[f"contrib_{c.key}"], "function": c.function.describe()})
    df = pd.DataFrame(recs).set_index("criterion")
    total = float(df["points"].sum())
    df["share"] = df["points"] / total if total > 0 else 0.0
    df = df.sort_values("points", ascending=False, kind="mergesort")
    df.attrs = {"rank": int(row["rank"]), "score": float(row["score"]),
                "constraints": {c.key: (c.describe(), bool(row.get(f"ok_{c.key}"))) for c in profile.constraints}}
    if "cost_site_usd" in row.index:
        # What connecting the site costs (USD), item by item, with the total's range and the park's.
        df.attrs["costs"] = {k: row[k] for k in cost_columns() if k in row.index}
    return df


def write_sites_file(sites: gpd.GeoDataFrame, path: Path) -> None:
    """The sites alone, in the format the suffix names (see :mod:`sitesel.output.vector`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sites = tidy(sites)
    writer = {".csv": write_csv, ".parquet": write_parquet, ".gpkg": write_gpkg}.get(path.suffix.lower(),
                                                                                   write_geojson)
    writer(sites, path)


def write_run(res: RankResult, folder: str | Path, extra: dict | None = None, map_obj=None, also=None,
              overwrite: bool = True, exports: tuple[str, ...] = DEFAULT_EXPORTS) -> Path:
    """Every output of ``sitesel rank --out`` for a ranking, into ``folder`` (atomically).

    Parameters
    ----------
    res : RankResult
        The ranking.
    folder : path
        The run folder (swapped into place when complete).
    extra : dict, optional
        More entries for ``run.json``.
    map_obj : folium.Map, optional
        Written as ``map.html`` instead of the run's own map (e.g. with a robustness layer).
    also : callable, optional
        ``also(staging_folder)`` adds files of its own before the folder is swapped in.
    overwrite : bool
        Replace an earlier run's folder.
    exports : tuple of str
        Export formats besides GeoJSON and CSV, as ``sitesel rank --exports``.
    """
    study = res.study
    folder = Path(folder)
    arguments = {"park": res.profile.name, "region": study.region.label, "resolution": study.grid.res,
                 "land": res.session.land, "top": len(res.sites), "source": res.profile.source, "api": True}
    settings = RunSettings(out=folder, land=res.session.land, top=len(res.sites), exports=tuple(exports),
                           overwrite=overwrite, arguments=arguments)
    with OutputDir(folder, overwrite=overwrite) as tmp:
        write_park(settings, study, res.result, {"rank": round(res.seconds, 3)}, tmp, folder, Progress(quiet=True),
                   extra=extra)
        if map_obj is not None:
            map_obj.save(str(tmp / "map.html"))
        if also is not None:
            also(tmp)
    return folder
