"""The scenarios `bench.run` times, in the order it times them: one function a scenario.

Each family has a module (startup, secret_service, ecr, installed, forms) of functions taking
the run's `Bench`; adding a scenario is a function there and a line here. Order matters where
a later scenario reads what an earlier one measured (the keyring floor, the cached Go `get`,
the installed layout), and it is the order of the report's rows.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import ecr, forms, installed, secret_service, startup
from bench.base import Bench

SCENARIOS: tuple[Callable[[Bench], None], ...] = (
    startup.startup,
    secret_service.keyring_get,
    ecr.ecr_cold,
    ecr.ecr_cached,
    ecr.ecr_proxied,
    ecr.ecr_concurrent,
    secret_service.lists,
    installed.installed_layout,
    forms.install_forms,
    startup.profile,
)
