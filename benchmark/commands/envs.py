"""`leed-bench envs`: every environment family, its scenarios, agent counts and install state."""
from __future__ import annotations

import argparse

from benchmark.envs import FAMILIES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "envs", help="list environment families, scenarios and agent counts",
        description="List every environment family with its scenarios, supported agent counts "
                    "and whether it is installed (with the install command when it is not).",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for line in describe_families():
        print(line)
    return 0


def describe_families() -> list[str]:
    """Human-readable lines; an env key is `family:scenario`."""
    lines = []
    for name, family in FAMILIES.items():
        ok, hint = family.available()
        lines.append(f"{name}: {'available' if ok else 'not available (' + hint + ')'}")
        if family.pattern:
            lines.append(f"  scenarios follow {family.pattern}; examples:")
        scenarios = family.scenarios()
        width = max(len(s) for s in scenarios)
        for scenario in scenarios:
            low, high = family.agent_range(scenario)
            agents = f"{low}" if low == high else f"{low}-{high}"
            lines.append(f"  {name}:{scenario:<{width}}  agents {agents}")
    return lines
