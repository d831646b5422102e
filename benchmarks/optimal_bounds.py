"""Benchmark: how tight ``optimal``'s subtree bound is along a good mapping's path, with
the plain relaxation (each unassigned dimension's least row per column) and with rules J
(spatial room), K (keepers' capacity) and P (spatial profiles), each with rule C (the
compulsory words of a sliding window), and rule P without rule C, docs/optimal.md.

A good mapping is found first with ``local`` (``--seconds``, seed 0); then, for each
prefix of the search's tree order, the bound of the subtree holding that mapping is
printed as energy (uJ), cycles and EDP (J*cycle) beside the mapping's own values, and
the CPU time of one bound of each kind. Every bound must stay below the mapping's values
(it is checked). The default case is ResNet-50 conv2_x 3x3 on ``eyeriss_like`` without
constraints (issue 14's unconstrained target)::

    python benchmarks/optimal_bounds.py [--arch eyeriss_like] [--layer resnet50_conv2_x_3x3]
                                        [--constraints NAME] [--seconds 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from loopscape.costmodels import evaluate
from loopscape.mapper import search
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.capacity import CapacityRelax
from loopscape.mapper.strategies.optimal.joint import JointFloor
from loopscape.mapper.strategies.optimal.profiles import SpatialProfiles
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.mapper.strategies.optimal.tree_order import branching_order
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="eyeriss_like")
    ap.add_argument("--layer", default="resnet50_conv2_x_3x3")
    ap.add_argument("--constraints", default=None)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    layer, arch = load_layer_preset(args.layer), load_arch_preset(args.arch)
    c = resolve_constraints(args.constraints, layer, arch) if args.constraints else None
    ms = Mapspace(layer, arch, c)
    r = search(layer, arch, c, strategy="local", seconds=args.seconds, seed=0)
    best = min(r.front, key=lambda p: p.objectives["energy_pj"] * p.objectives["cycles"])
    ev = evaluate(layer, arch, ms.mapping(best.mapspace_id))
    E, C = ev.energy_pj, ev.cycles
    print(f"{args.layer} on {args.arch}" + (f" + {args.constraints}" if c else "") +
          f": local's best after {args.seconds:g} s: {E * 1e-6:.2f} uJ, {C:,} cycles, "
          f"EDP {E * C * 1e-12:.2f} J*cycle")
    st = structure(ms)
    bd = Bounder(layer, arch, st, links=True)  # the default model: links on
    jf, cap, prof = JointFloor(bd), CapacityRelax(bd), SpatialProfiles(bd)
    # rule P with a bounder without rule C, for comparison
    prof_nc = SpatialProfiles(Bounder(layer, arch, st, links=True, compulsory=False))
    perm = branching_order(jf, st.dim_sizes)
    rows = st.tiling_rows(best.mapspace_id)
    L, D = bd.L, len(rows)
    print(f"tree order {[st.dims[d] for d in perm]}")
    print(f"{'prefix':<28} {'plain':>22} {'rule J':>22} {'J + K':>10} {'rule P':>22} "
          f"{'P without C':>22}")
    cpu = {"plain": 0.0, "J": 0.0, "K": 0.0, "P": 0.0}
    for depth in range(D + 1):
        A, U = list(perm[:depth]), list(perm[depth:])
        pos, neg = np.ones(bd.n_pos), np.ones(bd.n_neg)
        spx, spy = np.ones(L, dtype=np.int64), np.ones(L, dtype=np.int64)
        ext = np.ones((1, L, D), dtype=np.int64)
        tem = np.ones((1, L, D), dtype=np.int64)
        for di in A:
            f, rw = bd.dims[di], rows[di]
            pos, neg = pos * f.pos[rw], neg * f.neg[rw]
            spx, spy = spx * f.sx[rw], spy * f.sy[rw]
            ext[0, :, di], tem[0, :, di] = f.ext[rw], f.temporal[rw]
        ce = bd.tiling_extents(tem, ext)
        rp, rn = bd.relaxed_over(U)
        t = time.process_time()
        e0, c0 = bd.bound((pos * rp)[None], (neg * rn)[None], ce=ce)
        t1 = time.process_time()
        pj = jf.relaxed(U, spx[None], spy[None])
        e1, c1 = bd.bound(pos[None] * pj, (neg * rn)[None], ce=ce)
        t2 = time.process_time()
        ek = cap.bound(U, pos[None], neg[None], pj, rn[None], ext, ce)
        t3 = time.process_time()
        pe, pc, _ = prof.bound(U, pos, neg, spx, spy, ce)
        t4 = time.process_time()
        qe, qc, _ = prof_nc.bound(U, pos, neg, spx, spy, ce)
        for k, dt in zip(cpu, (t1 - t, t2 - t1, t3 - t2, t4 - t3)):
            cpu[k] += dt
        assert e0[0] <= E and e1[0] <= E and ek[0] <= E and c1[0] <= C
        assert ((pe <= E) & (pc <= C)).any() and (pe * pc).min() <= E * C
        fmt = lambda e, cy: f"{e * 1e-6:7.1f} {cy:>9,.0f} {e * cy * 1e-12:6.1f}"  # noqa: E731
        j, q = int(np.argmin(pe * pc)), int(np.argmin(qe * qc))
        assert (qe * qc)[q] <= (pe * pc)[j]  # rule C only raises the bound
        print(f"{str([st.dims[d] for d in A]):<28} {fmt(e0[0], c0[0])} {fmt(e1[0], c1[0])} "
              f"{ek[0] * 1e-6:10.1f} {fmt(pe[j], pc[j])} {fmt(qe[q], qc[q])}  "
              f"({len(pe)} profiles)")
    print("columns: energy uJ, cycles, EDP J*cycle (rule P: the combination of least EDP); "
          "CPU s for all prefixes: " + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()))


if __name__ == "__main__":
    main()
