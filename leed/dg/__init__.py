"""LEED's demonstration generation (DG): instruction language, prompts, LLM clients, executors,
the scripted planner, refinement and the generator that writes demonstration sets."""
