"""LEED: LLM-empowered expert demonstrations (DG: `leed.dg`, demonstration sets: `leed.demos`,
Hub cache: `leed.hub`, PO learner: `leed.po`). Importing the package registers the `leed` algorithm."""
from leed import po  # noqa: F401  (registers "leed" in baselines.registry.ALGOS)
