"""Root conftest: the shared service fixtures and the Hypothesis profiles for every package.

``ci`` (the default, so ``make test`` gives the same answer twice anywhere): derandomised,
no example database. ``fuzz`` (``make fuzz``): random seeds, the local example database, and
more examples; a failure it finds is pinned in its test with ``@example`` so CI keeps it.
"""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["testsupport.services"]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    deadline=None,
    print_blob=True,
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
