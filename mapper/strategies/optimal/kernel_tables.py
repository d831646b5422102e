"""The plain-Python side of ``optimal``'s compiled kernels (kernels.py,
block_kernels.py): numba's ``njit`` with the on-disk cache when it can be written, and
the flat tables that ``RunBound`` (rule B7) and ``Bounder`` (keep chains) build once
at setup.

Run tables (tuples of arrays): per column (tensor, keeper level) its tensor and level;
per tensor which dimensions are solo, whether its compound axes grow by sums (``grow``),
and its compound axes as offsets into axis terms (coefficient, dimension); per level the
dimensions of its fixed outer sequence A, free set F and pinned inner sequence Z
(offsets). Chain tables: per (tensor, level) the bounder's columns (A, R, Q, extents)
and the energy per word of reads, updates and fills, whether links can lower its fills,
and per tensor its words, solo words and whether it is read-write. Compilation is
cached on disk (``cache=True``); when the cache directory cannot be written numba
compiles in memory instead, and no warning reaches the user.
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from numba import njit as _njit


def njit(*args, **kwargs):
    """numba's ``njit`` with the on-disk cache when some cache directory is writable (its
    own directory, ``NUMBA_CACHE_DIR`` or the user's cache), else compiled per process:
    numba refuses ``cache=True`` when no directory can be written."""
    def wrap(f):
        try:
            return _njit(*args, **kwargs)(f)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return _njit(*args, **{**kwargs, "cache": False})(f)
    return wrap


def kernel_array(x, dtype) -> np.ndarray:
    """``x`` as a C-contiguous, writable array of ``dtype``: numba compiles one version
    of a kernel per layout and per read-only flag of its arguments, so the wrappers pass
    every array this way (one signature per kernel, compiled by prepare.py before a
    search's clock starts)."""
    a = np.ascontiguousarray(x, dtype=dtype)
    return a if a.flags.writeable else a.copy()


def csr_offsets(groups) -> tuple[np.ndarray, np.ndarray]:
    """CSR form of a list of int lists: (offsets [n + 1], values)."""
    off = np.zeros(len(groups) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(g) for g in groups])
    vals = np.array([v for g in groups for v in g], dtype=np.int64)
    return off, vals


def run_tables(columns: dict, D: int, solo: list, axes: list, grow: list,
               A: list, F: list, Z: list) -> tuple:
    """The flat tables of rule B7 (runs.py) and the compound extents (bounds.py)."""
    n = len(columns)
    col_ti = np.zeros(n, dtype=np.int64)
    col_c = np.zeros(n, dtype=np.int64)
    for (ti, c), col in columns.items():
        col_ti[col], col_c[col] = ti, c
    nt = len(solo)
    is_solo = np.zeros((nt, D), dtype=np.bool_)
    for ti, s in enumerate(solo):
        is_solo[ti, s] = True
    ax_off = np.zeros(nt + 1, dtype=np.int64)
    ax_off[1:] = np.cumsum([len(a) for a in axes])
    flat_axes = [ax for a in axes for ax in a]
    term_off, term_k = csr_offsets([[k for k, _ in ax] for ax in flat_axes])
    _, term_d = csr_offsets([[d for _, d in ax] for ax in flat_axes])
    a_off, a_d = csr_offsets(A)
    f_off, f_d = csr_offsets(F)
    z_off, z_d = csr_offsets(Z)
    return (col_ti, col_c, is_solo, np.array(grow, dtype=np.bool_), ax_off, term_off,
            term_k, term_d, a_off, a_d, f_off, f_d, z_off, z_d)


def chain_tables(col_a: dict, col_r: dict, col_q: dict, col_ce: dict, n_tensors: int,
                 L: int, read_pj, update_pj, fill_pj, linked, read_write, words,
                 solo_words, n_ce: int, compulsory) -> tuple:
    """The flat tables of ``Bounder.chain_energy``: per (tensor, level) its columns (-1:
    none) and whether links lower its fills; per (level, tensor) the energy per word of
    reads, updates and fills; per tensor read-write, words, solo words and the words the
    outermost level serves at least (rule C; 0: none)."""
    cols = []
    for d in (col_a, col_r, col_q, col_ce):
        a = np.full((n_tensors, L), -1, dtype=np.int64)
        for (ti, k), col in d.items():
            a[ti, k] = col
        cols.append(a)
    f = lambda x: np.array(x, dtype=np.float64)  # noqa: E731
    return (*cols, f(read_pj), f(update_pj), f(fill_pj), np.array(linked, dtype=np.bool_),
            np.array(read_write, dtype=np.bool_), f(words), f(solo_words), n_ce,
            f(compulsory))
