"""Benchmark: ``optimal`` against the heuristics on every preset architecture x layer pair.

Issue 14 asks that "on every preset layer x architecture the optimum is no worse than
60 s of ``local``, ``random`` and ``bayesian`` on several seeds". For every preset
architecture x preset layer (``loopscape presets``; no constraints, default model
options, link transfers on) this script runs ``optimal`` with a time limit
(``--optimal-seconds``, default ``--seconds``) and each of ``local``, ``random`` and
``bayesian`` with ``--seconds`` over ``--seeds`` seeds (0, 1, ...), one job each, and
prints one row per pair: the least energy x cycles (EDP, J*cycle) ``optimal`` found,
whether its front is certified exact and its proven EDP gap, each heuristic's best EDP
over the seeds, and a verdict:

- ``optimal <= all heuristics``: no heuristic run found a lower EDP;
- ``heuristic better (optimal not certified, gap g)``: a heuristic found a lower EDP,
  which a stopped (uncertified) search allows;
- ``BUG: ...``: a certified optimum was beaten, or a heuristic went below the proven
  lower bound of a stopped search. The script then exits with status 1.

``--strategy auto`` runs the default strategy (``local``, then ``optimal`` seeded with
its front) in ``optimal``'s place, with the same time limit: the column and the JSON keys
keep the name ``optimal`` (they hold the certified or proven figures of whichever ran).

A pair whose layer fits no mapping of the architecture (no strategy finds a legal one,
or the mapspace refuses the pair) is skipped and the reason printed.

    python benchmarks/optimal_presets.py [--seconds 60] [--seeds 3] [--strategy auto]
        [--optimal-seconds S] [--evaluations N] [--optimal-evaluations N]
        [--arch NAME ...] [--layer NAME ...] [--json FILE [--resume]]

``--evaluations N`` gives each heuristic run an evaluation budget instead of a time
limit, ``--optimal-evaluations N`` does the same for ``optimal`` (with both, the run's
results depend only on the seeds, not on machine speed);
``--arch``/``--layer`` restrict the pairs. ``--json FILE`` writes the settings and the
rows, atomically, after every pair; with ``--resume`` the rows already in that file (of
a run with the same settings) are kept and only the missing pairs run. The defaults are
issue 14's (60 s, 3 seeds: about 10 minutes a pair).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from loopscape.cli.outputs import check_output_file
from loopscape.mapper import search
from loopscape.mapper.result_dir import write_json_atomic
from loopscape.spaces.arch import Architecture
from loopscape.spaces.errors import SpecError
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import list_presets, load_arch_preset, load_layer_preset
from loopscape.spaces.workload import Workload

HEURISTICS = ("local", "random", "bayesian")
REL_TOL = 1e-9  # relative tolerance of EDP comparisons (float rounding of equal mappings)


def min_edp(result) -> float | None:
    """Least energy x cycles (J*cycle) on a search's front; None when it found nothing."""
    if not result.front:
        return None
    return min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"]
               for p in result.front)


def verdict(optimal_edp: float | None, certified: bool, gap: float | None,
            heuristic_best: dict[str, float | None]) -> tuple[str, bool]:
    """The row's verdict and whether it reveals a bug.

    A certified optimum beaten by any heuristic is a bug; so is a heuristic below the
    proven lower bound ``optimal_edp / (1 + gap)`` of a stopped search. A stopped search
    beaten by a heuristic is allowed (its gap says by how much it could be)."""
    found = {k: v for k, v in heuristic_best.items() if v is not None}
    if optimal_edp is None:
        if found and certified:
            return ("BUG: certified optimal found no mapping, heuristics did (" +
                    ", ".join(sorted(found)) + ")", True)
        if found:
            return ("heuristic better (optimal not certified, found nothing in its time): "
                    + ", ".join(sorted(found)), False)
        return "no legal mapping", False
    better = sorted(k for k, v in found.items() if v < optimal_edp * (1 - REL_TOL))
    if not better:
        return "optimal <= all heuristics", False
    best = min(found[k] for k in better)
    names = ", ".join(better)
    if certified:
        return f"BUG: certified optimum {optimal_edp:.6g} beaten by {names} ({best:.6g})", True
    if gap is not None:
        bound = optimal_edp / (1 + gap)
        if best < bound * (1 - REL_TOL):
            return (f"BUG: {names} ({best:.6g}) below the proven lower bound "
                    f"{bound:.6g}", True)
    g = "-" if gap is None else f"{100 * gap:.2f} %"
    return f"heuristic better (optimal not certified, gap {g}): {names}", False


def compare_pair(workload: Workload, arch: Architecture, *, seconds: float | None = 60.0,
                 evaluations: int | None = None, seeds: int = 3,
                 optimal_seconds: float | None = None,
                 optimal_evaluations: int | None = None, strategy: str = "optimal"
                 ) -> dict:
    """Run ``optimal`` and the heuristics on one pair and return its row (a dict).

    Heuristics run ``evaluations`` scored mappings per seed when given, else ``seconds``;
    ``optimal`` runs ``optimal_evaluations`` when given, else ``optimal_seconds``
    (default ``seconds``); ``strategy`` (``optimal`` or ``auto``) is the one run in
    ``optimal``'s place. Keys: ``layer``, ``arch``, ``pruned_size``,
    ``optimal_edp_j_cycles``, ``certified``, ``gap``, ``lower_bound_j_cycles``,
    ``optimal_seconds``, ``heuristics`` ({name: {best_edp_j_cycles, per_seed}}),
    ``verdict``, ``bug`` and ``skipped`` (a reason, or None)."""
    row = {"layer": workload.name, "arch": arch.name, "skipped": None}
    try:
        row["pruned_size"] = str(Mapspace(workload, arch).pruned_size)
    except SpecError as e:
        row.update(skipped=f"mapspace refused: {e}", verdict="skipped", bug=False)
        return row
    if optimal_evaluations is None and optimal_seconds is None:
        optimal_seconds = seconds
    t = time.perf_counter()
    opt = search(workload, arch, strategy=strategy, evaluations=optimal_evaluations,
                 seconds=None if optimal_evaluations is not None else optimal_seconds)
    row["optimal_seconds"] = round(time.perf_counter() - t, 2)
    edp = min_edp(opt)
    certified = bool(opt.stats.optimal)
    gap = opt.stats.gap
    row.update(optimal_edp_j_cycles=edp, certified=certified, gap=gap,
               lower_bound_j_cycles=None if edp is None or gap is None else edp / (1 + gap))
    heur: dict[str, dict] = {}
    for name in HEURISTICS:
        per_seed = []
        for seed in range(seeds):
            r = search(workload, arch, strategy=name, seed=seed, evaluations=evaluations,
                       seconds=None if evaluations is not None else seconds)
            per_seed.append(min_edp(r))
        found = [v for v in per_seed if v is not None]
        heur[name] = {"best_edp_j_cycles": min(found) if found else None,
                      "per_seed": per_seed}
    row["heuristics"] = heur
    best = {k: v["best_edp_j_cycles"] for k, v in heur.items()}
    if edp is None and all(v is None for v in best.values()):
        row.update(skipped="the layer fits no mapping (no strategy found a legal one)",
                   verdict="skipped", bug=False)
        return row
    row["verdict"], row["bug"] = verdict(edp, certified, gap, best)
    return row


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def format_row(row: dict) -> str:
    if row["skipped"]:
        return f"{row['arch']:<26} {row['layer']:<27} skipped: {row['skipped']}"
    gap = "-" if row["gap"] is None else f"{100 * row['gap']:.2f}%"
    h = row["heuristics"]
    return (f"{row['arch']:<26} {row['layer']:<27} {_fmt(row['optimal_edp_j_cycles']):>10} "
            f"{'yes' if row['certified'] else 'no':>4} {gap:>9} "
            + " ".join(f"{_fmt(h[k]['best_edp_j_cycles']):>10}" for k in HEURISTICS)
            + f"  {row['verdict']}")


HEADER = (f"{'architecture':<26} {'layer':<27} {'optimal':>10} {'cert':>4} {'gap':>9} "
          + " ".join(f"{k:>10}" for k in HEURISTICS) + "  verdict")


def resumed_rows(path: Path, settings: dict, error) -> list[dict]:
    """The rows of an earlier run's ``path`` to keep (none if it does not exist yet);
    ``error`` (the parser's) reports a file that is not such a run or whose settings
    differ from ``settings``, with the key and both values."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        error(f"--resume: {path} is not a readable JSON file ({e}); give another --json "
              f"path or remove the file")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        error(f"--resume: {path} holds no 'rows' list: it is not this script's output")
    for key, want in settings.items():
        if data.get(key) != want:
            error(f"--resume: {path} was run with {key} = {data.get(key)!r}, this run has "
                  f"{want!r}; use the same settings or another --json path")
    return list(data["rows"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="wall time per heuristic run (default 60)")
    ap.add_argument("--seeds", type=int, default=3, help="heuristic seeds 0..N-1 (default 3)")
    ap.add_argument("--optimal-seconds", type=float, default=None,
                    help="time limit of optimal (default: --seconds)")
    ap.add_argument("--evaluations", type=int, default=None,
                    help="evaluation budget per heuristic run instead of --seconds")
    ap.add_argument("--optimal-evaluations", type=int, default=None,
                    help="evaluation budget of optimal instead of its time limit")
    ap.add_argument("--strategy", choices=("optimal", "auto"), default="optimal",
                    help="the strategy run in optimal's place (default optimal)")
    ap.add_argument("--arch", nargs="+", default=None, help="only these architectures")
    ap.add_argument("--layer", nargs="+", default=None, help="only these layers")
    ap.add_argument("--json", type=Path, default=None,
                    help="write the settings and rows to this file (after every pair)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows already in --json (same settings) and run the rest")
    args = ap.parse_args(argv)
    if args.resume and args.json is None:
        ap.error("--resume needs --json FILE (the file whose rows are kept)")
    for name, v in (("--seconds", args.seconds), ("--seeds", args.seeds),
                    ("--optimal-seconds", args.optimal_seconds),
                    ("--evaluations", args.evaluations),
                    ("--optimal-evaluations", args.optimal_evaluations)):
        if v is not None and v <= 0:
            ap.error(f"{name} must be positive, got {v}")
    presets = list_presets()
    archs = [p.name for p in presets if p.kind == "architecture"]
    layers = [p.name for p in presets if p.kind == "layer"]
    for kind, chosen, known in (("--arch", args.arch, archs), ("--layer", args.layer, layers)):
        for n in chosen or ():
            if n not in known:
                ap.error(f"{kind}: no preset named {n!r}; choose from {', '.join(known)}")
    archs = [a for a in archs if not args.arch or a in args.arch]
    layers = [w for w in layers if not args.layer or w in args.layer]
    budget = (f"{args.evaluations} evaluations" if args.evaluations
              else f"{args.seconds:g} s") + f" x {args.seeds} seeds"
    limit = (f"{args.optimal_evaluations} evaluations" if args.optimal_evaluations
             else f"{args.optimal_seconds or args.seconds:g} s")
    settings = {"seconds": args.seconds, "seeds": args.seeds,
                "optimal_seconds": args.optimal_seconds or args.seconds,
                "evaluations": args.evaluations,
                "optimal_evaluations": args.optimal_evaluations, "unit": "J*cycle",
                "strategy": args.strategy}
    if args.json:  # a path that cannot be written fails now, before any search
        try:
            check_output_file(args.json, "--json")
        except SpecError as e:
            ap.error(str(e))
    rows = resumed_rows(args.json, settings, ap.error) if args.resume else []
    print(f"{args.strategy} ({limit}) vs local/random/bayesian "
          f"({budget}); min EDP in J*cycle; gap = proven relative EDP gap", flush=True)
    print(HEADER, flush=True)
    for row in rows:
        print(format_row(row) + "  (resumed)", flush=True)
    have = {(r["arch"], r["layer"]) for r in rows}
    for an in archs:
        arch = load_arch_preset(an)
        for ln in layers:
            if (an, ln) in have:
                continue
            row = compare_pair(load_layer_preset(ln), arch, seconds=args.seconds,
                               evaluations=args.evaluations, seeds=args.seeds,
                               optimal_seconds=args.optimal_seconds,
                               optimal_evaluations=args.optimal_evaluations,
                               strategy=args.strategy)
            rows.append(row)
            print(format_row(row), flush=True)
            if args.json:  # every finished pair is kept, whatever happens later
                write_json_atomic(dict(settings, rows=rows), args.json)
    bugs = sum(bool(r["bug"]) for r in rows)
    done = [r for r in rows if not r["skipped"]]
    print(f"{len(done)} pairs ({len(rows) - len(done)} skipped): "
          f"{sum(r['certified'] for r in done)} certified, "
          f"{sum(r['verdict'] == 'optimal <= all heuristics' for r in done)} with optimal <= "
          f"all heuristics, {bugs} bugs", flush=True)
    if bugs:
        print(f"BUG: {bugs} pair(s) where a certified optimum or a proven bound was beaten",
              file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
