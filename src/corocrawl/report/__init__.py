"""Reports a person opens: the HTML poster gallery of a crawl's movies."""

from __future__ import annotations

from ._gallery import DEFAULT_TITLE, release_date, render_gallery, week_heading, write_gallery

__all__ = ["DEFAULT_TITLE", "release_date", "render_gallery", "week_heading", "write_gallery"]
