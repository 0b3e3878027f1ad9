"""Share demonstration sets through Hugging Face Hub dataset repos, with the local cache as fallback.

A set lives in a repo folder named by its key (env, scenario, n_agents, generator, prompt sha256),
so one repo holds many sets. `pull` pins the revision it resolved (a commit sha) so results can
record exactly which demonstrations they used. The token comes from `HF_TOKEN` or the login cache
through huggingface_hub itself; this module never reads, prints or stores it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from baselines.core.errors import UserError
from leed.demos import MANIFEST, load_demos, read_manifest, verify_files

_REF = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[^/]+))?(?:/(?P<sub>.+))?$")


class HubError(UserError):
    """A Hub reference that cannot be resolved (bad ref, missing repo/revision, offline and uncached)."""


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    revision: str = "main"
    subdir: str | None = None

    def __str__(self) -> str:
        return f"hf://{self.repo_id}@{self.revision}" + (f"/{self.subdir}" if self.subdir else "")


@dataclass(frozen=True)
class PullResult:
    path: Path  # the set's folder inside the HF cache snapshot
    repo_id: str
    revision: str  # the commit sha the reference resolved to
    subdir: str | None
    offline: bool  # True when served from the local cache without asking the Hub


def parse_ref(ref: str) -> HubRef:
    """`hf://owner/repo[@revision][/sub/dir]` -> HubRef."""
    m = _REF.match(ref.strip())
    if not m:
        raise HubError(f"bad Hub reference '{ref}': expected hf://owner/repo[@revision][/subdir]")
    return HubRef(m.group("repo"), m.group("rev") or "main", (m.group("sub") or "").strip("/") or None)


def _offline_requested() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def pull(ref: str | HubRef, cache_dir: str | Path | None = None, endpoint: str | None = None,
         verify: bool = True) -> PullResult:
    """Download (or find in the cache) one demonstration set and verify it against its manifest.

    Offline (`HF_HUB_OFFLINE=1`) or with the network gone, huggingface_hub serves the cached
    snapshot of the same revision; a revision never pulled before is then a clear error.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    r = parse_ref(ref) if isinstance(ref, str) else ref
    patterns = [f"{r.subdir}/*"] if r.subdir else None
    offline = _offline_requested()
    try:
        folder = snapshot_download(
            r.repo_id, repo_type="dataset", revision=r.revision, allow_patterns=patterns,
            cache_dir=str(cache_dir) if cache_dir else None, endpoint=endpoint, local_files_only=offline,
        )
    except RepositoryNotFoundError:
        raise HubError(f"dataset repo {r.repo_id} not found on the Hub (or private: set HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise HubError(f"revision '{r.revision}' not found in dataset repo {r.repo_id}") from None
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if offline else "the Hub is unreachable"
        raise HubError(f"{r} is not in the local cache and {why}") from None
    except EntryNotFoundError:
        raise HubError(f"{r}: no such file in the repo") from None
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", "?")
        raise HubError(f"Hub request for {r} failed: HTTP {status}") from None
    except OSError as err:
        raise HubError(f"pulling {r} failed: {err.strerror or err}") from None
    snapshot = Path(folder)
    path = snapshot / r.subdir if r.subdir else snapshot
    if not (path / MANIFEST).is_file():
        raise HubError(f"{r} has no {MANIFEST}: not a demonstration set (is the subdir right?)")
    if verify:
        manifest, _ = read_manifest(path)
        verify_files(path, manifest)
    return PullResult(path=path, repo_id=r.repo_id, revision=snapshot.name, subdir=r.subdir, offline=offline)


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    subdir: str
    revision: str  # the new commit sha
    ref: str  # hf://repo@sha/subdir, ready to paste into a spec


def push(path: str | Path, repo_id: str, subdir: str | None = None, branch: str = "main", private: bool = False,
         endpoint: str | None = None, commit_message: str | None = None) -> PushResult:
    """Verify the set, then upload it to `repo_id` (a dataset repo, created if missing) under its key."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    path = Path(path).expanduser()
    demos = load_demos(path)  # never publish an altered or unreadable set
    subdir = (subdir or demos.manifest.get("key") or path.name).strip("/")
    api = HfApi(endpoint=endpoint)
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
        info = api.upload_folder(
            folder_path=str(path), path_in_repo=subdir, repo_id=repo_id, repo_type="dataset", revision=branch,
            commit_message=commit_message or f"Add {demos.manifest['generator']['kind']} demonstrations {subdir}",
        )
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", "?")
        hint = " (check HF_TOKEN or `hf auth login`)" if status in (401, 403) else ""
        raise HubError(f"pushing to dataset repo {repo_id} failed: HTTP {status}{hint}") from None
    sha = getattr(info, "oid", None) or branch
    return PushResult(repo_id=repo_id, subdir=subdir, revision=sha, ref=f"hf://{repo_id}@{sha}/{subdir}")
