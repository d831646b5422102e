"""Timeloop interop (docs/timeloop.md): one module per part of Timeloop's input.

Read side: :mod:`.reader` merges the files and hands each top-level key to its module,
:mod:`.problem`, :mod:`.arch` (with :mod:`.attributes`), :mod:`.ert`, :mod:`.mapping`;
:mod:`.constraints` (with :mod:`.constraint_entries`) converts Timeloop constraints.
Write side: :mod:`.export`. Values are read with :mod:`loopscape.spaces.io.strict`'s
readers in their lenient (Timeloop) mode.
"""

from .common import TimeloopSpec
from .constraints import timeloop_constraints
from .export import (dump_timeloop_arch, dump_timeloop_ert, dump_timeloop_mapping,
                     dump_timeloop_problem, dump_timeloop_spec)
from .reader import load_timeloop, timeloop_from_data

__all__ = ["TimeloopSpec", "dump_timeloop_arch", "dump_timeloop_ert", "dump_timeloop_mapping",
           "dump_timeloop_problem", "dump_timeloop_spec", "load_timeloop",
           "timeloop_constraints", "timeloop_from_data"]
