"""Synthetic, seeded movies: the replica's whole database.

Every name, genre and sentence is made up here from small word lists; nothing
comes from the real site. The same ``DemoConfig`` always yields the same movies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from ._config import DemoConfig

CITY_NAMES = {
    "beijing": "北京",
    "shanghai": "上海",
    "guangzhou": "广州",
    "shenzhen": "深圳",
    "chengdu": "成都",
    "hangzhou": "杭州",
    "wuhan": "武汉",
    "xian": "西安",
    "nanjing": "南京",
    "chongqing": "重庆",
    "tianjin": "天津",
    "suzhou": "苏州",
    "changsha": "长沙",
}

_TITLE_HEADS = (
    "星河", "午夜", "南方", "北岸", "长夜", "无声", "少年", "归途", "远山", "风暴",
    "迷雾", "白昼", "海港", "孤岛", "秘境", "流光", "破晓", "旷野", "深海", "雪国",
    "烈日", "暗影", "天空", "铁轨", "钟楼", "沙漠", "春日", "秋水", "寒冬", "月光",
    "边城", "山河", "故乡", "银河", "火线", "青春", "末日", "梦境", "古城", "江湖",
)
_TITLE_TAILS = (
    "列车", "之约", "来信", "往事", "追踪", "奇遇", "行动", "密码", "告白", "守望",
    "大冒险", "的秘密", "之歌", "遗书", "计划", "传说", "救援", "之旅", "迷踪", "风云",
    "花园", "少女", "侦探", "游戏", "家族", "之城", "战记", "日记", "的夏天", "人生",
)
_SEQUELS = ("2", "3", "：新篇章", "：终章", "：重启", "外传", "前传", "4")
_GENRES = (
    "剧情", "喜剧", "动作", "爱情", "科幻", "动画", "悬疑", "惊悚", "恐怖", "纪录片",
    "犯罪", "奇幻", "冒险", "家庭", "战争", "历史", "传记", "音乐", "歌舞", "武侠",
    "古装", "运动", "儿童", "灾难",
)
# Repeated entries weight the draw: most upcoming films in a Chinese city are local.
_REGIONS = (
    "中国大陆", "中国大陆", "中国大陆", "中国大陆", "中国大陆", "美国", "美国",
    "中国香港", "中国台湾", "日本", "日本", "韩国", "英国", "法国", "德国", "意大利",
    "西班牙", "印度", "泰国", "爱尔兰", "加拿大", "澳大利亚", "中国大陆 / 中国香港",
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡"
_GIVEN = "子涵浩宇欣怡梓轩雨桐思远嘉伟文博佳琪俊杰晓明一鸣天佑若曦静雯志强海峰春燕秋月晨阳清风"
_FOREIGN = (
    "艾伦", "卡特", "玛丽", "约翰", "安娜", "彼得", "索菲亚", "詹姆斯", "艾玛", "马克",
    "莉莉", "大卫", "杰克", "汉斯", "路易", "伊莎贝尔", "托马斯", "奥利弗", "克拉拉", "山田",
    "佐藤", "金", "朴", "斯通", "怀特", "布朗", "米勒", "格林", "霍尔", "罗斯",
)
_LATIN = (
    "Night", "Train", "River", "Letter", "Winter", "Island", "Shadow", "Harbor", "Dream",
    "Silent", "North", "Summer", "Storm", "Garden", "Secret", "Journey", "Last", "Light",
)
_COMMENT_PARTS = (
    "节奏把握得很好", "演员的表现超出预期", "配乐非常动人", "剧本有些拖沓", "结尾让人意外",
    "摄影构图很讲究", "前半段铺垫太长", "值得去电影院看", "故事讲得很完整", "人物塑造立体",
    "特效做得很用心", "笑点密集不尴尬", "情感表达克制", "看完久久不能平静", "细节经得起推敲",
    "期待了很久终于定档", "预告片就已经很吸引人", "希望不要让人失望", "导演的上一部就很喜欢",
    "题材很新颖", "画面色彩很漂亮", "主题有点沉重", "适合全家一起看", "剪辑略显凌乱",
)
_SUMMARY_PARTS = (
    "在一座被遗忘的小城里，{a}意外发现了一封多年前寄出的信。",
    "为了查明真相，{a}与老朋友{b}踏上了一段充满未知的旅程。",
    "一场突如其来的风暴打乱了所有人的计划，",
    "他们必须在天亮之前做出选择。",
    "随着线索一点点浮出水面，隐藏多年的秘密终于被揭开。",
    "{b}一直守护着一个不能说出口的承诺，",
    "而这个承诺将改变两个家庭的命运。",
    "影片讲述了普通人在时代浪潮中的坚持与成长，",
    "也描绘了亲情、友情与爱情之间的温暖与挣扎。",
    "当{a}再次回到故乡，一切似乎都已物是人非。",
)
_REVIEW_TITLES = (
    "一部被低估的作品", "我们都曾是那个少年", "关于选择与代价", "比预期好太多", "温柔而有力量",
    "细节里藏着导演的野心", "这可能是今年最好的类型片", "遗憾多于惊喜", "笑着笑着就哭了",
)
_USER_NICKS = (
    "阿木", "小鱼", "青柠", "晚风", "半夏", "北北", "橘子汽水", "路人甲", "影迷老张", "一只猫",
    "夏天的风", "山丘", "小满", "南瓜", "木子", "慢慢", "星星", "大白",
)

MAX_DAYS_AHEAD = 120


@dataclass(frozen=True, slots=True)
class Movie:
    """One synthetic upcoming movie, as both the list and the detail page show it."""

    subject_id: int
    name: str
    latin_name: str
    city: str
    release: date
    genres: tuple[str, ...]
    region: str
    wants: int | None
    trailer_id: int | None
    photo_id: int
    colour: tuple[int, int, int]
    always_fails: bool

    @property
    def date_text(self) -> str:
        """The list page's date, e.g. ``10月11日`` (month zero-padded like the real site)."""
        return f"{self.release.month:02d}月{self.release.day:02d}日"

    @property
    def genre_text(self) -> str:
        """The list page's genre line, e.g. ``奇幻 / 冒险``."""
        return " / ".join(self.genres)

    @property
    def detail_path(self) -> str:
        """``/subject/<id>/``."""
        return f"/subject/{self.subject_id}/"

    @property
    def thumb_path(self) -> str:
        """The list page's small poster."""
        return f"/view/photo/s_ratio_poster/public/p{self.photo_id}.jpg"

    @property
    def poster_path(self) -> str:
        """The detail page's full-size poster (``#mainpic img``)."""
        return f"/view/photo/l/public/p{self.photo_id}.jpg"


def city_name(slug: str) -> str:
    """Chinese name of a city slug; an unknown slug names itself."""
    return CITY_NAMES.get(slug, slug)


def person_name(rng: random.Random) -> str:
    """A made-up person's name, Chinese or a transliterated foreign one."""
    if rng.random() < 0.6:
        given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        return rng.choice(_SURNAMES) + given
    return "·".join(rng.sample(_FOREIGN, 2))


def sentence(rng: random.Random, parts: int = 3) -> str:
    """A comment-like sentence glued from short phrases."""
    return "，".join(rng.sample(_COMMENT_PARTS, parts)) + "。"


def summary(rng: random.Random, lead: str, other: str) -> str:
    """A plot summary of four to seven sentences."""
    count = rng.randint(4, 7)
    return "".join(p.format(a=lead, b=other) for p in rng.sample(_SUMMARY_PARTS, count))


def review_title(rng: random.Random) -> str:
    """A review headline."""
    return rng.choice(_REVIEW_TITLES)


def nickname(rng: random.Random) -> str:
    """A user nickname for comments and reviews."""
    return rng.choice(_USER_NICKS) + (str(rng.randint(1, 999)) if rng.random() < 0.4 else "")


@lru_cache(maxsize=16)
def make_movies(config: DemoConfig) -> tuple[Movie, ...]:
    """The movies ``config`` describes, in list-page order (by city, then release date).

    Cached: a config is frozen, so its movies never change.
    """
    rng = random.Random(f"corocrawl-demo:{config.seed}")
    count = config.movies
    subject_ids = rng.sample(range(26_000_000, 36_000_000), count)
    photo_ids = rng.sample(range(2_400_000_000, 2_900_000_000), count)
    failing = set(rng.sample(range(count), round(config.fail_rate * count)))
    seen_names: set[str] = set()
    movies: list[Movie] = []
    for index in range(count):
        name = rng.choice(_TITLE_HEADS) + rng.choice(_TITLE_TAILS)
        base, suffixes = name, iter(_SEQUELS)
        while name in seen_names:
            suffix = next(suffixes, None)
            name = base + (suffix if suffix is not None else f"({index})")
        seen_names.add(name)
        wants = None if rng.random() < 0.05 else int(10 ** rng.uniform(1, 5.5))
        movies.append(
            Movie(
                subject_id=subject_ids[index],
                name=name,
                latin_name=" ".join(rng.sample(_LATIN, rng.randint(1, 3))),
                city=config.cities[index % len(config.cities)],
                release=config.today + timedelta(days=rng.randint(0, MAX_DAYS_AHEAD)),
                genres=tuple(rng.sample(_GENRES, rng.choice((1, 1, 2, 2, 2, 3)))),
                region=rng.choice(_REGIONS),
                wants=wants,
                trailer_id=rng.randint(200_000, 320_000) if rng.random() < 0.4 else None,
                photo_id=photo_ids[index],
                colour=(rng.randint(30, 225), rng.randint(30, 225), rng.randint(30, 225)),
                always_fails=index in failing,
            )
        )
    movies.sort(key=lambda m: (config.cities.index(m.city), m.release, m.subject_id))
    return tuple(movies)


def expected_items(config: DemoConfig) -> list[dict[str, Any]]:
    """What a correct douban spider extracts from the replica, one dict per movie.

    Keys: ``name``, ``date`` (``10月11日``), ``release_date`` (ISO), ``genre``,
    ``region``, ``wants`` (int or None), ``subject_id`` (str), ``city``, and the
    host-free paths ``url_path``, ``thumb_path``, ``poster_path``.
    ``poster_path`` is None for a movie whose detail page always fails
    (``fail_rate``), since a correct spider records no poster for it.

    >>> items = expected_items(DemoConfig(movies=3))
    >>> sorted(items[0])[:3]
    ['city', 'date', 'genre']
    """
    return [
        {
            "name": m.name,
            "date": m.date_text,
            "release_date": m.release.isoformat(),
            "genre": m.genre_text,
            "region": m.region,
            "wants": m.wants,
            "subject_id": str(m.subject_id),
            "city": m.city,
            "url_path": m.detail_path,
            "thumb_path": m.thumb_path,
            "poster_path": None if m.always_fails else m.poster_path,
        }
        for m in make_movies(config)
    ]
