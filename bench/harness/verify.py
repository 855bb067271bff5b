"""Check a crawler's output against the generated site's truth. No pass, no figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .site import expected_items

_SUBJECT = re.compile(r"/subject/(\d+)/")


def _field(item: dict[str, object], *names: str) -> str:
    for name in names:
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def read_items(path: Path) -> list[dict[str, object]]:
    """Items from a JSON-lines file (a missing file is no items)."""
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def check_items(items: list[dict[str, object]], n_movies: int) -> list[str]:
    """Problems found (empty: every movie once, with its name and the right poster URL)."""
    truth = expected_items(n_movies)
    problems: list[str] = []
    seen: dict[str, dict[str, object]] = {}
    for item in items:
        sid = _field(item, "subject_id", "id")
        if not sid:
            m = _SUBJECT.search(_field(item, "url", "subject_url", "detail_url"))
            sid = m.group(1) if m else ""
        if sid in seen:
            # Several rows per movie are fine if they merge (list fields, then the poster).
            seen[sid] = {**seen[sid], **{k: v for k, v in item.items() if v not in (None, "")}}
        else:
            seen[sid] = item
    extra = set(seen) - set(truth)
    if extra:
        problems.append(f"{len(extra)} items not on the site, e.g. {sorted(extra)[:3]}")
    missing = [sid for sid in truth if sid not in seen]
    if missing:
        problems.append(f"{len(missing)} of {len(truth)} movies missing, e.g. {missing[:3]}")
    wrong_poster = wrong_name = 0
    for sid, (name, poster) in truth.items():
        item = seen.get(sid)
        if item is None:
            continue
        if _field(item, "poster_url", "poster", "poster_src", "image") != poster:
            wrong_poster += 1
        got_name = _field(item, "name", "title")
        if got_name.strip() != name:
            wrong_name += 1
    if wrong_poster:
        problems.append(f"{wrong_poster} wrong or missing poster URLs")
    if wrong_name:
        problems.append(f"{wrong_name} wrong or missing names")
    return problems


def check_raw(summary_file: Path, expected_pages: int, expected_bytes: int) -> list[str]:
    """Problems in the raw fetcher's summary: it must have read every page, every byte."""
    if not summary_file.exists():
        return ["no summary written"]
    got = json.loads(summary_file.read_text(encoding="utf-8"))
    problems = []
    if got.get("pages") != expected_pages:
        problems.append(f"fetched {got.get('pages')} pages, expected {expected_pages}")
    if got.get("bytes") != expected_bytes:
        problems.append(f"read {got.get('bytes')} bytes, expected {expected_bytes}")
    return problems
