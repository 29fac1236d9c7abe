"""A rank run: open a study, compute every park's measures at once, rank each park and write its
outputs while the next one is ranked. ``sitesel rank`` is this function and a print.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sitesel.analysis.costmodel import load_costs
from sitesel.analysis.profiles import Profile
from sitesel.analysis.ranking import Ranker, Result, check_layers, required_layers
from sitesel.errors import SiteselError
from sitesel.measures.catalogue import MEASURES
from sitesel.output.staging import OutputDir
from sitesel.pipeline.study import StudyOptions, open_study
from sitesel.pipeline.write import RunSettings, write_park
from sitesel.progress import SILENT, Progress
from sitesel.study.checks import check_inputs

__all__ = ["rank_parks", "rank_park"]


class _InPlace:
    """Runs a "submitted" call at once, in this thread (one park: nothing to overlap)."""

    def submit(self, fn, *args) -> Future:
        f: Future = Future()
        f.set_result(fn(*args))
        return f


def _available(study, measure: str) -> bool:
    return all(study.manifest.has(lyr) for lyr in MEASURES[measure].layers)


def _check(settings: RunSettings, profiles: Sequence[Profile]) -> None:
    if settings.top < 1:
        raise SiteselError(f"{{opt:top}} must be at least 1, not {settings.top}", option="top")
    if not profiles:
        raise SiteselError("{opt:park} names no park type; give one of `sitesel profiles`, a profile .toml, or all",
                           option="park")
    names = [p.name for p in profiles]
    if len(set(names)) < len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SiteselError(f"{{opt:park}} names park type {', '.join(dup)} more than once; give each once",
                           option="park")


def rank_park(ranker: Ranker, profile: Profile, settings: RunSettings, progress: Progress = SILENT
              ) -> tuple[Result, dict[str, float]]:
    """Rank one park type; returns the result and the seconds each of its steps took."""
    t0 = progress.total
    before = dict(progress.timings)
    result = ranker.rank(profile, top=settings.top, allow_missing=settings.allow_missing)
    if result.profile.dropped:
        w = sum(v for v in result.profile.dropped.values() if v)
        progress.log(f"dropped for missing layers: {', '.join(result.profile.dropped)} ({w:.0%} of the weight)")
    timings = {k: round(v - before.get(k, 0.0), 3) for k, v in progress.timings.items() if v != before.get(k)}
    timings["rank"] = round(progress.total - t0, 3)
    return result, timings


def rank_parks(options: StudyOptions, profiles: Sequence[Profile], settings: RunSettings,
               progress: Progress = SILENT) -> list[str]:
    """Rank ``profiles`` over the study ``options`` describe and write every output.

    The output folder is written whole or not at all: files are staged beside it and swapped in
    when every park is written (an error or Ctrl-C leaves the previous run untouched).

    Parameters
    ----------
    options : StudyOptions
        The study to open.
    profiles : sequence of Profile
        Park types, overrides applied; several write one subfolder each and share the measures.
    settings : RunSettings
        Land, number of sites, exports, the output folder and the arguments to record.
    progress : Progress
        Receives a line per step; warnings of the input checks are logged through it.

    Returns
    -------
    list of str
        One summary a park, to print once the folder is in place.
    """
    _check(settings, profiles)
    costs = load_costs(settings.costs) if settings.costs is not None else None  # a bad file fails before any work
    outdir = OutputDir(settings.out, overwrite=settings.overwrite)  # refuse a bad folder before any work
    study = open_study(options, progress)
    need: set[str] = set()
    for profile in profiles:
        check_layers(study, profile, settings.land, settings.allow_missing)  # missing layers fail before the work
        need |= set(required_layers(profile, settings.land))
    measures = sorted({m for p in profiles for m in p.measures() if _available(study, m)})
    # Worker processes start, and read every layer the run will use (measures, evidence, map),
    # while this process checks the inputs: on a cold cache that is most of a run's serial part.
    study.start(measures, [n for n in study.manifest.layers if n != "states"], settings.land)
    # With worker processes, the measures go to them now, queued behind the layers they read, and
    # a thread here works out the candidate cells while this one checks the inputs (which mostly
    # waits for those same layers). A failed check stops them.
    early = None
    if study.has_workers:
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitesel-measures")
        early = ahead.submit(study.prepare, measures, settings.land)
        ahead.shutdown(wait=False)
    try:
        with progress.step("checking inputs"):
            checks = check_inputs(study, need)
    except BaseException:
        study.close()
        raise
    for w in checks.warnings:
        progress.warn(w)
    summaries: list[str] = []
    with study, outdir as tmp:
        if early is not None:
            early.result()
        # Every park's measures in one go: the most parallel work, and each computed once.
        study.prepare(measures, settings.land)
        ranker = Ranker(study, settings.land, costs, keep_scores=False)  # each park is ranked once
        summaries = _rank_and_write(study, ranker, profiles, settings, tmp, progress, checks.as_dict())
    for name, report in study.layer_reports().items():
        if report.get("repaired"):
            progress.log(f"{name}: repaired {report['repaired']} invalid geometries (counted in run.json)")
        if report.get("invalid_rasterised"):
            progress.log(f"{name}: {report['invalid_rasterised']} invalid geometries rasterised as drawn "
                         "(even-odd fill; counted in run.json)")
    return summaries


def _rank_and_write(study, ranker: Ranker, profiles: Sequence[Profile], settings: RunSettings, tmp: Path,
                    progress: Progress, checks: dict) -> list[str]:
    """Rank each park and write it, the writing of one overlapping the ranking of the next."""
    several = len(profiles) > 1
    # Outputs of one park are written while the next is ranked: by the worker processes that
    # computed the measures when there are some (maps and pictures are CPU-bound Python), else
    # by a thread.
    pool = study.worker_pool() if several else None
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitesel-writer") if several else None
    writer = pool or thread or _InPlace()
    ok = False
    pending: list[Future] = []
    try:
        slots = max(1, study.executor.workers)
        for profile in profiles:
            # Rank ahead of the writers by at most one park each: results of national runs at
            # fine resolution are large, and waiting writers would hold them all.
            while sum(not f.done() for f in pending) > slots:
                next(f for f in pending if not f.done()).result()
            folder = tmp / profile.name if several else tmp
            folder.mkdir(exist_ok=True)
            shown = Path(settings.out) / profile.name if several else Path(settings.out)
            result, timings = rank_park(ranker, profile, settings, progress)
            # One park: its picture is drawn by a worker while this process draws the map.
            extra = (study.executor.pool,) if isinstance(writer, _InPlace) else ()
            pending.append(writer.submit(write_park, settings, study, result, timings, folder, shown, progress,
                                         checks, *extra))
        out = [f.result() for f in pending]
        ok = True
        return out
    finally:
        for f in pending:
            f.cancel()
        if thread is not None:
            # After an error or Ctrl-C the staged folder is dropped: do not wait for the writer.
            thread.shutdown(wait=ok, cancel_futures=True)

