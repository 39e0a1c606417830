"""A loopback stand-in for the Hugging Face Hub, good enough for the real ``huggingface_hub`` client.

It answers the requests ``hf_hub_download`` makes (HEAD and GET on ``/{repo}/resolve/{rev}/{file}``
with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``, and the ``X-Error-Code`` header on 404s) and the
ones ``HfApi.create_repo`` + ``upload_folder`` make (``/api/repos/create``, ``preupload``, ``commit``
with an NDJSON body of base64 files). Repos live in memory as a list of commits; branches map names to
commit shas. Point the client at it with ``HF_ENDPOINT=http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> {path: content}
    branches: dict[str, str] = field(default_factory=dict)  # name -> sha

    def commit(self, files: dict[str, bytes], branch: str = "main") -> str:
        parent = self.branches.get(branch)
        tree = dict(self.commits.get(parent, {})) if parent else {}
        tree.update(files)
        digest = hashlib.sha1(repr((parent, sorted((k, hashlib.sha256(v).hexdigest())
                                                   for k, v in tree.items()))).encode())
        sha = digest.hexdigest()
        self.commits[sha] = tree
        self.branches[branch] = sha
        return sha

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


class FakeHub:
    """In-memory Hub with an HTTP front end on 127.0.0.1 (random free port)."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) log, to assert on network use
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:
                hub._resolve(self, send_body=False)

            def do_GET(self) -> None:
                hub._resolve(self, send_body=True)

            def do_POST(self) -> None:
                hub._post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- content --------------------------------------------------------------------------------
    def add_files(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        return self.repos.setdefault(repo_id, Repo()).commit(files, branch)

    def add_folder(self, repo_id: str, folder, branch: str = "main") -> str:
        from pathlib import Path
        files = {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}
        return self.add_files(repo_id, files, branch)

    # -- HTTP -----------------------------------------------------------------------------------
    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict | None = None,
               send_body: bool = True, content_type: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if send_body and body:
            h.wfile.write(body)

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str, send_body: bool = True) -> None:
        body = json.dumps({"error": message}).encode()
        self._reply(h, status, body, {"X-Error-Code": code, "X-Error-Message": message}, send_body)

    def _resolve(self, h: BaseHTTPRequestHandler, send_body: bool) -> None:
        path = unquote(urlparse(h.path).path)
        self.requests.append((h.command, path))
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(h, 404, "EntryNotFound", f"unknown route {path}", send_body)
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 404, "RepoNotFound", f"Repository {repo_id} not found", send_body)
        sha = repo.resolve(revision)
        if sha is None:
            return self._error(h, 404, "RevisionNotFound", f"Revision {revision} not found", send_body)
        content = repo.commits[sha].get(filename)
        if content is None:
            return self._error(h, 404, "EntryNotFound", f"{filename} not found at {revision}", send_body)
        etag = f'"{hashlib.sha256(content).hexdigest()}"'
        self._reply(h, 200, content, {"X-Repo-Commit": sha, "ETag": etag}, send_body,
                    content_type="application/octet-stream")

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        path = urlparse(h.path).path
        self.requests.append(("POST", path))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        parts = path.strip("/").split("/")
        if path == "/api/validate-yaml":  # the client checks a README's front matter before a commit
            return self._reply(h, 200, json.dumps({"errors": [], "warnings": []}).encode())
        if path == "/api/repos/create":
            req = json.loads(raw or b"{}")
            repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
            exists = repo_id in self.repos
            self.repos.setdefault(repo_id, Repo())
            body = json.dumps({"url": f"{self.url}/{repo_id}", "name": repo_id}).encode()
            return self._reply(h, 409 if exists else 200, body)
        if len(parts) >= 6 and parts[:2] == ["api", "models"] and parts[4] in ("preupload", "commit"):
            repo_id, action, revision = f"{parts[2]}/{parts[3]}", parts[4], unquote("/".join(parts[5:]))
            repo = self.repos.get(repo_id)
            if repo is None:
                return self._error(h, 404, "RepoNotFound", f"Repository {repo_id} not found")
            if action == "preupload":
                files = json.loads(raw)["files"]
                out = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
                return self._reply(h, 200, json.dumps({"files": out}).encode())
            files = {}
            for line in raw.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            sha = repo.commit(files, revision)
            body = json.dumps({"commitUrl": f"{self.url}/{repo_id}/commit/{sha}", "commitOid": sha}).encode()
            return self._reply(h, 200, body)
        return self._error(h, 404, "EntryNotFound", f"unknown route {path}")
