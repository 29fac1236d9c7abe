"""``sitesel sensitivity``: how robust a ranking is to its weights (Dirichlet samples and a sweep)."""
from __future__ import annotations

import argparse
from pathlib import Path

from sitesel.errors import SiteselError


def add_parser(sub) -> None:
    from sitesel.cli.options import add_profile_options, add_study_options
    from sitesel.defaults import DEFAULT_CONCENTRATION, DEFAULT_K, DEFAULT_SAMPLES

    s = sub.add_parser("sensitivity", help="rank, then perturb the weights and report how robust each site's rank is",
                       description="Rank one park type, then re-score its candidate sites under N weight vectors "
                                   "drawn from Dirichlet(concentration x weights) and sweep each weight on its own. "
                                   "Writes the run outputs with sens_* columns, sweep.png, sweep.csv and "
                                   "sensitivity.json (method: docs/tuning.md).")
    add_profile_options(s)
    add_study_options(s)
    s.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help=f"weight samples (default {DEFAULT_SAMPLES})")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--concentration", type=float, default=DEFAULT_CONCENTRATION,
                   help="Dirichlet concentration c: weight sd = sqrt(w(1-w)/(c+1)) "
                        f"(default {DEFAULT_CONCENTRATION:g})")
    s.add_argument("-k", "--top-k", type=int, dest="k", help=f"report the share of samples in the top k "
                                                             f"(default min({DEFAULT_K}, --top))")
    s.add_argument("--out", required=True, help="output directory (must be new or empty)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output directory of an earlier run")
    s.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.analysis.sensitivity import add_robustness_layer, write_extras
    from sitesel.api import StudySession, write_run
    from sitesel.cli.options import open_study_from_args, profiles_from_args
    from sitesel.progress import Progress

    prog = Progress(quiet=a.quiet)
    profiles = profiles_from_args(a)
    if len(profiles) != 1:
        raise SiteselError("sensitivity works on one park type at a time")
    study = open_study_from_args(a, prog)
    with study:
        session = StudySession(study, a.land)
        with prog.step("ranking"):
            res = session.rank(profiles[0], top=a.top, allow_missing=a.allow_missing)
        with prog.step(f"sensitivity ({a.samples} samples)"):
            sens = session.sensitivity(res, samples=a.samples, seed=a.seed, concentration=a.concentration, k=a.k)
        res.result.sites = sens.sites
        out = Path(a.out)
        with prog.step("writing outputs"):
            m = add_robustness_layer(res.map(), sens.sites)
            write_run(res, out, extra={"sensitivity": sens.settings}, map_obj=m,
                      also=lambda tmp: write_extras(sens, tmp), overwrite=a.overwrite)
    k = sens.settings["k"]
    print(f"{res.profile.name}: {len(sens.sites)} sites, {a.samples} weight samples "
          f"(Dirichlet concentration {a.concentration:g}, seed {a.seed}) -> {out}")
    print(f"  rank  score  in top {k}  rank 5-95%")
    for _, r in sens.sites.head(min(10, len(sens.sites))).iterrows():
        print(f"  #{int(r['rank']):<4d}{r['score']:6.1f}  {r['sens_top_k_share']:8.0%}   "
              f"{int(r['sens_rank_p05'])}-{int(r['sens_rank_p95'])}")
    return 0
