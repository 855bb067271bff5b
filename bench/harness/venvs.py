"""Virtual environments for the other crawlers, one each, made from PyPI on first use.

They live in ``bench/.venvs/<name>`` (gitignored) so that Scrapy's or Crawlee's
dependencies never meet corocrawl's. A marker file records what was installed;
a venv whose marker matches is reused as it is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS = Path(__file__).resolve().parent.parent / ".venvs"

PACKAGES: dict[str, tuple[str, ...]] = {
    "scrapy": ("scrapy==2.19.0",),
    # No playwright extra: ParselCrawler needs no browser.
    "crawlee": ("crawlee[parsel]==1.11.0",),
    # The lesson's crawler (aiohttp + bs4/lxml), the blocking ones (requests + selectolax).
    "lesson": (
        "aiohttp==3.14.5",
        "beautifulsoup4==4.15.0",
        "lxml==6.1.3",
        "requests==2.34.2",
        "selectolax==1.0.2",
    ),
}


def python_of(name: str) -> Path:
    """The interpreter of venv ``name`` (it may not exist yet)."""
    return VENVS / name / "bin" / "python"


def ensure(name: str, say: object = print) -> Path | None:
    """Create venv ``name`` if needed; its python, or None if it cannot be installed."""
    venv = VENVS / name
    marker = venv / ".bench-packages"
    wanted = "\n".join(PACKAGES[name])
    if marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return python_of(name)
    say(f"  installing {', '.join(PACKAGES[name])} into {venv} (once) ...")  # type: ignore[operator]
    log = VENVS / f"{name}.log"
    VENVS.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        ok = (
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)], stdout=out, stderr=out
            ).returncode
            == 0
            and subprocess.run(
                [str(python_of(name)), "-m", "pip", "install", "-q", *PACKAGES[name]],
                stdout=out,
                stderr=out,
            ).returncode
            == 0
        )
    if not ok:
        say(f"  could not install {name}: see {log}")  # type: ignore[operator]
        return None
    marker.write_text(wanted, encoding="utf-8")
    return python_of(name)
