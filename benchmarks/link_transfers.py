"""What inter-PE link transfers cost, same run, same mappings:

1. batched evaluation throughput of 2,000 mappings sampled (seed 1) from the Eyeriss-like
   row-stationary mapspace of the eyeriss_default layer, with links off, on (the batched
   model: numpy pre-filter, link effects patched into the flagged rows), and on with the
   scalar evaluator for every row the pre-filter flags (how the batched model scored them
   before; docs/semantics.md, "Link transfers");
2. the README's search (resnet50_conv2_x_3x3 on eyeriss_like, 20,000 evaluations, seed 0)
   with links off and on: wall time and best EDP.

    python benchmarks/link_transfers.py
"""

import time

import numpy as np

from loopscape.costmodels import ModelOptions, evaluate
from loopscape.costmodels.batched import BatchEvaluator
from loopscape.costmodels.link_filter import LinkFilter
from loopscape.mapper.search import search
from loopscape.spaces.encoding import decode
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints


def throughput() -> None:
    w, a = load_layer_preset("eyeriss_default"), load_arch_preset("eyeriss_like")
    ms = Mapspace(w, a, resolve_constraints("eyeriss_like_constraints", w, a))
    _, batch = ms.sample_batch(2000, seed=1)
    for links in (False, True):
        ev = BatchEvaluator(w, a, options=ModelOptions(link_transfers=links))
        t = time.perf_counter()
        r = ev(batch)
        dt = time.perf_counter() - t
        print(f"batched, link transfers {'on ' if links else 'off'}: {len(batch) / dt:10,.0f} "
              f"mappings/s, least energy {r.energy_pj.min():,.0f} pJ")
    on = ModelOptions(link_transfers=True)
    t = time.perf_counter()
    ev = BatchEvaluator(w, a)
    r = ev(batch)
    flags = LinkFilter(w, a, on.keeps_stationary_translation).flags(batch)
    energy = r.energy_pj.copy()
    for row in np.nonzero(flags)[0].tolist():
        energy[row] = evaluate(w, a, decode(w, a, batch, row), check=False, options=on).energy_pj
    dt = time.perf_counter() - t
    print(f"batched + scalar on the {np.count_nonzero(flags)} flagged rows (links on): "
          f"{len(batch) / dt:10,.0f} mappings/s, least energy {energy.min():,.0f} pJ")


def searches() -> None:
    w, a = load_layer_preset("resnet50_conv2_x_3x3"), load_arch_preset("eyeriss_like")
    c = resolve_constraints("eyeriss_like_constraints", w, a)
    for links in (False, True):
        t = time.perf_counter()
        res = search(w, a, c, evaluations=20000, seed=0,
                     options=ModelOptions(link_transfers=links))
        dt = time.perf_counter() - t
        best = min(p.objectives["energy_pj"] * 1e-12 * p.objectives["cycles"] for p in res.front)
        print(f"search resnet50_conv2_x_3x3, 20,000 evaluations, link transfers "
              f"{'on ' if links else 'off'}: {dt:5.2f} s, best EDP {best:.4g} J*cycle")


if __name__ == "__main__":
    throughput()
    searches()
