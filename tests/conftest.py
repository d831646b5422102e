"""Test configuration: hypothesis profiles.

CI runs derandomized (``CI=true`` selects the ``ci`` profile) so a red run can be
reproduced exactly; locally the ``dev`` profile explores new examples each run.
Choose explicitly with ``HYPOTHESIS_PROFILE=ci|dev``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
_default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
