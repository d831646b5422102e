"""The compiled kernels of ``optimal`` (mapper/strategies/optimal/kernels.py) work,
silently, when no cache directory can be written. Their values are checked where they
are used: the bounds' admissibility and brute-force fronts (test_optimal*.py)."""

from __future__ import annotations

import tempfile
import warnings

from loopscape.mapper.strategies.optimal import kernels


def test_compiles_in_memory_without_a_writable_cache(monkeypatch):
    """numba refuses ``cache=True`` when no cache directory is writable; the kernels then
    compile per process, with no warning (a read-only install, an unwritable HOME)."""
    def unwritable(*args, **kwargs):
        raise PermissionError("read-only file system")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(tempfile, "TemporaryFile", unwritable)  # numba's writability probe

    def triangle(n):
        s = 0
        for i in range(n + 1):
            s += i
        return s
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = kernels.njit(cache=True)(triangle)
        assert f(10) == 55  # 0 + 1 + ... + 10
    assert not caught

