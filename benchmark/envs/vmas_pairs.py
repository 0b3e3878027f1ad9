"""Which entity pairs may touch, for all pairs in one call, in VMAS navigation.

Why: VMAS asks `World.collides(a, b)` pair by pair, in Python, twice per step: in the world
step (to pick the pairs that get collision forces) and in navigation's reward (to pick the
pairs that pay the collision penalty). Each call does a norm, a comparison and an `.any()` on
small tensors; at 64 agents that is 2 x 2,016 pairs per step and a quarter of a training run's
time (profiled: `World.collides` 27% of a 64-agent MAPPO run). Here one `[B, K, K]` distance
computation answers every pair at once, and during those two calls `world.collides` reads the
answer from a table. VMAS's loops, their order and everything they compute stay VMAS's own.

`collides` is VMAS's test: both entities collide with each other, one of them moves or
rotates, the shape pair is collidable, and in some copy their centres are no farther apart
than the sum of their circumscribed radii. The first three do not change during an episode in
navigation (agents collide, goals do not), so they are read once here; only the distance part
is recomputed, from the positions of the moment. Installed for navigation only, where
`tests/test_envs.py` checks observations and rewards against unpatched VMAS.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def install(env: Any) -> bool:
    """Patch `env`'s world step and reward to use the batched pair test; return whether it did."""
    scenario, world = env.scenario, env.world
    if not is_navigation(scenario):
        return False
    table = _PairTable(world)
    step_forces = world._apply_vectorized_enviornment_force
    reward = scenario.reward
    first = world.agents[0]

    def apply_forces():
        with table.in_use():
            step_forces()

    def reward_fn(agent):
        if agent is not first:  # only the first agent's call loops over pairs (navigation.reward)
            return reward(agent)
        with table.in_use():
            return reward(agent)

    world._apply_vectorized_enviornment_force = apply_forces
    scenario.reward = reward_fn
    return True


class _PairTable:
    """The entities that can ever collide, their radii sums, and, while in use, who is close."""

    def __init__(self, world: Any):
        import torch

        self.world = world
        entities = list(world.entities)
        static = [[a is not b and world_collides_static(world, a, b) for b in entities] for a in entities]
        keep = [i for i, row in enumerate(static) if any(row)]
        self.entities = [entities[i] for i in keep]
        self.index = {id(e): k for k, e in enumerate(self.entities)}
        self.static = torch.tensor([[static[i][j] for j in keep] for i in keep], dtype=torch.bool)
        # the sum is taken in Python floats, then compared in float32, as VMAS's `<=` does
        self.reach = torch.tensor([[entities[i].shape.circumscribed_radius() + entities[j].shape.circumscribed_radius()
                                    for j in keep] for i in keep], dtype=torch.float32)
        self.close: set[tuple[int, int]] = set()

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Answer `world.collides` from positions as they are now, until the block ends."""
        self._refresh()
        self.world.collides = self.collides  # an instance attribute shadows World.collides
        try:
            yield
        finally:
            del self.world.collides

    def collides(self, a: Any, b: Any) -> bool:
        i, j = self.index.get(id(a)), self.index.get(id(b))
        return i is not None and j is not None and (i, j) in self.close

    def _refresh(self) -> None:
        import torch

        if not self.entities:
            self.close = set()
            return
        pos = torch.stack([e.state.pos for e in self.entities], 1)  # [B, K, 2]
        distance = torch.linalg.vector_norm(pos.unsqueeze(2) - pos.unsqueeze(1), dim=-1)  # [B, K, K]
        near = (distance <= self.reach).any(0) & self.static
        self.close = set(map(tuple, near.nonzero().tolist()))


def is_navigation(scenario: Any) -> bool:
    """VMAS loads scenarios from their files under a blank module name: go by the file."""
    code = getattr(type(scenario).reward, "__code__", None)
    path = Path(code.co_filename) if code else Path()
    return path.name == "navigation.py" and path.parent.name == "scenarios"


def world_collides_static(world: Any, a: Any, b: Any) -> bool:
    """The position-free part of VMAS's `World.collides(a, b)`."""
    if not a.collides(b) or not b.collides(a):
        return False
    if not (a.movable or a.rotatable or b.movable or b.rotatable):
        return False
    return {a.shape.__class__, b.shape.__class__} in world._collidable_pairs
