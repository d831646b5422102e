"""Benchmark: what rule ``order_bound``'s probes cost with and without link transfers.

Under links (the default) ``optimal`` scores its probes without them (the terms it reads
off them are link-free: docs/optimal.md, order_bound) and scores again with links only
the probes on the front of their link-free values. This script times the batched
evaluator on the same legal mappings of ResNet-50 conv2_x 3x3 on ``eyeriss_like`` with
``eyeriss_like_constraints`` (drawn with a seed), with links on (the old probes, the
baseline) and off (the new probes), in the same run, and checks the terms the probes
use agree.

    python benchmarks/optimal_probes.py [--rows 4096] [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.costmodels.options import ModelOptions
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    layer = load_layer_preset("resnet50_conv2_x_3x3")
    arch = load_arch_preset("eyeriss_like")
    ms = Mapspace(layer, arch, resolve_constraints("eyeriss_like_constraints", layer, arch))
    _, batch = ms.sample_batch(args.rows, seed=args.seed)
    results = {}
    for label, links in (("links on (baseline)", True), ("links off (probes now)", False)):
        ev = BatchEvaluator(layer, arch, options=ModelOptions(link_transfers=links))
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            res = ev(batch)
            best = min(best, time.process_time() - t0)
        results[links] = res
        print(f"{label:<24} {len(batch):>6} rows  {best:7.3f} s CPU  "
              f"{1e6 * best / len(batch):8.1f} us/row")
    on, off = results[True], results[False]
    same = all(np.allclose(on.tensor_energy_pj[:, 0, ti], off.tensor_energy_pj[:, 0, ti])
               for ti, t in enumerate(layer.tensors) if t.read_write or arch.fanout(0) == (1, 1))
    changed = int((on.energy_pj != off.energy_pj).sum())
    print(f"outermost-level energies equal: {same}; rows whose energy links change: {changed}")


if __name__ == "__main__":
    main()
