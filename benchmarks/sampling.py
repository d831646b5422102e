"""Benchmark: legal mappings sampled per second from the mapspace.

Layer: ResNet-50 conv2_x 3x3 (C=M=64, P=Q=56, R=S=3). Architectures: the Eyeriss-like
design under its own architecture constraints (those of the Timeloop exercise, shipped
as tests/fixtures/timeloop/design_eyeriss_like), and the same design, Simba-like and
the simple weight-stationary design without constraints. For each it prints the
mapspace sizes and the sampling rates (legal mappings per second, one core; one at a
time and in batches), each measured over ``--seconds`` of sampling after a warm-up draw. Compare runs of this script; the
figures are per machine.

    python benchmarks/sampling.py [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from loopscape.spaces.io.timeloop import load_timeloop, timeloop_constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_workload_preset

ROOT = Path(__file__).resolve().parent.parent
EYERISS_CASE = ROOT / "tests" / "fixtures" / "timeloop" / "design_eyeriss_like"


def spaces():
    layer = load_workload_preset("resnet50_conv2_x_3x3")
    spec = load_timeloop([EYERISS_CASE / "parsed-processed-input.yaml"])
    eyeriss = load_arch_preset("eyeriss_like")
    constraints = timeloop_constraints(spec, layer, eyeriss, source=str(EYERISS_CASE))
    yield "eyeriss_like + its constraints", Mapspace(layer, eyeriss, constraints)
    for arch in ("eyeriss_like", "simba_like", "simple_weight_stationary"):
        yield f"{arch}, no constraints", Mapspace(layer, load_arch_preset(arch))


def measure(ms: Mapspace, seconds: float) -> dict:
    """Legal mappings per second: one at a time (``sample``, Mapping objects) and in
    batches (``sample_batch``, arrays with ids), each for ``seconds``."""
    ms.sample(1, seed=0)  # warm-up: builds the proposal tables
    ms.sample_batch(1, seed=0)
    out = {}
    for key, draw, size in (("legal_per_s", ms.sample, 200),
                            ("batch_legal_per_s", ms.sample_batch, 16384)):
        t0 = time.perf_counter()
        n = 0
        seed = 1
        while time.perf_counter() - t0 < seconds:
            got = draw(size, seed=seed)
            n += len(got) if key == "legal_per_s" else len(got[1])
            seed += 1
        out[key] = n / (time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for name, ms in spaces():
        sizes = ms.sizes()
        rows.append({"space": name, **{k: sizes[k] for k in ("index_factorization", "total",
                                                               "pruned")},
                     **measure(ms, args.seconds)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'space':42} {'IF (Timeloop)':>22} {'total ids':>10} {'pruned':>9} "
          f"{'legal/s':>8} {'batched legal/s':>16}")
    for r in rows:
        print(f"{r['space']:42} {r['index_factorization']:>22,} {r['total']:>10.3g} "
              f"{r['pruned']:>9.3g} {r['legal_per_s']:>8,.0f} {r['batch_legal_per_s']:>16,.0f}")


if __name__ == "__main__":
    main()
