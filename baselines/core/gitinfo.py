"""Which code produced a result: the git commit (and local edits) of a checkout, for provenance."""
from __future__ import annotations

import subprocess
from pathlib import Path


def git_state(root: Path, untracked: bool = True) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout at `root`; (None, None) outside a git checkout.

    `untracked=True` counts new untracked files as edits (new code may have run too).
    """
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                 timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None, None
    status = git("status", "--porcelain", *([] if untracked else ["--untracked-files=no"]))
    return commit, bool(status)


PROJECT_ROOT = Path(__file__).resolve().parents[2]
