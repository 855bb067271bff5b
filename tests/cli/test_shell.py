"""``corocrawl shell URL``: ``-c`` prints one expression; without it, a Python prompt."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from recording_server import RecordingServer


def shell(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run([sys.executable, "-m", "corocrawl", "shell", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, env=env)


def test_c_prints_the_expression(origin: RecordingServer) -> None:
    done = shell(f"{origin.url}/", "-c", 'resp.css_first("h1").text(strip=True)')
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Books on the shelf\n"


def test_c_pretty_prints_other_values_and_follow_works(origin: RecordingServer) -> None:
    done = shell(f"{origin.url}/shelf/", "-c",
                 '[resp.follow(a.attrs["href"]).url for a in resp.css("a")]')
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"['{origin.url}/b/1', '{origin.url}/b/2']\n"


def test_shell_sends_the_crawl_settings(origin: RecordingServer) -> None:
    done = shell(f"{origin.url}/", "--user-agent", "shelf-bot/2", "--header", "X-Team: books",
                 "-c", "resp.status")
    assert done.stdout == "200\n"
    assert origin.seen[0].headers["user-agent"] == "shelf-bot/2"
    assert origin.seen[0].headers["x-team"] == "books"


@pytest.mark.skipif(importlib.util.find_spec("IPython") is not None,
                    reason="with IPython installed the shell is IPython's")
def test_interactive_prompt_has_resp(origin: RecordingServer) -> None:
    # The standard console reads the commands from stdin.
    done = shell(f"{origin.url}/", stdin='print("title:", resp.css_first("title").text())\n')
    assert done.returncode == 0, done.stderr
    assert "title: Shelf" in done.stdout
    assert f"[corocrawl] {origin.url}/: HTTP 200" in done.stderr + done.stdout


@pytest.mark.parametrize(("expression", "message"), [
    ("resp.css_first(", "is not a Python expression"),
    ("resp.nothing", "raised AttributeError"),
])
def test_bad_expression_is_one_line(origin: RecordingServer, expression: str,
                                    message: str) -> None:
    done = shell(f"{origin.url}/", "-c", expression)
    assert done.returncode in (1, 2)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_unreachable_url_is_one_line() -> None:
    done = shell("http://127.0.0.1:9/", "-c", "resp.status", "--timeout", "5")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot fetch http://127.0.0.1:9/" in lines[0], done.stderr
