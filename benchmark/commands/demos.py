"""`leed-bench demos generate|verify|list|push|pull`: make, check and share LEED demonstration sets."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from baselines.core.errors import UserError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demos", help="generate, verify, list, push and pull LEED demonstration sets")
    sub = p.add_subparsers(dest="demos_command", metavar="ACTION", required=True)

    g = sub.add_parser("generate", help="generate a demonstration set (scripted rules or an LLM)")
    g.add_argument("--env", required=True, help="family:scenario, e.g. lbf:Foraging-8x8-2p-2f-v3")
    g.add_argument("--n-agents", type=int, help="agent count (default: from the scenario name, e.g. 2p)")
    g.add_argument("--episodes", type=int, default=50)
    g.add_argument("--out", required=True, help="folder to write (written to a temp folder, then renamed)")
    g.add_argument("--seed", type=int, default=0, help="episode k starts from seed + k")
    g.add_argument("--num-envs", type=int, default=1, help="env copies stepped together")
    g.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE", help="adapter option (repeatable)")
    g.add_argument("--force", action="store_true", help="replace --out if it exists")
    g.add_argument("--generator", choices=["scripted", "llm", "replay", "transformers"], default="scripted")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    g.add_argument("--model", help="model name sent to the endpoint (or a transformers model id)")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="name of the env var holding the API key")
    g.add_argument("--rounds", type=int, default=3, help="refinement rounds K (plan, execute, feed back)")
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per LLM request")
    g.add_argument("--max-retries", type=int, default=4, help="retries on timeout, 429, 5xx")
    g.add_argument("--reply-cache", help="reply cache folder (default: the user cache)")
    g.add_argument("--replies", help="recorded replies for --generator replay (prompts.jsonl or JSON list)")
    g.set_defaults(func=cmd_generate)

    v = sub.add_parser("verify", help="check every file's sha256, the schema and (optionally) the shapes")
    v.add_argument("path")
    v.add_argument("--n-agents", type=int)
    v.add_argument("--obs-dim", type=int)
    v.add_argument("--n-actions", type=int)
    v.set_defaults(func=cmd_verify)

    ls = sub.add_parser("list", help="list demonstration sets in the user cache (or under given folders)")
    ls.add_argument("roots", nargs="*")
    ls.set_defaults(func=cmd_list)

    pu = sub.add_parser("push", help="upload a set to a Hugging Face Hub dataset repo (token: HF_TOKEN or login)")
    pu.add_argument("path")
    pu.add_argument("--repo", required=True, help="owner/name of the dataset repo (created if missing)")
    pu.add_argument("--subdir", help="folder in the repo (default: the set's key)")
    pu.add_argument("--branch", default="main")
    pu.add_argument("--private", action="store_true")
    pu.set_defaults(func=cmd_push)

    pl = sub.add_parser("pull", help="download a set (pinned revision) or serve it from the local cache")
    pl.add_argument("ref", help="hf://owner/repo[@revision][/subdir]")
    pl.add_argument("--cache-dir", help="huggingface_hub cache folder (default: HF_HUB_CACHE)")
    pl.set_defaults(func=cmd_pull)


def _n_agents(env_key: str, given: int | None) -> int:
    if given is not None:
        if given < 1:
            raise UserError(f"--n-agents must be at least 1, got {given}")
        return given
    try:  # a scenario that fixes its agent count (lbf "...-2p-...") needs no --n-agents
        from benchmark.envs import FAMILIES, parse_env_key

        family, scenario = parse_env_key(env_key)
        low, high = FAMILIES[family].agent_range(scenario)
        if low == high:
            return int(low)
    except ImportError:
        m = re.search(r"-(\d+)p-", env_key)
        if m:
            return int(m.group(1))
    raise UserError(f"--n-agents is required for {env_key} (the scenario does not fix it)")


def _options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--env-option must be KEY=VALUE, got '{pair}'")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _client(args: argparse.Namespace):
    from leed.demos import cache_root
    from leed.dg.llm import OpenAIChatClient, ReplayClient, TransformersClient

    if args.generator == "llm":
        if not args.base_url or not args.model:
            raise UserError("--generator llm needs --base-url and --model")
        cache = args.reply_cache or str(cache_root() / "llm-replies")
        return OpenAIChatClient(args.base_url, args.model, api_key_env=args.api_key_env, timeout_s=args.timeout,
                                max_retries=args.max_retries, cache_dir=cache)
    if args.generator == "replay":
        if not args.replies:
            raise UserError("--generator replay needs --replies FILE")
        return ReplayClient(args.replies, model=args.model or "replay")
    if args.generator == "transformers":
        if not args.model:
            raise UserError("--generator transformers needs --model")
        return TransformersClient(args.model)
    return None


def cmd_generate(args: argparse.Namespace) -> int:
    from leed.demos import check_destination, load_demos
    from leed.dg.generate import generate_demos

    if args.episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {args.episodes}")
    if args.num_envs < 1:
        raise UserError(f"--num-envs must be at least 1, got {args.num_envs}")
    n_agents = _n_agents(args.env, args.n_agents)
    options = _options(args.env_option)
    out = Path(args.out)
    check_destination(out, args.force)
    client = _client(args)
    try:
        from benchmark.envs import check_env, make_env
    except ImportError as err:
        raise UserError(f"the env adapters (benchmark.envs) cannot be imported: {err}") from None
    check_env(args.env, n_agents)
    if args.env.startswith("vmas:"):
        import torch

        torch.set_num_threads(1)  # small batched sims: threads only contend (5x slower on 2 cores)
    factory = lambda: make_env(args.env, n_agents, num_envs=args.num_envs, seed=args.seed, **options)  # noqa: E731
    path = generate_demos(factory, args.env, n_agents, out, episodes=args.episodes, seed=args.seed,
                          generator=args.generator, client=client, rounds=args.rounds,
                          temperature=args.temperature, force=args.force, env_options=options)
    m = load_demos(path).manifest
    r, c = m["return"], m["cost"]
    print(f"wrote {path}: {m['episodes']} episodes of {m['env']} with {m['n_agents']} agents, generator "
          f"{m['generator']['kind']}" + (f" ({m['generator']['model']})" if m["generator"].get("model") else ""))
    print(f"team return mean {r['mean']:.4f} std {r['std']:.4f} min {r['min']:.4f} max {r['max']:.4f}"
          + (f", win rate {m['win_rate']:.3f}" if m.get("win_rate") is not None else "")
          + f"; {c['tokens']} tokens, {c['llm_calls']} LLM calls, {c['seconds']:.2f} s")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from leed.demos import load_demos

    d = load_demos(args.path, expect_n_agents=args.n_agents, expect_obs_dim=args.obs_dim, expect_n_actions=args.n_actions)
    m = d.manifest
    print(f"ok: {d.path} ({len(m['files'])} files match manifest.json; {m['env']}, {m['n_agents']} agents, "
          f"{m['episodes']} episodes, generator {m['generator']['kind']}, return mean {m['return']['mean']:.4f})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from leed.demos import MANIFEST, DemoError, cache_root, read_manifest

    roots = [Path(r) for r in args.roots] or [cache_root() / "demos"]
    found = 0
    for root in roots:
        if not root.exists():
            continue
        for mpath in sorted(root.rglob(MANIFEST)):
            try:
                m, _ = read_manifest(mpath.parent)
            except DemoError as err:
                print(f"{mpath.parent}  (unusable: {err})")
                continue
            found += 1
            print(f"{mpath.parent}  {m['env']} n={m['n_agents']} {m['generator']['kind']} "
                  f"episodes={m['episodes']} return={m['return']['mean']:.3f}")
    if not found:
        print(f"no demonstration sets under {', '.join(map(str, roots))}", file=sys.stderr)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from leed.hub import push

    res = push(args.path, args.repo, subdir=args.subdir, branch=args.branch, private=args.private)
    print(f"pushed {args.path} to dataset {res.repo_id}/{res.subdir} at commit {res.revision}")
    print(f"use it as: {res.ref}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from leed.hub import pull

    res = pull(args.ref, cache_dir=args.cache_dir)
    print(f"{res.path}")
    print(f"revision {res.revision}" + (" (from the local cache, offline)" if res.offline else "") + "; verified")
    return 0
