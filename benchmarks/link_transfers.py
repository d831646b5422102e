"""Batched evaluation throughput with and without inter-PE link transfers (same run, same
mappings): 2,000 mappings sampled (seed 1) from the Eyeriss-like row-stationary mapspace
of the eyeriss_default layer. With links on, rows where a link may apply are scored by the
scalar model (docs/semantics.md, "Link transfers").

    python benchmarks/link_transfers.py
"""

import time

from loopscape.costmodels import ModelOptions
from loopscape.costmodels.batched import BatchEvaluator
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints


def main() -> None:
    w, a = load_layer_preset("eyeriss_default"), load_arch_preset("eyeriss_like")
    ms = Mapspace(w, a, resolve_constraints("eyeriss_like_constraints", w, a))
    _, batch = ms.sample_batch(2000, seed=1)
    best = {}
    for links in (False, True):
        ev = BatchEvaluator(w, a, options=ModelOptions(link_transfers=links))
        t = time.perf_counter()
        r = ev(batch)
        dt = time.perf_counter() - t
        best[links] = r.energy_pj.min()
        print(f"link transfers {'on ' if links else 'off'}: {len(batch) / dt:10,.0f} mappings/s, "
              f"least energy {best[links]:,.0f} pJ")


if __name__ == "__main__":
    main()
