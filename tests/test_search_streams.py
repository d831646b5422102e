"""The search driver's streams: one worker process runs its group of streams interleaved
(round-robin, in a fixed order, sharing one time limit), so a stream that finishes early
leaves its time to the streams still running; with an evaluation budget each stream keeps
its own share and the result does not depend on the job count."""

import time
from pathlib import Path

import numpy as np
import pytest

from loopscape.mapper import search
from loopscape.mapper.strategy import Proposal, Strategy, register_strategy
from loopscape.spaces import einsum
from loopscape.spaces.encoding import encode
from loopscape.spaces.io import load_timeloop

FIX = Path(__file__).resolve().parent / "fixtures" / "timeloop"
SMALL = einsum("Outputs[k,p] += Weights[k,r] * Inputs[r+p]", {"k": 2, "r": 3, "p": 2},
               name="small_conv1d")


def _arch():
    d = FIX / "ex05_mapper_conv1d_oc_3level_null"
    return load_timeloop([d / "parsed-processed-input.yaml",
                          d / "timeloop-mapper.ERT.yaml"]).arch


def _legal(space, k):
    """``k`` legal mappings of the space (seeded draw), as a batch with their ids."""
    drawn = space.sample(k, seed=0)
    return encode(space.workload, space.arch, [m for _, m in drawn]), [i for i, _ in drawn]


class _Steps(Strategy):
    """Stream w proposes one mapping per ask for w + 1 asks, then has nothing left; every
    ask is logged (stream index), and so is the group's time limit it was given."""

    name = "test_stream_steps"
    log: list = []
    seconds: list = []

    def setup(self, ctx):
        super().setup(ctx)
        self.left = ctx.worker + 1
        self.batch, self.ids = _legal(ctx.space, 1)
        _Steps.seconds.append(ctx.extra["seconds"])

    def ask(self, n):
        _Steps.log.append(self.ctx.worker)
        if self.left == 0:
            return None
        self.left -= 1
        return Proposal(self.batch, list(self.ids))


def test_streams_of_one_process_take_turns_in_a_fixed_order():
    register_strategy(_Steps)
    _Steps.log.clear()
    r = search(SMALL, _arch(), strategy="test_stream_steps", evaluations=1000, batch_size=1)
    # turn 1: all four; turn 2: stream 0 learns it is done; then 1, 2 and 3 in turn
    assert _Steps.log == [0, 1, 2, 3, 0, 1, 2, 3, 1, 2, 3, 2, 3, 3]
    assert r.stats.evaluated == 1 + 2 + 3 + 4 and r.stats.stopped_by == "exhausted"


def test_every_stream_of_a_group_is_given_the_whole_time_limit():
    register_strategy(_Steps)
    _Steps.seconds.clear()
    search(SMALL, _arch(), strategy="test_stream_steps", seconds=8.0, batch_size=1)
    assert _Steps.seconds == [8.0] * 4


class _Heavy(Strategy):
    """Stream 0 works 20 ms for each mapping it proposes, forever; the other streams have
    nothing to offer. Records when stream 0's last ask ended."""

    name = "test_stream_heavy"
    last: list = []

    def setup(self, ctx):
        super().setup(ctx)
        self.batch, self.ids = _legal(ctx.space, 1)
        self.start = time.perf_counter()

    def ask(self, n):
        if self.ctx.worker != 0:
            return None
        time.sleep(0.02)
        _Heavy.last.append(time.perf_counter() - self.start)
        return Proposal(self.batch, list(self.ids))


def test_a_hard_stream_gets_the_time_the_easy_ones_leave():
    """One job, 1 s: the three easy streams end at their first turn, so stream 0 (the
    first, which before got a quarter of the time) runs until the limit."""
    register_strategy(_Heavy)
    _Heavy.last.clear()
    r = search(SMALL, _arch(), strategy="test_stream_heavy", seconds=1.0)
    assert r.stats.stopped_by == "exhausted,time"
    assert _Heavy.last[-1] > 0.6  # a quarter of the time would end it at 0.25 s
    assert r.stats.evaluated == len(_Heavy.last)


@pytest.mark.parametrize("strategy", ["random", "local"])
def test_groups_give_the_same_front_for_any_job_count(strategy):
    """jobs=k runs k groups (stream w in group w mod k): the same streams, seeds and
    shares, so the same front and counts as one interleaved group."""
    runs = [search(SMALL, _arch(), strategy=strategy, evaluations=300, batch_size=16,
                   seed=3, jobs=j) for j in (1, 3)]
    fronts = [[(p.mapspace_id, p.objectives["energy_pj"]) for p in r.front] for r in runs]
    assert fronts[0] == fronts[1]
    assert runs[0].stats.evaluated == runs[1].stats.evaluated == 300
    assert np.isfinite([p.objectives["cycles"] for p in runs[1].front]).all()
