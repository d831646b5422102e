"""The Pareto archive keeps exactly the non-dominated set; hypervolume is exact."""

import itertools
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopscape.mapper.pareto import ParetoArchive, ParetoPoint, hypervolume, nondominated_mask

DOCS = Path(__file__).resolve().parent.parent / "docs"
COORD = st.sampled_from([0.0, 1.0, 1.0, 2.0, 2.5, 3.0, 4.0, -0.0])  # small: many ties


def names(k):
    return tuple(f"o{j}" for j in range(k))


def reference_front(points, maximize=()):
    """O(n^2): value -> index of its first occurrence, for every non-dominated value."""
    sign = [-1 if j in maximize else 1 for j in range(len(points[0]))] if points else []
    inner = [tuple(s * v for s, v in zip(sign, p)) for p in points]
    out = {}
    for i, p in enumerate(inner):
        if any(all(a <= b for a, b in zip(q, p)) and q != p for q in inner):
            continue
        key = tuple(s * v for s, v in zip(sign, p))
        out.setdefault(key, i)
    return out


@st.composite
def point_sets(draw, min_k=1, max_k=4, max_n=40):
    k = draw(st.integers(min_k, max_k))
    pts = draw(st.lists(st.tuples(*[COORD] * k), max_size=max_n))
    return k, [tuple(float(v) for v in p) for p in pts]


@st.composite
def add_plans(draw, n):
    """Split range(n) into consecutive runs, each added one by one or as one batch."""
    plan, i = [], 0
    while i < n:
        j = draw(st.integers(i + 1, n))
        plan.append((draw(st.booleans()), i, j))
        i = j
    return plan


def fill(archive, pts, plan, items=None):
    items = list(range(len(pts))) if items is None else items
    for batch, i, j in plan:
        if batch:
            archive.add_batch(np.array(pts[i:j]).reshape(j - i, archive.k), items[i:j])
        else:
            for t in range(i, j):
                archive.add(pts[t], items[t])
    return archive


def as_dict(archive):
    return {p.values: p.item for p in archive.front}


@settings(max_examples=400)
@given(point_sets(), st.data())
def test_keeps_exactly_the_nondominated_set_first_duplicate_wins(ps, data):
    k, pts = ps
    maximize = data.draw(st.sets(st.integers(0, k - 1)))
    plan = data.draw(add_plans(len(pts)))
    a = fill(ParetoArchive(names(k), maximize=[f"o{j}" for j in maximize]), pts, plan)
    want = reference_front(pts, maximize)
    got = as_dict(a)
    assert got == want  # values in the user's orientation, items = first occurrence
    assert len(a) == len(want) == len(a.values_array())
    # Sorted best first: ascending in minimized objectives, descending in maximized ones.
    sign = np.array([-1.0 if j in maximize else 1.0 for j in range(k)])
    internal = [tuple(v) for v in a.values_array() * sign]
    assert internal == sorted(internal)
    assert a.seen == len(pts)


@settings(max_examples=200)
@given(point_sets(), st.data())
def test_return_values_and_version_count_front_changes(ps, data):
    k, pts = ps
    plan = data.draw(add_plans(len(pts)))
    a = ParetoArchive(names(k))
    for batch, i, j in plan:
        before, version, improved = as_dict(a), a.version, a.improved
        if batch:
            n = a.add_batch(np.array(pts[i:j]), list(range(i, j)))
            entered = {v for v, it in as_dict(a).items() if it in range(i, j)}
            assert n == len(entered)
        else:
            n = int(a.add(pts[i], i))
            for t in range(i + 1, j):
                n += a.add(pts[t], t)
        changed = as_dict(a) != before
        assert changed == (n > 0)
        assert a.improved == improved + n
        assert (a.version > version) == changed


@settings(max_examples=200)
@given(point_sets(), st.randoms(use_true_random=False))
def test_front_values_do_not_depend_on_order(ps, rnd):
    k, pts = ps
    shuffled = list(pts)
    rnd.shuffle(shuffled)
    a = ParetoArchive(names(k))
    b = ParetoArchive(names(k))
    a.add_batch(np.array(pts).reshape(-1, k))
    for p in shuffled:
        b.add(p)
    assert set(as_dict(a)) == set(as_dict(b))
    assert np.array_equal(a.values_array(), b.values_array())  # same sorted order


@settings(max_examples=200)
@given(point_sets(), st.data())
def test_merge_equals_adding_everything(ps, data):
    k, pts = ps
    cuts = sorted(data.draw(st.lists(st.integers(0, len(pts)), max_size=3)))
    parts = [pts[i:j] for i, j in zip([0] + cuts, cuts + [len(pts)])]
    maximize = data.draw(st.sampled_from([(), ("o0",)]))
    workers = []
    start = 0
    for part in parts:
        w = ParetoArchive(names(k), maximize)
        for t, p in enumerate(part):
            w.add(p, start + t)
        workers.append(w)
        start += len(part)
    merged = ParetoArchive(names(k), maximize)
    for w in workers:
        merged.merge(w)
    everything = ParetoArchive(names(k), maximize)
    for t, p in enumerate(pts):
        everything.add(p, t)
    assert merged.front == everything.front  # values, items and order


def test_duplicates_collapse_to_the_first_and_are_no_improvement():
    a = ParetoArchive(("energy_pj", "cycles"))
    assert a.add((10, 5), "first")
    v = a.version
    assert not a.add((10, 5), "second")
    assert a.add_batch(np.array([[10, 5], [10, 5]]), ["third", "fourth"]) == 0
    assert a.version == v and a.improved == 1
    assert a.front == [ParetoPoint((10.0, 5.0), "first")]
    b = ParetoArchive(("energy_pj", "cycles"))
    assert b.add_batch(np.array([[3, 3], [1, 4], [3, 3], [4, 1]]), list("abcd")) == 3
    assert [p.item for p in b.front] == ["b", "a", "d"]
    # -0.0 and 0.0 are one value; the first spelling stays.
    c = ParetoArchive(("x", "y"))
    c.add((-0.0, 1.0), "neg")
    assert not c.add((0.0, 1.0), "pos")
    assert c.front[0].item == "neg"


def test_dominance_and_orientation():
    a = ParetoArchive(("energy_pj", "utilization"))  # utilization is maximized by default
    assert a.maximize == ("utilization",)
    assert a.add((10, 0.5), "a")
    assert not a.add((11, 0.5), "worse energy")
    assert not a.add((10, 0.4), "worse utilization")
    assert a.add((10, 0.6), "better")  # dominates "a"
    assert [p.item for p in a.front] == ["better"]
    assert a.add((5, 0.1), "cheap")
    assert a.values_array().tolist() == [[5.0, 0.1], [10.0, 0.6]]
    assert a.ideal() == (5.0, 0.6) and a.nadir() == (10.0, 0.1)
    b = ParetoArchive(("energy_pj", "cycles"))  # "utilization" not an objective: ignored
    assert b.maximize == ()


def test_input_errors():
    a = ParetoArchive(("x", "y"))
    with pytest.raises(ValueError, match="NaN"):
        a.add((1.0, float("nan")))
    with pytest.raises(ValueError, match="shape"):
        a.add((1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="shape"):
        a.add_batch(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="items"):
        a.add_batch(np.zeros((4, 2)), [1, 2])
    with pytest.raises(ValueError, match="merge"):
        a.merge(ParetoArchive(("x", "z")))
    with pytest.raises(ValueError, match="empty"):
        a.nadir()
    with pytest.raises(ValueError):
        ParetoArchive(("x", "x"))
    assert a.add_batch(np.zeros((0, 2))) == 0 and len(a) == 0
    assert a.hypervolume((1, 1)) == 0.0
    # Infinite values are legal (e.g. an unbounded objective).
    assert a.add((np.inf, 0.0)) and a.add((0.0, np.inf)) and len(a) == 2


@settings(max_examples=300)
@given(point_sets(min_k=1, max_k=5, max_n=60))
def test_nondominated_mask_matches_brute_force(ps):
    k, pts = ps
    x = np.array(pts).reshape(-1, k)
    mask = nondominated_mask(x)
    want = reference_front(pts)
    assert sorted(np.nonzero(mask)[0].tolist()) == sorted(want.values())


@pytest.mark.parametrize("k,hi", [(2, 50), (3, 8), (3, 40), (4, 6), (5, 5)])
def test_large_inputs_against_numpy_brute_force(k, hi):
    # Several thousand rows: the chunked path, many duplicates and ties.
    rng = np.random.default_rng(k * 100 + hi)
    x = rng.integers(0, hi, size=(3000, k)).astype(float)
    le = (x[:, None, :] <= x[None, :, :]).all(axis=2)  # le[i, j]: row i weakly below j
    eq = (x[:, None, :] == x[None, :, :]).all(axis=2)
    dominated = (le & ~eq).any(axis=0)
    first = ~np.tril(eq, -1).any(axis=1)  # no equal row before it
    want = ~dominated & first
    assert np.array_equal(nondominated_mask(x), want)
    a = ParetoArchive(names(k))
    a.add_batch(x[:1500], list(range(1500)))
    a.add_batch(x[1500:], list(range(1500, 3000)))
    assert sorted(a.items()) == np.nonzero(want)[0].tolist()


# -- hypervolume ------------------------------------------------------------------------

def grid_volume(points, ref):
    """Unit cells [c, c+1) below ``ref`` that some point weakly dominates (integer grid)."""
    lo = [min([0] + [int(p[j]) for p in points]) for j in range(len(ref))]
    count = 0
    for c in itertools.product(*[range(lo[j], int(ref[j])) for j in range(len(ref))]):
        if any(all(p[j] <= c[j] for j in range(len(ref))) for p in points):
            count += 1
    return count


@st.composite
def grid_problems(draw, k):
    hi = 6 if k <= 3 else 4  # keep the brute-force grid small
    ref = draw(st.tuples(*[st.integers(0, hi)] * k))
    pts = draw(st.lists(st.tuples(*[st.integers(-1, hi)] * k), max_size=25))
    return ref, pts


@settings(max_examples=200)
@given(grid_problems(2))
def test_hypervolume_2d_counts_grid_cells(prob):
    ref, pts = prob
    a = ParetoArchive(names(2))
    for p in pts:
        a.add(p)
    assert a.hypervolume(ref) == grid_volume(pts, ref)
    assert hypervolume(np.array(pts).reshape(-1, 2), ref) == grid_volume(pts, ref)


@settings(max_examples=150)
@given(st.integers(3, 4).flatmap(grid_problems))
def test_hypervolume_3d_4d_counts_grid_cells(prob):
    ref, pts = prob
    k = len(ref)
    a = ParetoArchive(names(k))
    a.add_batch(np.array(pts).reshape(-1, k))
    assert a.hypervolume(ref) == grid_volume(pts, ref)


@settings(max_examples=100)
@given(grid_problems(3), st.sets(st.integers(0, 2)))
def test_hypervolume_with_maximized_objectives(prob, maximize):
    ref, pts = prob
    flip = [-1 if j in maximize else 1 for j in range(3)]
    a = ParetoArchive(names(3), maximize=[f"o{j}" for j in maximize])
    for p in pts:
        a.add(tuple(f * v for f, v in zip(flip, p)))
    assert a.hypervolume(tuple(f * v for f, v in zip(flip, ref))) == grid_volume(pts, ref)


def test_hypervolume_known_values():
    assert hypervolume(np.array([[1, 3], [2, 2], [3, 1]]), (4, 4)) == 6
    assert hypervolume(np.array([[0, 0, 0]]), (1, 2, 3)) == 6
    assert hypervolume(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), (2, 2, 2)) == 7
    assert hypervolume(np.array([[0.5, 0.5, 0.5, 0.5]]), (1, 1, 1, 1)) == 0.0625
    # A point equal to the reference in one objective adds nothing.
    assert hypervolume(np.array([[4, 0], [1, 3]]), (4, 4)) == 3
    assert hypervolume(np.array([[1, 3], [1, 3], [2, 3.5]]), (4, 4)) == 3  # dupes, dominated
    a = ParetoArchive(("energy_pj", "utilization"))
    a.add((2.0, 0.5))
    assert a.hypervolume((4.0, 0.0)) == 1.0  # (4 - 2) x (0.5 - 0)
    with pytest.raises(ValueError, match="reference"):
        a.hypervolume((1.0, 2.0, 3.0))


@settings(max_examples=100)
@given(st.integers(2, 4).flatmap(grid_problems))
def test_adding_a_point_never_decreases_hypervolume(prob):
    ref, pts = prob
    k = len(ref)
    a = ParetoArchive(names(k))
    last = 0.0
    for p in pts:
        a.add(p)
        hv = a.hypervolume(ref)
        assert hv >= last
        last = hv


# -- scale ------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [2, 3, 4])
def test_batches_of_64k_rows_are_fast(k):
    rng = np.random.default_rng(k)
    a = ParetoArchive(names(k))
    z = rng.random((300, k))
    a.add_batch(z / np.linalg.norm(z, axis=1)[:, None])  # a front of a few hundred
    x = rng.random((65536, k)) * 1.2
    start = time.perf_counter()
    a.add_batch(x, list(range(len(x))))
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, elapsed
    sub = rng.choice(len(x), 2000, replace=False)  # spot-check against the mask
    union = np.concatenate([z / np.linalg.norm(z, axis=1)[:, None], x])
    assert len(a) == int(nondominated_mask(union).sum())
    front = a.values_array()
    kept = set(a.items())
    for i in sub:
        dominated = ((front <= x[i]).all(axis=1) & (front < x[i]).any(axis=1)).any()
        assert dominated == (int(i) not in kept)


def test_docs_example_runs():
    page = DOCS / "pareto.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
