"""Benchmark: a whole-network sweep against Timeloop's random mapper.

ResNet-50 (54 layers, 24 unique shapes, 4.089 G MACs) on the Eyeriss-like design under
its own constraints (those of the Timeloop exercise), per-layer selection by least EDP,
the default sweep settings (strategy ``local``, 100,000 legal mappings per shape, seed
0). The sweep runs with 1 job and with 2 jobs in this one run, so the parallel speed-up
is measured on the same machine under the same load. Printed for each: wall time,
network energy, cycles, EDP, and the ratios against Timeloop's figures for the same
network, design and constraints (random mapper, victory condition 500, 2 threads:
212 s, 14.21 mJ, 35.73 M cycles; quoted from issue 6, measured by the issue's author).

    python benchmarks/sweep.py [--budget 100000] [--jobs 1,2] [--json FILE]

About 20 s per job setting at the default budget on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile

from loopscape.mapper.sweep import SweepSettings, network_layers, sweep
from loopscape.spaces.presets import resolve_arch, resolve_constraints

TIMELOOP = {"seconds": 212.0, "energy_pj": 14.21e9, "cycles": 35.73e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=100_000)
    ap.add_argument("--jobs", default="1,2")
    ap.add_argument("--json", dest="json_file")
    args = ap.parse_args()
    arch = resolve_arch("eyeriss_like")
    constraints = resolve_constraints("eyeriss_like_constraints", None, arch)
    name, layers, _ = network_layers("resnet50")
    rows = []
    for jobs in (int(j) for j in args.jobs.split(",")):
        with tempfile.TemporaryDirectory() as out:
            r = sweep(layers, arch, constraints, network=name,
                      settings=SweepSettings(evaluations=args.budget), out=out, jobs=jobs)
        s = r.summary
        rows.append({"jobs": jobs, "seconds": s["run"]["seconds"], "energy_pj": s["energy_pj"],
                     "cycles": s["cycles"], "edp_j_cycles": s["edp_j_cycles"],
                     "macs": s["macs"], "unique_shapes": s["unique_shapes"]})
    print(f"ResNet-50 on eyeriss_like (+ constraints), {rows[0]['unique_shapes']} unique "
          f"shapes, {rows[0]['macs'] / 1e9:.3f} G MACs, budget {args.budget:,} per shape")
    print(f"{'run':<28}{'wall s':>9}{'energy mJ':>11}{'M cycles':>10}{'EDP J*cyc':>12}")
    tl_edp = TIMELOOP["energy_pj"] * 1e-12 * TIMELOOP["cycles"]
    print(f"{'Timeloop random (2 threads)':<28}{TIMELOOP['seconds']:>9.1f}"
          f"{TIMELOOP['energy_pj'] / 1e9:>11.2f}{TIMELOOP['cycles'] / 1e6:>10.2f}{tl_edp:>12.4g}")
    for row in rows:
        print(f"{'loopscape, ' + str(row['jobs']) + ' job(s)':<28}{row['seconds']:>9.1f}"
              f"{row['energy_pj'] / 1e9:>11.2f}{row['cycles'] / 1e6:>10.2f}"
              f"{row['edp_j_cycles']:>12.4g}   x{TIMELOOP['seconds'] / row['seconds']:.1f} "
              f"faster, energy x{row['energy_pj'] / TIMELOOP['energy_pj']:.2f}, "
              f"cycles x{row['cycles'] / TIMELOOP['cycles']:.2f}")
    if len(rows) > 1:
        print(f"speed-up {rows[0]['jobs']} -> {rows[-1]['jobs']} jobs: "
              f"x{rows[0]['seconds'] / rows[-1]['seconds']:.2f}")
    if args.json_file:
        with open(args.json_file, "w") as f:
            json.dump({"timeloop": TIMELOOP, "runs": rows}, f, indent=2)


if __name__ == "__main__":
    main()
