"""Streams sharing a time limit: ``optimal`` on the ResNet-50 layers whose streams are
unequal (a hard quarter of the tree next to easy ones), one job per layer as in a sweep.

    python benchmarks/streams.py [--seconds 30] [--layers layer3.1.conv2,...]

Prints per layer whether the front is certified, the proven gap, and CPU and wall
seconds, then the totals. Run it with two versions of the code side by side (same
machine, same load) to compare stream schedules: CPU seconds matter on a shared machine,
since a time limit counts wall time.
"""

from __future__ import annotations

import argparse
import time

from loopscape.mapper import search
from loopscape.spaces.presets import resolve_arch, resolve_constraints
from loopscape.spaces.workloads.zoo import network

HARD = ("layer1.0.conv2,layer2.0.conv2,layer2.1.conv2,layer3.0.conv2,layer3.1.conv2,"
        "layer4.0.conv2,layer4.1.conv2,layer2.0.downsample.0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--layers", default=HARD)
    args = ap.parse_args()
    arch = resolve_arch("eyeriss_like")
    layers = {lay.name: lay for lay in network("resnet50")}
    certified, cpu_total, wall_total = 0, 0.0, 0.0
    for name in args.layers.split(","):
        w = layers[name].workload
        c = resolve_constraints("eyeriss_like_constraints", w, arch)
        t, wall = time.process_time(), time.perf_counter()
        r = search(w, arch, c, strategy="optimal", seconds=args.seconds, jobs=1, seed=0)
        cpu, wall = time.process_time() - t, time.perf_counter() - wall
        certified += bool(r.stats.optimal)
        cpu_total += cpu
        wall_total += wall
        print(f"{name:24s} {'certified' if r.stats.optimal else 'gap %.2f %%' % (100 * r.stats.gap)}"
              f"  {cpu:6.1f} s CPU {wall:6.1f} s wall  {r.stats.evaluated:,} evaluated",
              flush=True)
    print(f"certified {certified} of {len(args.layers.split(','))}; {cpu_total:.1f} s CPU, "
          f"{wall_total:.1f} s wall")


if __name__ == "__main__":
    main()
