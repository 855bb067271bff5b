"""Fixtures of the CLI tests: recording servers on 127.0.0.1, and no proxy variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from recording_server import RecordingServer


@pytest.fixture
def origin() -> Iterator[RecordingServer]:
    with RecordingServer(proxy=False) as server:
        yield server


@pytest.fixture
def slow_origin() -> Iterator[RecordingServer]:
    """The origin answering each request after 0.8 s."""
    with RecordingServer(proxy=False, delay=0.8) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[RecordingServer]:
    with RecordingServer(proxy=True) as server:
        yield server


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables from the machine running the tests."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
