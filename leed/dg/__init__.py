"""LEED's demonstration generation (DG): instruction language, prompts, LLM clients, executors,
the scripted planner, refinement and the generator that writes demonstration sets."""

from leed.dg import smac as _smac  # noqa: E402,F401  (registers the SMAC family's executor and planner)
