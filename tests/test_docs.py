"""Every python and sh block of README.md and docs/*.md runs, against local servers.

Blocks are extracted from the Markdown, so the docs cannot drift from the code.
The live hosts they name are replaced by the replica (``corocrawl serve-demo``
on a free port) and the test's redis-server. A block may be skipped only with
a reason, in a comment on the line before it::

    <!-- docs-test: skip (the 15-minute benchmarks) -->

A block fenced as ```` ```python file=movies.py ```` is written to that file,
for the shell blocks after it to run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import corocrawl
from corocrawl.demo import DemoConfig, DemoServerThread
from redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(corocrawl.__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HARNESS = Path(__file__).with_name("docs_harness.py")
FENCE = re.compile(r"^(\s*)```(\w*)(.*)$")  # also fences indented in a list item
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
PRIVATE_IMPORT = re.compile(r"\b(?:from|import)\s+corocrawl(?:\.\w+)*\._\w+|corocrawl\._")


@dataclass
class Block:
    lang: str
    line: int
    code: str
    file: str | None
    skip: str | None


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, lang, info = match.group(1), match.group(2), match.group(3)
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i].removeprefix(indent))
            i += 1
        i += 1
        if lang not in ("python", "sh"):
            continue
        skip = SKIP.search(lines[start - 1]) if start else None
        file = re.search(r"file=(\S+)", info)
        found.append(Block(lang, start + 1, "\n".join(body) + "\n",
                           file.group(1) if file else None,
                           skip.group("reason") if skip else None))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_block_imports_a_private_module(doc: Path) -> None:
    for block in blocks(doc):
        assert not PRIVATE_IMPORT.search(block.code), \
            f"{doc.name}:{block.line} uses a private corocrawl module"


@pytest.fixture(scope="module")
def replica() -> Iterator[DemoServerThread]:
    config = DemoConfig(movies=40, cities=("beijing", "shanghai"), latency=(0.001, 0.01), seed=5)
    with DemoServerThread(config) as server:
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def substitutions(replica: DemoServerThread, redis: str | None, own_server: bool,
                  ) -> list[tuple[str, str]]:
    base = replica.base_url.rstrip("/")
    host_port = base.removeprefix("http://")
    pairs = [
        ("https://movie.douban.com", base),
        ("https://docs.example.com", base),
        ("https://example.com", base),
    ]
    if own_server:  # the doc starts `serve-demo --port 8080` itself: give it a free port
        port = free_port()
        pairs += [("--port 8080", f"--port {port}"), ("127.0.0.1:8080", f"127.0.0.1:{port}")]
    else:
        pairs.append(("127.0.0.1:8080", host_port))
    if redis is not None:
        pairs += [("redis://host:6379/0", redis), ("redis://crawl-host:6379/0", redis)]
    return pairs


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_block_runs(doc: Path, replica: DemoServerThread, tmp_path: Path,
                          request: pytest.FixtureRequest) -> None:
    found = blocks(doc)
    for block in found:
        if block.skip is not None:
            assert len(block.skip) > 10, f"{doc.name}:{block.line}: say why it is skipped"
    runnable = [b for b in found if b.skip is None]
    if not runnable:
        pytest.skip(f"{doc.name} has no runnable blocks")
    redis = None
    if any("redis://" in b.code for b in runnable):
        redis = request.getfixturevalue("docs_redis_url")
    own_server = any("serve-demo --port 8080" in b.code for b in runnable)
    pairs = substitutions(replica, redis, own_server)

    def fill(code: str) -> str:
        for old, new in pairs:
            code = code.replace(old, new)
        return code

    spec = [{"lang": b.lang, "line": b.line, "code": fill(b.code), "file": b.file}
            for b in runnable]
    (tmp_path / "blocks.json").write_text(json.dumps(spec), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(SRC),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, str(HARNESS), str(tmp_path / "blocks.json")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    print(done.stdout[-5000:])
    assert done.returncode == 0, done.stderr[-5000:]
    if doc.name == "README.md":
        # The ten-line spider prints the movies' posters, not [] (the replica answers
        # 418 to bots, as douban does).
        assert "/view/photo/l/public/" in done.stdout


@pytest.fixture
def docs_redis_url(redis_server: RedisServer) -> str:
    """The session's redis-server (tests/conftest.py), flushed, for the docs that use one."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url
