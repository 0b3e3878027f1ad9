"""JaxMARL's SMAX (`smacv2_{5,10,20}_units`): the StarCraft-free SMACv2 stand-in (optional extra).

Registered so specs and `leed-bench envs` know it; the adapter itself is still to be written.
Availability is checked with `find_spec`, so jax is never imported just to list families.
"""
from __future__ import annotations

from importlib.util import find_spec
from typing import NoReturn

from baselines.core.env_api import EnvError

INSTALL_HINT = "pip install 'leed-bench[smax]'"
UNITS = {"smacv2_5_units": 5, "smacv2_10_units": 10, "smacv2_20_units": 20}


class SMAXFamily:
    """Registry entry for `smax:<scenario>`; agents = allied units, fixed by the scenario."""

    name = "smax"
    pattern = None

    def scenarios(self) -> list[str]:
        return list(UNITS)

    def agent_range(self, scenario: str) -> tuple[int, int]:
        if scenario not in UNITS:
            raise EnvError(f"unknown smax scenario {scenario!r} (known: {', '.join(UNITS)})")
        return UNITS[scenario], UNITS[scenario]

    def available(self) -> tuple[bool, str]:
        return (True, "") if find_spec("jaxmarl") and find_spec("jax") else (False, INSTALL_HINT)

    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options) -> NoReturn:
        self.agent_range(scenario)
        ok, hint = self.available()
        if not ok:
            raise EnvError(f"smax needs jaxmarl and jax: {hint}")
        raise EnvError("the smax adapter is not implemented yet (use lbf or vmas)")


FAMILY = SMAXFamily()
