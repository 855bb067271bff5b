"""A generic crawl started from Python with ``db=`` (docs/crawl.md) is a normal crawl
database: ``status``, ``export`` and ``links`` read it, and it resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corocrawl.cli import main
from corocrawl.spiders._pagestore import read_pages
from corocrawl.spiders.generic import GenericCrawl, GenericOptions
from corocrawl.store import StoreReader

from .conftest import FAST
from .site import TrapSite


async def test_db_written_from_python_is_read_by_status(
    site: TrapSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "docs.db"
    options = GenericOptions([site.url("/")], exclude=[r"/slow", r"/big"])
    result = await GenericCrawl(options, config=FAST, db=db).crawl()
    assert result.stats.pages > 0
    pages = read_pages(db)

    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    with StoreReader(db) as reader:
        status = reader.status()
    assert status.done + status.failed == len(pages) and status.items == len(pages)
    assert f"crawl in {db}" in out and "the crawl is complete" in out

    exported = tmp_path / "pages.json"
    assert main(["export", "--db", str(db), "-o", str(exported)]) == 0
    assert len(json.loads(exported.read_bytes())) == len(pages)
    main(["links", "--db", str(db)])  # broken links of the trap site: exit 1, no error
    assert "broken links" in capsys.readouterr().out

    # Run again: the stored crawl is complete, so nothing is fetched twice.
    again = await GenericCrawl(options, config=FAST, db=db).crawl()
    assert again.stats.requests == 0
