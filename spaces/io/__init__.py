# loopscape's own YAML format (docs/formats.md): the one loader and saver.
from .yamlio import (dump_arch, dump_mapping, dump_workload, load_arch, load_mapping,
                     load_workload, load_yaml, save_arch, save_mapping, save_workload, to_yaml)
from .yamlio import dump_constraints, load_constraints, save_constraints
from .yamlio import write_atomic
# Timeloop interop, read side (docs/timeloop.md).
from .timeloop import TimeloopSpec, load_timeloop
from .timeloop import timeloop_constraints
# Sparsity (docs/sparsity.md).
from .yaml_sparsity import load_sparsity, sparsity_from_data
# Timeloop interop, write side (docs/timeloop.md#exporting-to-timeloop).
from .timeloop import (dump_timeloop_arch, dump_timeloop_ert, dump_timeloop_mapping,
                       dump_timeloop_problem, dump_timeloop_spec)
