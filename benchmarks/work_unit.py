"""Calibrate optimal's work unit (mapper/strategies/optimal/work.py): the CPU cost of
each counted bounding step, in units of one mapping scored by ``local``, on a few preset
cases, in one run (so the machine's load is the same for both sides).

    python benchmarks/work_unit.py [--seconds 20] [--budget 20000] [--cases 0,1,2,3]

Per case it prints local's CPU microseconds per scored mapping (the unit), then, from one
stream of ``optimal`` run for ``--seconds``, each counted step's CPU microseconds per
count and that in units (the weight work.py should hold), and finally CPU seconds per
1,000 work units charged by the current weights (about local's CPU per 1,000 mappings
when the weights fit) plus the whole search with ``--budget`` evaluations: ``optimal``,
``auto`` and ``local``, CPU seconds each (the budget bounds all three alike).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

from loopscape.mapper import search
from loopscape.mapper.strategies.optimal import OptimalSearch
from loopscape.mapper.strategies.optimal import work as work_mod
from loopscape.mapper.strategies.optimal.prepare import prepare_kernels
from loopscape.mapper.strategies.optimal.probes import OrderProbe
from loopscape.spaces.presets import resolve_arch, resolve_constraints, resolve_workload

CASES = [("eyeriss_like", "resnet50_conv2_x_3x3", None),
         ("eyeriss_like", "resnet50_conv2_x_3x3", "eyeriss_like_constraints"),
         ("simba_like", "bert_base_ffn1", None),
         ("eyeriss_like", "mobilenet_v2_features3_dw", None)]


def _timed(cpu: dict, key: str, fn):
    def wrapper(*args, **kwargs):
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu[key] += time.process_time() - t
    return wrapper


def _profile(w, a, c, seconds: float) -> tuple[dict, dict, float, int]:
    """CPU seconds per counted step of one optimal stream run for ``seconds``."""
    cpu: dict = defaultdict(float)
    orig = (OptimalSearch._expand, OptimalSearch._keep_bound, OptimalSearch._least_leaf,
            OptimalSearch._leaves, OrderProbe.__call__)

    def expand(self):
        node = self.stack[-1] if self.stack else self.heap[0][2]
        key = "rows" if self._remaining(node[0]) <= self.block else "nodes"
        return _timed(cpu, key, orig[0])(self)
    OptimalSearch._remaining = lambda self, d: __import__("math").prod(self.sizes[d:])
    OptimalSearch._expand = expand
    OptimalSearch._keep_bound = _timed(cpu, "tilings", orig[1])
    OptimalSearch._least_leaf = _timed(cpu, "tilings", orig[2])
    OptimalSearch._leaves = _timed(cpu, "leaves", orig[3])
    OrderProbe.__call__ = _timed(cpu, "probes", orig[4])
    meters = []
    setup = OptimalSearch.setup

    def keep_meter(self, ctx):
        setup(self, ctx)
        meters.append(self.meter)
    OptimalSearch.setup = keep_meter
    try:
        t = time.process_time()
        r = search(w, a, c, strategy="optimal", seconds=seconds, streams=1,
                   strategy_options={"warm_start": 0})
        total = time.process_time() - t
    finally:
        (OptimalSearch._expand, OptimalSearch._keep_bound, OptimalSearch._least_leaf,
         OptimalSearch._leaves, OrderProbe.__call__) = orig
        OptimalSearch.setup = setup
        del OptimalSearch._remaining
    cpu["tilings"] += cpu.pop("leaves", 0.0) - cpu["probes"]  # leaf_bound's per-leaf part
    m = meters[-1]  # the search's stream (not a preparation's walk)
    counts = {"nodes": m.nodes, "rows": m.rows, "tilings": m.tilings, "probes": m.probes,
              "children": m.children, "blocks": m.blocks, "groups": m.groups,
              "combos": m.combos}
    return dict(cpu), counts, total, m.total()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--budget", type=int, default=20000)
    ap.add_argument("--cases", default=",".join(str(k) for k in range(len(CASES))),
                    help="indices into CASES, comma-separated")
    args = ap.parse_args()
    prepare_kernels(OptimalSearch)  # compiled or loaded here, outside every timed search
    for k in args.cases.split(","):
        arch, layer, cons = CASES[int(k)]
        a, w = resolve_arch(arch), resolve_workload(layer)
        c = resolve_constraints(cons, w, a) if cons else None
        print(f"== {layer} on {arch}, {cons or 'no constraints'}")
        t = time.process_time()
        r = search(w, a, c, strategy="local", evaluations=20000, streams=1, seed=0)
        unit = (time.process_time() - t) / r.stats.evaluated
        print(f"local: {1e6 * unit:.1f} us CPU per scored mapping (the unit)")
        cpu, counts, total, units = _profile(w, a, c, args.seconds)
        for key in ("nodes", "rows", "tilings", "probes"):
            n = counts[key]
            if n:
                per = cpu.get(key, 0.0) / n
                weight = getattr(work_mod, {"nodes": "NODE", "rows": "ROW", "tilings": "TILING",
                                            "probes": "PROBE"}[key])
                print(f"  {key:8s} {n:>10,} counted, {1e6 * per:9.1f} us CPU each = "
                      f"{per / unit:8.2f} units (work.py: {weight})")
        if counts["nodes"]:
            print(f"  (nodes: {counts['children'] / counts['nodes']:.1f} children each; "
                  f"{1e6 * cpu.get('nodes', 0.0) / counts['children']:.1f} us CPU per child = "
                  f"{cpu.get('nodes', 0.0) / counts['children'] / unit:.2f} units, work.py: "
                  f"{work_mod.CHILD} per child + {work_mod.NODE} per node)")
        print(f"  ({counts['combos']:,} combinations of spatial profiles (rule P), work.py: "
              f"{work_mod.COMBO} each)")
        print(f"  ({counts['blocks']:,} blocks, work.py: {work_mod.BLOCK} each; "
              f"{counts['groups']:,} groups of tilings, work.py: {work_mod.GROUP} each)")
        print(f"optimal, one stream, {args.seconds:g} s: {total:.1f} s CPU for {units:,} work "
              f"units: {1e3 * total / max(units, 1):.3f} s per 1,000 units vs local "
              f"{1e3 * unit:.3f} s per 1,000 mappings")
        for strategy in ("optimal", "auto", "local"):
            t, wall = time.process_time(), time.perf_counter()
            r = search(w, a, c, strategy=strategy, evaluations=args.budget, seed=0)
            s = r.stats
            print(f"  --budget {args.budget}: {strategy:8s} {time.process_time() - t:6.1f} s CPU "
                  f"{time.perf_counter() - wall:6.1f} s wall, {s.evaluated:,} evaluated + "
                  f"{s.work:,} work, gap {s.gap}")


if __name__ == "__main__":
    main()
