"""`leed-bench`: one entry point; each subcommand lives in `benchmark/commands/<name>.py`.

A command module exposes `register(subparsers)`, which adds its parser and sets `func`.
Every `UserError` (bad name, file or value) becomes one line on stderr and its exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from baselines.core.errors import UserError

# Order is the order shown by `leed-bench --help`.
COMMANDS = [
    "envs", "train", "run", "demos", "report", "compare",
    "export", "import_", "import_epymarl", "crosscheck",
]


def module_for(command: str) -> str | None:
    """`import-epymarl` -> `import_epymarl`, `import` -> `import_`; None if not a command."""
    for name in COMMANDS:
        if command in (name, name.rstrip("_").replace("_", "-")):
            return name
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """All commands for --help; just `only` when the command is known, so `leed-bench envs`
    does not pay for importing torch, scipy and pandas through every other command."""
    parser = argparse.ArgumentParser(
        prog="leed-bench",
        description="Benchmark LEED against MAPPO, QMIX and other MARL baselines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only else COMMANDS:
        try:
            module = importlib.import_module(f"benchmark.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"benchmark.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    only = module_for(argv[0]) if argv and not argv[0].startswith("-") else None
    parser = build_parser(only)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"leed-bench: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("leed-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
