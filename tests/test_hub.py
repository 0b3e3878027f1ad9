"""Hub round trip through huggingface_hub's own code, against a loopback Hub on 127.0.0.1.

Nothing in huggingface_hub is patched: the server implements the few endpoints that
`create_repo`, `upload_folder` and `snapshot_download` call, and the client is pointed at it
with `endpoint=` (in-process) or `HF_ENDPOINT` (CLI in a subprocess).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from leed.demos import DemoError, load_demos, resolve_demos
from leed.dg.generate import generate_demos
from benchmark.envs import make_env
from leed.hub import HubError, parse_ref, pull, push

ENV = "lbf:Foraging-8x8-2p-2f-v3"
TOKEN = "hf_dummy_secret_token_42"


class LoopbackHub:
    """A dataset-repo Hub in memory: repos -> list of commits (sha, {path: bytes})."""

    def __init__(self):
        self.repos: dict[str, list[tuple[str, dict[str, bytes]]]] = {}
        self.log: list[tuple[str, str]] = []
        self.auth: list[str | None] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=None, head=False):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if "Content-Length" not in (headers or {}):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _json(self, obj, status=200):
                self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

            def _error(self, status, code, head=False):
                self._send(status, json.dumps({"error": code}).encode(), {"X-Error-Code": code, "X-Error-Message": code}, head)

            def _commit(self, repo, rev):
                commits = hub.repos.get(repo)
                if commits is None:
                    return None, "RepoNotFound"
                for sha, files in reversed(commits):
                    if rev in ("main", sha):
                        return (sha, files), None
                return None, "RevisionNotFound"

            def do_HEAD(self):
                self._resolve(head=True)

            def do_GET(self):
                path = unquote(urlparse(self.path).path)
                hub.log.append(("GET", path))
                hub.auth.append(self.headers.get("Authorization"))
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "datasets"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
                    repo, rev = f"{parts[2]}/{parts[3]}", parts[5]
                    found, err = self._commit(repo, rev)
                    if err:
                        return self._error(404, err)
                    sha, files = found
                    if parts[4] == "revision":
                        return self._json({"id": repo, "sha": sha, "private": False,
                                           "siblings": [{"rfilename": p} for p in sorted(files)]})
                    return self._json([{"type": "file", "path": p, "size": len(b),
                                        "oid": hashlib.sha1(b"blob %d\0" % len(b) + b).hexdigest()}
                                       for p, b in sorted(files.items())])
                self._resolve(head=False)

            def _resolve(self, head):
                path = unquote(urlparse(self.path).path)
                if head:
                    hub.log.append(("HEAD", path))
                parts = path.strip("/").split("/")
                if parts[0] != "datasets" or len(parts) < 6 or parts[3] != "resolve":
                    return self._error(404, "EntryNotFound", head)
                repo, rev, fpath = f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:])
                found, err = self._commit(repo, rev)
                if err:
                    return self._error(404, err, head)
                sha, files = found
                if fpath not in files:
                    return self._error(404, "EntryNotFound", head)
                body = files[fpath]
                etag = '"' + hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest() + '"'
                self._send(200, body, {"ETag": etag, "X-Repo-Commit": sha, "Content-Length": str(len(body)),
                                       "Content-Type": "application/octet-stream"}, head)

            def do_POST(self):
                path = unquote(urlparse(self.path).path)
                hub.log.append(("POST", path))
                hub.auth.append(self.headers.get("Authorization"))
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = path.strip("/").split("/")
                if path == "/api/repos/create":
                    body = json.loads(data)
                    repo = f"{body.get('organization') or 'me'}/{body['name']}" if "/" not in body["name"] else body["name"]
                    if hub.repos.get(repo) is None:
                        hub.repos[repo] = [("0" * 40, {})]
                        return self._json({"url": f"{hub.endpoint}/datasets/{repo}", "name": repo})
                    return self._error(409, "RepoExists")
                if path == "/api/validate-yaml":  # the dataset card's front matter
                    return self._json({"errors": [], "warnings": []})
                if parts[:2] == ["api", "datasets"] and parts[4] == "preupload":
                    files = json.loads(data)["files"]
                    return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                 for f in files]})
                if parts[:2] == ["api", "datasets"] and parts[4] == "commit":
                    repo = f"{parts[2]}/{parts[3]}"
                    _, files = hub.repos[repo][-1]
                    files = dict(files)
                    for line in data.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    sha = hashlib.sha1(json.dumps(sorted((p, hashlib.sha1(b).hexdigest()) for p, b in files.items())).encode()).hexdigest()
                    hub.repos[repo].append((sha, files))
                    return self._json({"commitUrl": f"{hub.endpoint}/datasets/{repo}/commit/{sha}", "commitOid": sha})
                self._error(404, "EntryNotFound")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hub():
    h = LoopbackHub()
    yield h
    h.stop()


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("sets") / "lbf8"
    return generate_demos(lambda: make_env(ENV, 2, num_envs=2), ENV, 2, out, episodes=4)


def test_refs_parse():
    assert parse_ref("hf://o/r@abc/lbf/x/n2") == parse_ref("hf://o/r@abc/lbf/x/n2/")
    r = parse_ref("hf://o/r")
    assert (r.repo_id, r.revision, r.subdir) == ("o/r", "main", None)
    with pytest.raises(HubError, match="bad Hub reference 'o/r'"):
        parse_ref("o/r")


def test_push_pull_verify_then_pull_again_offline_from_cache(hub, demo_set, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    pushed = push(demo_set, "leed/demos", endpoint=hub.endpoint)
    manifest = json.loads((demo_set / "manifest.json").read_text())
    assert pushed.subdir == manifest["key"] and pushed.subdir.startswith("lbf/Foraging-8x8-2p-2f-v3/n2/scripted-")
    assert ("POST", "/api/repos/create") in hub.log and ("POST", "/api/datasets/leed/demos/commit/main") in hub.log
    assert f"Bearer {TOKEN}" in hub.auth  # the token went to the Hub, and only there

    cache = tmp_path / "hf-cache"
    got = pull(pushed.ref, cache_dir=cache, endpoint=hub.endpoint)
    assert got.revision == pushed.revision and not got.offline
    assert ("GET", f"/api/datasets/leed/demos/revision/{pushed.revision}") not in hub.log  # a sha needs no resolving
    d = load_demos(got.path)
    assert (got.path / "episodes-00000.parquet").read_bytes() == (demo_set / "episodes-00000.parquet").read_bytes()
    assert d.manifest["generator"]["kind"] == "scripted"

    by_branch = pull(f"hf://leed/demos@main/{pushed.subdir}", cache_dir=cache, endpoint=hub.endpoint)
    assert by_branch.revision == pushed.revision  # the branch is pinned to the commit it resolved to

    hub.stop()  # network gone: huggingface_hub falls back to the cached snapshot by itself
    cut_off = pull(f"hf://leed/demos@main/{pushed.subdir}", cache_dir=cache, endpoint=hub.endpoint)
    assert cut_off.revision == pushed.revision and cut_off.path == by_branch.path
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = pull(f"hf://leed/demos@main/{pushed.subdir}", cache_dir=cache, endpoint=hub.endpoint)
    assert again.offline and again.revision == pushed.revision and again.path == by_branch.path
    load_demos(again.path)
    with pytest.raises(HubError, match="not in the local cache and HF_HUB_OFFLINE is set"):
        pull("hf://leed/other@main", cache_dir=cache, endpoint=hub.endpoint)


def test_missing_repo_and_revision_are_one_line(hub, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(HubError, match="dataset repo leed/nothing not found"):
        pull("hf://leed/nothing@main", cache_dir=tmp_path, endpoint=hub.endpoint)
    hub.repos["leed/demos"] = [("1" * 40, {"a/manifest.json": b"{}"})]
    with pytest.raises(HubError, match="revision 'v9' not found in dataset repo leed/demos"):
        pull("hf://leed/demos@v9", cache_dir=tmp_path, endpoint=hub.endpoint)
    with pytest.raises(HubError, match="has no manifest.json"):
        pull("hf://leed/demos@main/b", cache_dir=tmp_path, endpoint=hub.endpoint)


def test_altered_file_on_the_hub_is_refused_naming_it(hub, demo_set, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    files = {f"s/{p.name}": p.read_bytes() for p in demo_set.iterdir()}
    card = bytearray(files["s/README.md"])
    card[10] ^= 1
    files["s/README.md"] = bytes(card)
    hub.repos["leed/demos"] = [("2" * 40, files)]
    with pytest.raises(DemoError, match="README.md was altered"):
        pull("hf://leed/demos@main/s", cache_dir=tmp_path, endpoint=hub.endpoint)


def test_resolve_demos_records_the_pinned_revision(hub, demo_set, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.repos["leed/demos"] = [("3" * 40, {f"s/{p.name}": p.read_bytes() for p in demo_set.iterdir()})]
    monkeypatch.setattr("leed.hub.pull.__defaults__", (tmp_path, hub.endpoint, True))
    d = resolve_demos("hf://leed/demos@main/s", ENV, 2)
    assert d.source == "hub" and d.revision == "3" * 40 and d.provenance()["revision"] == "3" * 40


# Runs several CLI calls in one fresh interpreter (huggingface_hub reads HF_ENDPOINT and
# HF_HUB_OFFLINE at import), reporting each call's exit code, stdout and stderr as JSON.
_RUNNER = """
import contextlib, io, json, sys
from benchmark.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    results.append({"rc": rc, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps(results))
"""


def run_cli(calls, env):
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(calls)], env=env, capture_output=True,
                          text=True, timeout=180, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cli_push_and_pull_with_hf_endpoint_never_print_the_token(hub, demo_set, tmp_path):
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": TOKEN,
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    ref = f"hf://leed/demos@main/{json.loads((demo_set / 'manifest.json').read_text())['key']}"
    pushed, pulled = run_cli([["demos", "push", str(demo_set), "--repo", "leed/demos"], ["demos", "pull", ref]], env)
    assert pushed["rc"] == 0, pushed["err"]
    sha = hub.repos["leed/demos"][-1][0]
    assert f"use it as: hf://leed/demos@{sha}/" in pushed["out"]
    assert pulled["rc"] == 0 and f"revision {sha}" in pulled["out"] and "verified" in pulled["out"]
    hub.stop()
    offline, missing = run_cli([["demos", "pull", ref], ["demos", "pull", "hf://leed/absent@main"]],
                               {**env, "HF_HUB_OFFLINE": "1"})
    assert offline["rc"] == 0 and f"revision {sha} (from the local cache, offline)" in offline["out"]
    assert missing["rc"] == 2 and missing["err"].strip().count("\n") == 0
    assert "hf://leed/absent@main is not in the local cache" in missing["err"]
