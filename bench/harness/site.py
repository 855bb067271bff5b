# ruff: noqa: E501 - the page templates keep the real pages' long lines
"""A generated douban-shaped static site and the truth a crawl is checked against.

Layout (served by nginx or by ``harness.serve``'s fallback server)::

    /robots.txt                     allows everything
    /cinema/later/c0001/            list page: 20 movies in div#showing-soon > div.item
    /subject/<id>/                  detail page, 30-60 KB, poster in div#mainpic > a.nbgnbg > img

Detail pages come from a pool of at most ``POOL`` files: movie number ``k`` has the
subject id ``ID_BASE + (k // POOL) * 10_000 + k % POOL``, so the last four digits
name its pool file. A 5,000-page site has one file per movie; the 100,000-page
memory run reuses the pool and so needs 5,000 files on disk, not 100,000.
Names and poster URLs are pure functions of ``k`` and the pool index, so the
truth needs no storage: ``expected_items(first_list, n_lists)``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

POOL = 5_000
PER_LIST = 20
ID_BASE = 20_000_000
_HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"
    "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原"
    "又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革"
    "位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强"
)
_GENRES = (
    "剧情",
    "喜剧",
    "动作",
    "爱情",
    "科幻",
    "动画",
    "悬疑",
    "惊悚",
    "恐怖",
    "犯罪",
    "奇幻",
    "冒险",
)
_REGIONS = ("中国大陆", "美国", "日本", "韩国", "中国香港", "法国", "英国", "德国", "意大利")


def subject_id(k: int) -> int:
    """The douban subject id of movie number ``k`` (0-based)."""
    return ID_BASE + (k // POOL) * 10_000 + k % POOL


def pool_index(sid: int) -> int:
    """Which pool file serves subject ``sid`` (its last four digits)."""
    return sid % 10_000


def movie_name(k: int) -> str:
    """The name the list page shows for movie ``k``; unique per ``k``."""
    rng = random.Random(k * 7 + 1)
    return "".join(rng.choice(_HAN) for _ in range(rng.randint(2, 6))) + f"{k}"


def poster_url(j: int) -> str:
    """The full-size poster URL on the detail page of pool file ``j``."""
    ext = "webp" if j % 3 == 0 else "jpg"
    return f"https://img{j % 9 + 1}.doubanio.com/view/photo/s_ratio_poster/public/p{2_500_000_000 + j * 7919}.{ext}"


def list_path(page: int) -> str:
    """URL path of list page ``page`` (0-based)."""
    return f"/cinema/later/c{page:05d}/"


def detail_path(sid: int) -> str:
    """URL path of the detail page of subject ``sid``."""
    return f"/subject/{sid}/"


@dataclass(frozen=True, slots=True)
class Site:
    """A generated site on disk: ``root`` is nginx's document root."""

    root: Path
    pages: int  # detail pages (= movies)

    @property
    def n_lists(self) -> int:
        return (self.pages + PER_LIST - 1) // PER_LIST

    def list_paths(self, n_lists: int | None = None) -> list[str]:
        return [list_path(p) for p in range(self.n_lists if n_lists is None else n_lists)]

    def movies_of(self, n_lists: int) -> range:
        """Movie numbers on the first ``n_lists`` list pages."""
        return range(min(self.pages, n_lists * PER_LIST))

    def detail_file(self, sid: int) -> Path:
        return self.root / "pool" / f"{pool_index(sid):04d}.html"

    def list_file(self, page: int) -> Path:
        return self.root / "cinema" / "later" / f"c{page:05d}" / "index.html"


def expected_items(n_movies: int) -> dict[str, tuple[str, str]]:
    """subject id (as str) → (name, poster URL) for movies ``0..n_movies-1``."""
    out: dict[str, tuple[str, str]] = {}
    for k in range(n_movies):
        sid = subject_id(k)
        out[str(sid)] = (movie_name(k), poster_url(pool_index(sid)))
    return out


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice(_HAN) for _ in range(rng.randint(lo, hi)))


_HEAD = """<!DOCTYPE html>
<html lang="zh-CN" class="ua-mac ua-webkit">
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8">
    <meta name="renderer" content="webkit">
    <meta name="referrer" content="always">
    <title>
        {title}
</title>
    <meta http-equiv="Pragma" content="no-cache">
    <link href="https://img1.doubanio.com/f/vendors/e92483e5e4c9c60cc75cbd8b700a2fd5b5fdf7b0/css/douban.css" rel="stylesheet" type="text/css">
    <link href="https://img1.doubanio.com/f/vendors/ee6598d46af0bc554cecec9bcbf525b9b0582cb0/css/separation/_all.css" rel="stylesheet" type="text/css">
    <script type="text/javascript">var _head_start = new Date();</script>
    <script type="text/javascript" src="https://img1.doubanio.com/f/vendors/0511abe9863c2ea7084efa7e24d1d86c5b3974f1/js/jquery-1.10.2.min.js"></script>
    <script type="text/javascript" src="https://img1.doubanio.com/f/vendors/e057439e70105417dffc6fab571688d52efeab23/js/douban.js"></script>
    <meta name="keywords" content="{title},影评,剧情介绍,图片,论坛">
    <script type="text/javascript">
    var _vds = _vds || [];
    (function(){{ _vds.push(['setAccountId', '22c937bbd8ebd703f2d8e9445f7dfd03']);
      _vds.push(['setCS1','user_id','0']);
      (function() {{ var vds = document.createElement('script'); vds.type='text/javascript'; vds.async = true;
        vds.src = ('https:' == document.location.protocol ? 'https://' : 'http://') + 'dn-growing.qbox.me/vds.js';
        var s = document.getElementsByTagName('script')[0]; s.parentNode.insertBefore(vds, s); }})();
    }})();
    </script>
    <style type="text/css">
    .nav-srh .inp input {{ width: 350px; }} #db-nav-movie .nav-items {{ clear: both; }}
    #content h1 {{ font-size: 26px; }} .subject .pl {{ color: #666; }} #mainpic img {{ max-width: 135px; }}
    </style>
</head>
<body>
<div id="db-global-nav" class="global-nav">
  <div class="bd">
    <div class="top-nav-info"><a href="https://accounts.douban.com/passport/login" class="nav-login" rel="nofollow">登录/注册</a></div>
    <div class="global-nav-items"><ul>
      <li class=""><a href="https://www.douban.com" target="_blank">豆瓣</a></li>
      <li class=""><a href="https://book.douban.com" target="_blank">读书</a></li>
      <li class="on"><a href="https://movie.douban.com">电影</a></li>
      <li class=""><a href="https://music.douban.com" target="_blank">音乐</a></li>
      <li class=""><a href="https://www.douban.com/location" target="_blank">同城</a></li>
      <li class=""><a href="https://www.douban.com/group" target="_blank">小组</a></li>
      <li class=""><a href="https://read.douban.com" target="_blank">阅读</a></li>
    </ul></div>
  </div>
</div>
<div id="db-nav-movie" class="nav">
  <div class="nav-wrap"><div class="nav-primary">
    <div class="nav-logo"><a href="https://movie.douban.com">豆瓣电影</a></div>
    <div class="nav-search"><form action="https://search.douban.com/movie/subject_search" method="get">
      <fieldset><legend>搜索：</legend><label for="inp-query">搜索电影、电视剧、综艺、影人</label>
      <div class="inp"><input id="inp-query" name="search_text" size="22" maxlength="60" value=""></div>
      <div class="inp-btn"><input type="submit" value="搜索"></div></fieldset></form></div>
  </div></div>
  <div class="nav-secondary"><div class="nav-items"><ul>
    <li><a href="https://movie.douban.com/cinema/nowplaying/">影讯&amp;购票</a></li>
    <li><a href="https://movie.douban.com/explore">选电影</a></li>
    <li><a href="https://movie.douban.com/tv/">电视剧</a></li>
    <li><a href="https://movie.douban.com/chart">排行榜</a></li>
    <li><a href="https://movie.douban.com/review/best/">影评</a></li>
  </ul></div></div>
</div>
"""

_FOOT = """
<div id="footer">
<span id="icp" class="fleft gray-link">&copy; 2005－2024 douban.com, all rights reserved 北京豆网科技有限公司</span>
<a href="https://www.douban.com/hnypt/variformcyst.py" style="display: none;"></a>
<span class="fright"><a href="https://www.douban.com/about">关于豆瓣</a> · <a href="https://www.douban.com/jobs">在豆瓣工作</a> · <a href="https://www.douban.com/about?topic=contactus">联系我们</a></span>
</div>
<script type="text/javascript">
    (function (i,s,o,g,r,a,m) {{ i['GoogleAnalyticsObject']=r;i[r]=i[r]||function(){{
    (i[r].q=i[r].q||[]).push(arguments)}},i[r].l=1*new Date();a=s.createElement(o),
    m=s.getElementsByTagName(o)[0];a.async=1;a.src=g;m.parentNode.insertBefore(a,m)
    }})(window,document,'script','//www.google-analytics.com/analytics.js','ga');
    ga('create', 'UA-7019765-1', 'douban.com');
    ga('send', 'pageview');
</script>
</body>
</html>
"""


def render_detail(j: int) -> str:
    """Pool file ``j``: a detail page with the real douban poster markup and 30-60 KB of filler."""
    rng = random.Random(1_000_003 + j)
    sid = ID_BASE + j
    title = _text(rng, 2, 6)
    target = rng.randint(30_000, 60_000)
    genres = " / ".join(f'<span property="v:genre">{g}</span>' for g in rng.sample(_GENRES, 2))
    parts = [_HEAD.format(title=f"{title} (豆瓣)")]
    # The real page holds a jQuery template with an <img src="{{= img}}"> before the
    # poster: a scraper that takes "the first img" gets it wrong.
    parts.append(
        '<script type="text/x-jquery-tmpl" id="comment-tmpl">\n'
        '  <div class="dialog-comment"><img src="{{= img}}" alt="{{= name}}"/></div>\n</script>\n'
    )
    parts.append(
        f"""<div id="wrapper">
<div id="content">
    <h1>
        <span property="v:itemreviewed">{title}</span>
        <span class="year">({2020 + j % 6})</span>
    </h1>
    <div class="grid-16-8 clearfix">
    <div class="article">
    <div class="indent clearfix">
    <div class="subjectwrap clearfix">
    <div class="subject clearfix">
<div id="mainpic" class="">
    <a class="nbgnbg" href="https://movie.douban.com/subject/{sid}/photos?type=R" title="点击看更多海报">
        <img src="{poster_url(j)}" title="点击看更多海报" alt="{title}" rel="v:image" />
   </a>
</div>
<div id="info">
        <span ><span class='pl'>导演</span>: <span class='attrs'><a href="/celebrity/{1_000_000 + j}/" rel="v:directedBy">{_text(rng, 2, 4)}</a></span></span><br/>
        <span ><span class='pl'>编剧</span>: <span class='attrs'><a href="/celebrity/{1_100_000 + j}/">{_text(rng, 2, 4)}</a></span></span><br/>
        <span class="actor"><span class='pl'>主演</span>: <span class='attrs'>"""
    )
    parts.append(
        " / ".join(
            f'<a href="/celebrity/{1_200_000 + j * 10 + a}/" rel="v:starring">{_text(rng, 2, 4)}</a>'
            for a in range(8)
        )
    )
    parts.append(
        f"""</span></span><br/>
        <span class="pl">类型:</span> {genres}<br/>
        <span class="pl">制片国家/地区:</span> {rng.choice(_REGIONS)}<br/>
        <span class="pl">语言:</span> 汉语普通话<br/>
        <span class="pl">上映日期:</span> <span property="v:initialReleaseDate" content="2025-{j % 12 + 1:02d}-{j % 28 + 1:02d}">2025-{j % 12 + 1:02d}-{j % 28 + 1:02d}</span><br/>
        <span class="pl">片长:</span> <span property="v:runtime" content="{90 + j % 60}">{90 + j % 60}分钟</span><br/>
</div>
    </div>
<div id="interest_sectl"><div class="rating_wrap clearbox" rel="v:rating">
    <div class="rating_self clearfix" typeof="v:Rating">
        <strong class="ll rating_num" property="v:average">{rng.randint(40, 95) / 10}</strong>
        <div class="rating_sum"><a href="comments" class="rating_people"><span property="v:votes">{rng.randint(100, 900000)}</span>人评价</a></div>
    </div>
</div></div>
    </div>
    </div>
<div class="related-info">
    <h2><i class="">{title}的剧情简介</i> · · · · · · </h2>
    <div class="indent" id="link-report-intra">
        <span property="v:summary" class="">
            {_text(rng, 200, 400)}<br />
            {_text(rng, 100, 300)}
        </span>
    </div>
</div>
<div id="recommendations"><h2><i class="">喜欢这部电影的人也喜欢</i> · · · · · · </h2><div class="recommendations-bd">
"""
    )
    for r in range(10):
        rid = ID_BASE + (j + r + 1) % POOL
        parts.append(
            f'<dl class=""><dt><a href="https://movie.douban.com/subject/{rid}/?from=subject-page">'
            f'<img src="https://img{r % 9 + 1}.doubanio.com/view/photo/s_ratio_poster/public/p{rid}.jpg" '
            f'alt="{_text(rng, 2, 5)}" class="" /></a></dt><dd><a href="https://movie.douban.com/subject/{rid}/">'
            f"{_text(rng, 2, 6)}</a></dd></dl>\n"
        )
    parts.append(
        '</div></div>\n<div id="comments-section"><div class="mod-hd"><h2><i>短评</i></h2></div><div class="mod-bd" id="hot-comments">\n'
    )
    size = sum(len(p.encode()) for p in parts) + 1_000
    c = 0
    while size < target:
        chunk = (
            f'<div class="comment-item" data-cid="{3_000_000_000 + j * 1000 + c}">\n'
            f'  <div class="avatar"><a title="{_text(rng, 2, 5)}" href="https://www.douban.com/people/u{j}_{c}/">'
            f'<img src="https://img{c % 9 + 1}.doubanio.com/icon/u{j}{c}-1.jpg" class="" /></a></div>\n'
            f'  <div class="comment"><h3><span class="comment-vote"><span class="votes vote-count">{rng.randint(0, 5000)}</span>'
            f'<a href="javascript:;" class="j a_show_login" onclick="">有用</a></span>\n'
            f'  <span class="comment-info"><a href="https://www.douban.com/people/u{j}_{c}/" class="">{_text(rng, 2, 6)}</a>'
            f'<span class="allstar{rng.randint(1, 5)}0 rating" title="推荐"></span>'
            f'<span class="comment-time" title="2025-01-{c % 28 + 1:02d} 12:00:00">2025-01-{c % 28 + 1:02d}</span></span></h3>\n'
            f'  <p class="comment-content"><span class="short">{_text(rng, 30, 140)}</span></p></div>\n</div>\n'
        )
        parts.append(chunk)
        size += len(chunk.encode())
        c += 1
    parts.append("</div></div>\n</div></div></div></div>\n")
    parts.append(_FOOT.format())
    return "".join(parts)


def render_list(page: int, n_movies: int) -> str:
    """List page ``page``: up to 20 movies, the real douban list markup, ~25 KB."""
    rng = random.Random(2_000_003 + page)
    city = f"c{page:05d}"
    parts = [
        _HEAD.format(title=f"{city}影讯"),
        '<div id="wrapper"><div id="content">\n<h1>即将上映</h1>\n',
    ]
    parts.append('<div class="article">\n        <div id="showing-soon" class="tab-bd">\n')
    for n, k in enumerate(range(page * PER_LIST, min(n_movies, (page + 1) * PER_LIST))):
        sid = subject_id(k)
        odd = "odd" if n % 2 else ""
        trailer = (
            f'\n                                <a href="https://movie.douban.com/trailer/{sid}/#content" class="trailer_icon" >预告片</a>'
            if k % 4 == 0
            else ""
        )
        parts.append(
            f"""
                <div class="item mod {odd}">
                    <a class="thumb" href="/subject/{sid}/">
                        <img src="https://img{k % 9 + 1}.doubanio.com/view/photo/s_ratio_poster/public/p{sid}.jpg" class="" />
                    </a>
                    <div class="intro">
                        <h3>
                            <a href="/subject/{sid}/" class="">{movie_name(k)}</a>
                            <span class="icon"></span>
                        </h3>
                        <ul>
                                <li class="dt">{k % 12 + 1}月{k % 28 + 1}日</li>
                                <li class="dt">{" / ".join(rng.sample(_GENRES, 2))}</li>
                                <li class="dt">{rng.choice(_REGIONS)}</li>
                                <li class="dt last"><span class="">{rng.randint(10, 200_000)}人想看</span></li>{trailer}
                        </ul>
                    </div>
                </div>
"""
        )
    parts.append("        </div>\n</div>\n")
    parts.append(
        f'<div class="aside"><div class="mod"><p class="pl">{_text(rng, 800, 1500)}</p></div></div>\n'
    )
    parts.append("</div></div>\n")
    parts.append(_FOOT.format())
    return "".join(parts)


def generate(root: Path, pages: int) -> Site:
    """Write a site of ``pages`` detail pages (and their list pages) under ``root``."""
    site = Site(root=root, pages=pages)
    (root / "pool").mkdir(parents=True, exist_ok=True)
    for j in range(min(pages, POOL)):
        (root / "pool" / f"{j:04d}.html").write_text(render_detail(j), encoding="utf-8")
    for page in range(site.n_lists):
        f = site.list_file(page)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(render_list(page, pages), encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    return site
