"""Benchmark: which side of a stopped ``optimal`` search's gap is far (docs/optimal.md,
"Measured", rule C without constraints).

Runs ``search(layer, arch, constraints, strategy=S, seconds=T)`` and prints the proven gap,
then per stream the open list when it stopped: how many open nodes hold exactly the least
key (the proven bound) and how many lie within 1 %, their depths, and the holder's own
bound against its floor (rule P). Then it scores the best mapping found and prints, per
tensor, the model's energy beside the bound's terms at that mapping's tiling: with the
tensor's least chain (what the tiling bound uses), with the mapping's own chain
(keep_bound) and with its own loop orders too (leaf_bound without the probe), so the
looseness left at the best tiling shows term by term. The default case is ResNet-50
conv2_x 3x3 on ``eyeriss_like`` without constraints (issue 14's unconstrained target)::

    python benchmarks/optimal_gap.py [--arch eyeriss_like] [--layer resnet50_conv2_x_3x3]
                                     [--constraints NAME] [--strategy auto] [--seconds 60]
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from loopscape.costmodels import evaluate
from loopscape.mapper import search
from loopscape.mapper.strategies.optimal.search import OptimalSearch
from loopscape.mapper.strategies.optimal.tables import space_tables
from loopscape.spaces.encoding import encode
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="eyeriss_like")
    ap.add_argument("--layer", default="resnet50_conv2_x_3x3")
    ap.add_argument("--constraints", default=None)
    ap.add_argument("--strategy", default="auto", choices=("auto", "optimal"))
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    layer, arch = load_layer_preset(args.layer), load_arch_preset(args.arch)
    c = resolve_constraints(args.constraints, layer, arch) if args.constraints else None
    streams: list[OptimalSearch] = []
    certificate = OptimalSearch.certificate

    def keep(self):  # the streams' searches, to read their open lists after the run
        if all(s is not self for s in streams):
            streams.append(self)
        return certificate(self)
    OptimalSearch.certificate = keep
    t0, c0 = time.perf_counter(), time.process_time()
    r = search(layer, arch, c, strategy=args.strategy, seconds=args.seconds)
    OptimalSearch.certificate = certificate
    cert = r.stats.certificate
    print(f"{args.layer} on {args.arch}" + (f" + {args.constraints}" if c else "") +
          f", {args.strategy} {args.seconds:g} s: gap {100 * r.stats.gap:.2f} %, best EDP "
          f"{cert['best']:.3f}, proven lower bound {cert['lower_bound']:.3f} J*cycle "
          f"({time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU)")
    for s in sorted(streams, key=lambda s: s.ctx.worker):
        nodes = s.stack + [h[2] for h in s.heap]
        if not nodes:
            print(f"stream {s.ctx.worker}: no open node")
            continue
        keys = np.array([s._key(n) for n in nodes]) * 1e-12
        m = keys.min()
        at = keys <= m * (1 + 1e-9)
        depths = collections.Counter(n[0] for n, a in zip(nodes, at) if a)
        h = nodes[int(np.argmin(keys))]
        print(f"stream {s.ctx.worker}: {len(nodes):,} open; least key {m:.3f} held by "
              f"{int(at.sum()):,} (depths {dict(sorted(depths.items()))}), "
              f"{int((keys <= m * 1.01).sum()):,} within 1 %; holder at depth {h[0]}: own "
              f"bound {h[7][0] * h[7][1] * 1e-12:.3f}, floor {h[8] * 1e-12:.3f}, rule P "
              f"{'run' if h[9] is not None else 'not run'}")
    ms = Mapspace(layer, arch, c)
    best = min(r.front, key=lambda p: p.objectives["energy_pj"] * p.objectives["cycles"])
    m = ms.mapping(best.mapspace_id)
    ev = evaluate(layer, arch, m)
    st, bd, _, _, _ = space_tables(ms, True)
    rows = st.tiling_rows(best.mapspace_id)
    L, D = bd.L, len(rows)
    pos = np.prod([bd.dims[di].pos[rw] for di, rw in enumerate(rows)], axis=0)[None]
    neg = np.prod([bd.dims[di].neg[rw] for di, rw in enumerate(rows)], axis=0)[None]
    ext = np.stack([bd.dims[di].ext[rw] for di, rw in enumerate(rows)], axis=1)[None]
    tem = np.stack([bd.dims[di].temporal[rw] for di, rw in enumerate(rows)], axis=1)[None]
    batch = encode(layer, arch, [m])
    ce, ce_own = bd.tiling_extents(tem, ext), bd.tiling_extents(tem, ext, ranks=batch.rank)
    print(f"best mapping: {ev.energy_pj * 1e-6:.2f} uJ, {ev.cycles:,} cycles; tiling bound "
          f"{bd.bound(pos, neg, ce=ce)[0][0] * 1e-6:.2f} uJ; MACs and leakage "
          f"{bd.fixed_energy(pos)[0] * 1e-6:.2f} uJ (bound)")
    print(f"{'tensor':<10} {'model uJ':>9} {'least chain':>22} {'own chain':>22} "
          f"{'own orders':>11}")
    for ti, t in enumerate(bd.workload.tensors):
        def energy(ch, x):
            return float(bd.chain_energy(ti, ch, pos, neg, ce=x)[0]) * 1e-6
        own = tuple(np.nonzero(batch.keep[0, :, ti])[0].tolist())
        least = min(bd.chains[ti], key=lambda ch: energy(ch, ce))
        model = sum(lv.tensors[t.name].energy_pj for lv in ev.levels if t.name in lv.tensors)
        print(f"{t.name:<10} {model * 1e-6:9.2f} {energy(least, ce):8.2f} {str(least):>13} "
              f"{energy(own, ce):8.2f} {str(own):>13} {energy(own, ce_own):11.2f}")


if __name__ == "__main__":
    main()
