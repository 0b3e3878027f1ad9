"""Real SMACv2 (StarCraft II, `StarCraftCapabilityEnvWrapper`) scenarios.

Registered so specs and `leed-bench envs` know it; the adapter itself is still to be written.
Needs the `smacv2` package and `SC2PATH` pointing at a StarCraft II install.
"""
from __future__ import annotations

import os
from importlib.util import find_spec
from typing import NoReturn

from baselines.core.env_api import EnvError

INSTALL_HINT = "pip install git+https://github.com/oxwhirl/smacv2 and set SC2PATH to a StarCraft II install"
UNITS = {f"{race}_{n}_vs_{n}": n for race in ("protoss", "terran", "zerg") for n in (5, 10, 20)}


class SMACv2Family:
    """Registry entry for `smacv2:<scenario>`; agents = allied units, fixed by the scenario."""

    name = "smacv2"
    pattern = None

    def scenarios(self) -> list[str]:
        return list(UNITS)

    def agent_range(self, scenario: str) -> tuple[int, int]:
        if scenario not in UNITS:
            raise EnvError(f"unknown smacv2 scenario {scenario!r} (known: {', '.join(UNITS)})")
        return UNITS[scenario], UNITS[scenario]

    def available(self) -> tuple[bool, str]:
        sc2 = os.environ.get("SC2PATH", "")
        ok = find_spec("smacv2") is not None and bool(sc2) and os.path.isdir(sc2)
        return (True, "") if ok else (False, INSTALL_HINT)

    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options) -> NoReturn:
        self.agent_range(scenario)
        ok, hint = self.available()
        if not ok:
            raise EnvError(f"smacv2 needs the smacv2 package and StarCraft II: {hint}")
        raise EnvError("the smacv2 adapter is not implemented yet (use lbf or vmas)")


FAMILY = SMACv2Family()
