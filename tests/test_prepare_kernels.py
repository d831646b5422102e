"""The strategy's one-time preparation before a search's clock starts (docs/search.md,
"The time limit and the first run"): optimal's kernels are compiled or loaded by
``prepare_kernels`` on a tiny layer, with the argument kinds every search uses."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from loopscape.cli.main import cli
from loopscape.mapper import search
from loopscape.mapper.strategies.auto import AutoSearch
from loopscape.mapper.strategies.base import Proposal, SearchContext, Strategy
from loopscape.mapper.strategies.optimal import OptimalSearch
from loopscape.mapper.strategies.optimal.prepare import prepare_kernels
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.kernel_tables import kernel_array
from loopscape.mapper.strategies.optimal.structure import structure
from loopscape.mapper.strategy import register_strategy
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import resolve_arch
from loopscape.spaces.sparsity import Density, SparsitySpec
from loopscape.spaces.workload import conv2d

# Run in a fresh process: prepare, then searches of other kinds (another design, the other
# semantics, links off, constraints, another layer kind, a maximized objective); print how
# many signatures the searches added to the kernels (loaded from disk or compiled).
COVERAGE = r"""
import json
from numba.core.registry import CPUDispatcher
import loopscape.mapper.strategies.optimal.kernels as K
import loopscape.mapper.strategies.optimal.block_kernels as B
from loopscape.costmodels.options import ModelOptions
from loopscape.mapper import search
from loopscape.mapper.strategies.optimal import OptimalSearch
from loopscape.mapper.strategies.optimal.prepare import prepare_kernels
from loopscape.spaces.presets import resolve_arch, resolve_constraints, resolve_workload
from loopscape.spaces.workload import gemm

def signatures():
    return {f"{m.__name__}.{n}": len(d.signatures) for m in (K, B)
            for n, d in vars(m).items() if isinstance(d, CPUDispatcher)}

prepare_kernels(OptimalSearch)
before = signatures()
layer = resolve_workload("resnet50_conv2_x_3x3")
eyeriss, simba = resolve_arch("eyeriss_like"), resolve_arch("simba_like")
constraints = resolve_constraints("eyeriss_like_constraints", layer, eyeriss)
# budgets that reach the walk's blocks of tilings (all kernels) on these spaces
for options in (None, ModelOptions(semantics="timeloop-pre297", link_transfers=False)):
    search(layer, eyeriss, constraints, strategy="optimal", evaluations=100_000,
           options=options)
search(gemm(M=32, N=16, K=16), simba, None, strategy="optimal",
       objectives=("energy_pj", "utilization"), evaluations=100_000)
search(layer, simba, None, strategy="auto", evaluations=3000)
after = signatures()
print(json.dumps({"kernels": len(before),
                  "added": {k: after[k] - before[k] for k in after if after[k] != before[k]}}))
"""


def test_prepared_kernels_cover_other_searches():
    """After ``prepare_kernels`` no search of another kind needs a kernel version it did
    not load: each kernel is called with one kind of arguments (the searches would add a
    signature otherwise, compiled inside their clock on the first run)."""
    out = subprocess.run([sys.executable, "-c", COVERAGE], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["kernels"] >= 9  # the walk's kernels were found
    assert got["added"] == {}


def test_read_only_arrays_reuse_the_kernel():
    """A read-only ``ce`` (a broadcast of one row, as rule P passes it) gives the same bound
    as a writable copy without adding a second version of the kernel."""
    from numba.core.registry import CPUDispatcher
    import loopscape.mapper.strategies.optimal.kernels as kernels
    ms = Mapspace(conv2d(C=4, M=4, P=4, Q=4, R=3, S=3), resolve_arch("eyeriss_like"))
    bd = Bounder(ms.workload, ms.arch, structure(ms), links=True)
    pos, neg = (x[None] for x in bd.relaxed(0))
    ce = np.full((1, 2 * bd.n_ce), 1.5)

    def count() -> int:
        return sum(len(d.signatures) for d in vars(kernels).values()
                   if isinstance(d, CPUDispatcher))

    ti = 0
    ch = bd.chains[ti][0]
    writable = bd.chain_energy(ti, ch, pos, neg, ce=ce)
    n = count()
    read_only = np.broadcast_to(ce, ce.shape)
    assert not read_only.flags.writeable
    assert bd.chain_energy(ti, ch, pos, neg, ce=read_only) == pytest.approx(writable)
    assert count() == n


def test_kernel_array():
    a = np.broadcast_to(np.arange(3.0), (1, 3))
    b = kernel_array(a, np.float64)
    assert b.flags.writeable and b.flags.c_contiguous and b.dtype == np.float64
    assert b.tolist() == [[0.0, 1.0, 2.0]]
    c = kernel_array(np.arange(6).reshape(2, 3).T, np.int64)  # a transposed view
    assert c.flags.c_contiguous and c.tolist() == [[0, 3], [1, 4], [2, 5]]
    d = np.zeros(4)
    assert kernel_array(d, np.float64) is d  # nothing copied when nothing is needed


def test_prepare_kernels_once_per_process():
    prepare_kernels(OptimalSearch)
    assert prepare_kernels(OptimalSearch) == 0.0


class _Timed(Strategy):
    """Records when its preparation ended and the deadline its streams were given."""

    name = "_test_prepare_timed"
    prepared_at: list = []
    deadlines: list = []

    @classmethod
    def prepare(cls, ctx: SearchContext) -> None:
        time.sleep(0.05)
        cls.prepared_at.append((time.perf_counter(), ctx.space.workload.name,
                                ctx.extra.get("deadline")))

    def setup(self, ctx: SearchContext) -> None:
        super().setup(ctx)
        type(self).deadlines.append(ctx.extra["deadline"])
        self.done = False

    def ask(self, n: int) -> Proposal | None:
        if self.done:
            return None
        self.done = True
        ids, batch = self.ctx.space.sample_batch(1, seed=self.ctx.seed)
        return Proposal(batch, [int(i) for i in ids])


def test_the_clock_starts_after_preparation():
    """``prepare`` runs once per search, before the time limit's clock: every stream's
    deadline is at least ``seconds`` after the preparation ended; ``prepare_seconds``
    reports it and ``seconds`` leaves it out."""
    register_strategy(_Timed)
    w, a = conv2d(C=2, M=2, P=2, Q=2, R=1, S=1, name="tiny"), resolve_arch("eyeriss_like")
    r = search(w, a, strategy=_Timed.name, seconds=30, streams=2)
    assert len(_Timed.prepared_at) == 1
    ended, name, deadline = _Timed.prepared_at[0]
    assert name == "tiny" and deadline is None  # no clock yet
    assert len(_Timed.deadlines) == 2
    assert all(d - 30 >= ended for d in _Timed.deadlines)
    assert r.stats.prepare_seconds >= 0.05
    assert r.stats.to_dict()["prepare_seconds"] == r.stats.prepare_seconds


def test_auto_prepares_only_what_optimal_searches(monkeypatch):
    """``auto`` compiles optimal's kernels only for a space optimal searches (not a sparse
    one, which ``local`` searches alone)."""
    import loopscape.mapper.strategies.optimal.search as optimal_search
    calls = []
    monkeypatch.setattr(optimal_search, "prepare_kernels", lambda walk: calls.append(walk))
    ms = Mapspace(conv2d(C=2, M=2, P=2, Q=2, R=1, S=1), resolve_arch("eyeriss_like"))
    objectives = ("energy_pj", "cycles")
    AutoSearch.prepare(SearchContext(ms, objectives, (), 0,
                                     extra={"sparsity": SparsitySpec(
                                         (("Weights", Density(density=0.5)),))}))
    assert calls == []
    AutoSearch.prepare(SearchContext(ms, objectives, (), 0, extra={}))
    assert calls == [OptimalSearch]


@pytest.mark.parametrize("seconds, shown", [(12.5, True), (0.4, False)])
def test_cli_names_a_long_preparation(monkeypatch, seconds, shown):
    search_module = importlib.import_module("loopscape.mapper.search")  # the package
    # re-exports the function under the module's name
    monkeypatch.setattr(search_module, "prepare_strategy", lambda spec, ctx: seconds)
    out = CliRunner().invoke(cli, ["search", "eyeriss_like", "conv1d_ex04", "--budget",
                                    "200", "--strategy", "random", "--quiet"])
    assert out.exit_code == 0, out.output
    line = f"prepared in {seconds:.1f} s before the clock started"
    assert (line in out.output) is shown
