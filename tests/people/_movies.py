"""Douban-shaped movie items for report tests (synthetic text)."""

from __future__ import annotations

import datetime as dt
from typing import Any

_TITLES = (
    "长夜行舟", "雪山来信", "海港往事", "第七个夏天", "风起平原", "月下茶馆", "星河旅人",
    "小城故事多", "青铜之门", "归途如虹", "雨季不再来", "白鹭洲", "火车开往春天", "灯塔守望者",
)


def movies(count: int, base_url: str = "https://img.example.invalid") -> list[dict[str, Any]]:
    """``count`` movies over several weeks; every 7th has no release date."""
    start = dt.date(2026, 11, 30)
    out: list[dict[str, Any]] = []
    for i in range(count):
        day = start + dt.timedelta(days=(i * 3) % 40)
        sid = str(2000 + i)
        sequel = f" {i // len(_TITLES) + 1}" if i >= len(_TITLES) else ""
        out.append(
            {
                "name": _TITLES[i % len(_TITLES)] + sequel,
                "date": f"{day.month}月{day.day}日",
                "release_date": None if i % 7 == 6 else day.isoformat(),
                "genre": ("剧情 / 爱情", "动作 / 冒险", "动画", "悬疑 / 犯罪")[i % 4],
                "region": ("中国大陆", "美国", "日本", None)[i % 4 if i % 3 else 3],
                "wants": None if i % 5 == 4 else 100 * i + 7,
                "url": f"https://movie.douban.com/subject/{sid}/",
                "subject_id": sid,
                "thumb_url": f"{base_url}/poster/{i}.png",
                "poster_url": f"{base_url}/poster/{i}.png",
            }
        )
    return out
