"""Plan -> execute -> feedback -> re-plan, for up to K rounds; the best round's episode is kept.

Episodes are replayed from the same seed (`VecEnv.reset(seed)` seeds copy e with seed + e and
the executors are deterministic), so every round of refinement faces the same initial state.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from baselines.core.env_api import VecEnv
from baselines.core.errors import UserError
from leed.dg.executors import Failure, make_executor
from leed.dg.language import Instruction, PlanError, Vocabulary, parse_plan, plan_to_json
from leed.dg.llm import LLMClient
from leed.dg.prompts import build_prompt


@dataclass
class Episode:
    """One executed episode, in the learners' own (obs, avail, action) format."""

    seed: int
    obs: np.ndarray  # [T, N, O] float32
    avail: np.ndarray  # [T, N, A] bool
    action: np.ndarray  # [T, N] int
    reward: np.ndarray  # [T, N] float32 (per agent)
    done: np.ndarray  # [T] bool
    team_return: float
    solved: bool  # the task ended by itself (terminated), not by the time limit
    won: bool | None
    failures: list[Failure]
    plan_text: str

    @property
    def length(self) -> int:
        return int(self.done.shape[0])


def _first_available(avail_row: np.ndarray, preferred: int) -> int:
    return preferred if avail_row[preferred] else int(np.flatnonzero(avail_row)[0])


def execute(
    env: VecEnv, seed: int, plans: list[list[Instruction]], descs: list[dict[str, Any]],
    obs: np.ndarray, avail: np.ndarray,
) -> list[Episode]:
    """Run copy e's plan from the state `reset(seed)` left until copy e's first episode ends."""
    n_envs = len(plans)
    executors = [make_executor(plans[e], descs[e], seed=seed + e) for e in range(n_envs)]
    buf: list[dict[str, list]] = [{"obs": [], "avail": [], "action": [], "reward": [], "done": []} for _ in range(n_envs)]
    returns = np.zeros(n_envs)
    active = np.ones(n_envs, dtype=bool)
    finished: list[Episode | None] = [None] * n_envs
    last_desc = list(descs)
    max_steps = 2 * int(env.info.episode_limit) + 10
    for t in range(max_steps):
        actions = np.zeros((n_envs, env.info.n_agents), dtype=np.int64)
        for e in range(n_envs):
            if active[e]:
                desc = descs[e] if t == 0 else env.describe(e)
                last_desc[e] = desc
                actions[e] = executors[e].act(desc, avail[e])
            else:  # finished copies idle until the slowest one ends
                actions[e] = [_first_available(avail[e, i], executors[e]._noop()) for i in range(env.info.n_agents)]
        res = env.step(actions)
        for e in np.flatnonzero(active):
            b = buf[e]
            end = bool(res.terminated[e] or res.truncated[e])
            b["obs"].append(obs[e])
            b["avail"].append(avail[e])
            b["action"].append(actions[e])
            b["reward"].append(res.agent_reward[e])
            b["done"].append(end)
            returns[e] += float(res.reward[e])
            if end:
                solved = bool(res.terminated[e]) and not bool(res.truncated[e])
                executors[e].finish(last_desc[e], t + 1, solved=solved)
                won = res.info.get("won")
                finished[e] = Episode(
                    seed=seed + e,
                    obs=np.asarray(b["obs"], dtype=np.float32),
                    avail=np.asarray(b["avail"], dtype=bool),
                    action=np.asarray(b["action"], dtype=np.int64),
                    reward=np.asarray(b["reward"], dtype=np.float32),
                    done=np.asarray(b["done"], dtype=bool),
                    team_return=float(returns[e]),
                    solved=solved,
                    won=None if won is None else bool(won[e]),
                    failures=list(executors[e].failures),
                    plan_text=plan_to_json(plans[e]),
                )
                active[e] = False
        obs, avail = res.obs, res.avail
        if not active.any():
            return finished  # type: ignore[return-value]
    raise UserError(f"an episode did not end within {max_steps} steps (episode_limit {env.info.episode_limit}): check the env adapter")


def feedback_text(plan_text: str, episode: Episode, best_return: float | None) -> str:
    """What the LLM is told after a round: its plan, the return it got, and what failed."""
    lines = [f"Your previous plan was:\n{plan_text}",
             f"Executed, it achieved a team return of {episode.team_return:.3f}"
             + (f" (the best possible is {best_return:g})" if best_return is not None else "")
             + f" in {episode.length} steps" + (", and the task was completed." if episode.solved else ", and the task was NOT completed.")]
    if episode.failures:
        lines.append("What went wrong:")
        lines += [f"- {f.agent}: {f.text()}" for f in episode.failures[:20]]
    return "\n".join(lines)


@dataclass
class PlanLog:
    """Every prompt, reply and plan of a generation, in order: becomes prompts.jsonl."""

    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **record: Any) -> None:
        self.records.append(record)

    def jsonl(self) -> str:
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records)


def ask_for_plan(
    client: LLMClient, desc: dict[str, Any], feedback: str | None, temperature: float,
    log: PlanLog, episode: int, round_: int, parse_retries: int = 2,
) -> tuple[list[Instruction] | None, str]:
    """Ask until a reply parses (up to 1 + parse_retries tries); a rejected reply and its reason
    go back to the LLM. Returns (plan or None, last reply text)."""
    vocab = Vocabulary.from_describe(desc)
    note = None
    reply_text = ""
    for attempt in range(parse_retries + 1):
        text = feedback
        if note:
            text = ((feedback + "\n\n") if feedback else "") + note
        prompt = build_prompt(desc, text)
        reply = client.complete(prompt, temperature=temperature)
        reply_text = reply.text
        record = dict(kind="llm", episode=episode, round=round_, attempt=attempt, model=client.model,
                      prompt_sha256=prompt.sha256, messages=prompt.messages, reply=reply.text,
                      prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                      seconds=round(reply.seconds, 4), cached=reply.cached, transient_errors=reply.errors)
        try:
            plan = parse_plan(reply.text, vocab)
        except PlanError as err:
            log.add(**record, accepted=False, rejected=err.reason, error_kind=err.kind)
            note = f"Your reply was rejected: {err.reason}. Answer again with only the JSON list."
            continue
        log.add(**record, accepted=True, rejected=None)
        return plan, reply_text
    return None, reply_text


def refine_batch(
    env: VecEnv, seed: int, client: LLMClient, rounds: int, temperature: float, log: PlanLog,
    episode_offset: int, best_return: float | None = None, parse_retries: int = 2,
) -> list[Episode]:
    """One batch of `num_envs` episodes through up to `rounds` rounds of LLM planning."""
    n_envs = env.info.num_envs
    best: list[Episode | None] = [None] * n_envs
    last: list[Episode | None] = [None] * n_envs
    plans: list[list[Instruction]] = [[] for _ in range(n_envs)]
    for round_ in range(max(1, rounds)):
        pending = [e for e in range(n_envs) if best[e] is None or not _good_enough(best[e], best_return)]
        if not pending:
            break
        obs, _state, avail = env.reset(seed=seed)  # the same initial states every round
        descs = [env.describe(e) for e in range(n_envs)]
        for e in pending:
            prev = last[e]
            feedback = None if prev is None else feedback_text(prev.plan_text, prev, best_return)
            plan, _ = ask_for_plan(client, descs[e], feedback, temperature, log, episode_offset + e, round_, parse_retries)
            if plan is None:  # no parsable reply: every agent holds, and the return says so
                plan = [Instruction("Hold", "-", a["id"]) for a in descs[e]["agents"]]
            plans[e] = plan
        last = execute(env, seed, plans, descs, obs, avail)  # solved copies replay their kept plan
        for e in pending:
            ep = last[e]
            log.add(kind="result", episode=episode_offset + e, round=round_, team_return=ep.team_return,
                    solved=ep.solved, failures=[f.text() for f in ep.failures], plan=ep.plan_text)
            if best[e] is None or ep.team_return > best[e].team_return:
                best[e] = ep
    return best  # type: ignore[return-value]


def _good_enough(ep: Episode, best_return: float | None) -> bool:
    if best_return is not None:
        return ep.team_return >= best_return - 1e-6
    return ep.solved and not ep.failures


def scripted_batch(env: VecEnv, seed: int, planner: Callable[[dict[str, Any]], str], log: PlanLog,
                   episode_offset: int) -> list[Episode]:
    """One batch of episodes planned by the rules: written as text, parsed back, executed."""
    obs, _state, avail = env.reset(seed=seed)
    descs = [env.describe(e) for e in range(env.info.num_envs)]
    plans = []
    for e, desc in enumerate(descs):
        text = planner(desc)
        plans.append(parse_plan(text, Vocabulary.from_describe(desc)))  # same language, same checks
        log.add(kind="scripted", episode=episode_offset + e, round=0, plan=text)
    episodes = execute(env, seed, plans, descs, obs, avail)
    for e, ep in enumerate(episodes):
        log.add(kind="result", episode=episode_offset + e, round=0, team_return=ep.team_return,
                solved=ep.solved, failures=[f.text() for f in ep.failures], plan=ep.plan_text)
    return episodes

