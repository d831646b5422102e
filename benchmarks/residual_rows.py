"""Cost of scoring rows with residual loops (imperfect factors) in the batched evaluator,
against rows with perfect factors of the same layer in the same run (the baseline).

Residual rows are scored by the scalar model (``costmodels/batched_fallback.py``);
its refetch walk is memoised (``costmodels/residual_walk.py``). Rows are uniform legal
samples of each layer's imperfect and perfect mapspaces (seeded).

    python benchmarks/residual_rows.py [ROWS] [SEED]
"""

from __future__ import annotations

import sys
import time

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.spaces.constraints import Constraints
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from imperfect import CASES  # noqa: E402  (the layers of benchmarks/imperfect.py)


def per_row_s(w, a, imperfect: bool, rows: int, seed: int) -> tuple[float, int]:
    """(seconds per row, rows with a residual loop) over ``rows`` sampled rows."""
    ms = Mapspace(w, a, Constraints(imperfect=imperfect))
    _, batch = ms.sample_batch(rows, seed=seed, with_ids=False)
    ev = BatchEvaluator(w, a)
    t = time.perf_counter()
    ev(batch)
    return (time.perf_counter() - t) / rows, len(batch.imperfect_rows)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(f"{rows} uniform legal rows per space, seed {seed}")
    print(f"{'layer':22} {'arch':13} {'perfect us/row':>15} {'imperfect ms/row':>17} "
          f"{'rows with residuals':>20}")
    for label, w, arch_name in CASES:
        a = load_arch_preset(arch_name)
        p, _ = per_row_s(w, a, False, rows, seed)
        i, n = per_row_s(w, a, True, rows, seed)
        print(f"{label:22} {arch_name:13} {p * 1e6:15.1f} {i * 1e3:17.2f} {n:>20}", flush=True)


if __name__ == "__main__":
    main()
