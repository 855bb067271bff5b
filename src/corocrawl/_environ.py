"""HTTP_PROXY / HTTPS_PROXY / NO_PROXY and ``~/.netrc``, read once per crawl.

aiohttp's ``trust_env=True`` reads them again for every request, each time in
the default thread pool: ``~/.netrc`` parsed (or looked for) twice and the
proxy variables once, two thread round trips a page. On a loopback crawl that
was ~5% of the CPU and a thread hand-off per page. The environment does not
change during a crawl, so the fetcher reads it once (``EnvAuth``) and keeps
each host's answer; aiohttp's session then runs with ``trust_env=False``.

The answers are aiohttp's: its own helpers read the variables and the file.

>>> env = EnvAuth()
>>> proxy, proxy_authorization, authorization = env.lookup(URL("http://example.com/"))
"""

from __future__ import annotations

import netrc
from urllib.request import proxy_bypass

from aiohttp.helpers import basicauth_from_netrc, netrc_from_env, proxies_from_env
from yarl import URL

#: What a request to one origin gets from the environment: the proxy, and the values of
#: its Proxy-Authorization and of the Authorization header (aiohttp deprecates its
#: ``auth``/``proxy_auth`` parameters in favour of these headers).
EnvAnswer = tuple[URL | None, str | None, str | None]


class EnvAuth:
    """The environment's proxy and ``.netrc`` credentials, read once, answered per origin."""

    def __init__(self) -> None:
        self._netrc: netrc.netrc | None = netrc_from_env()
        self._proxies = proxies_from_env()
        self._answers: dict[tuple[str, str], EnvAnswer] = {}

    def lookup(self, url: URL) -> EnvAnswer:
        """``(proxy, Proxy-Authorization, Authorization)`` for ``url``, as aiohttp finds them."""
        host = url.host or ""
        key = (url.scheme, host)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._find(url.scheme, host)
        return answer

    def _find(self, scheme: str, host: str) -> EnvAnswer:
        auth: str | None = None
        if host and self._netrc is not None:
            try:
                auth = basicauth_from_netrc(self._netrc, host).encode()
            except LookupError:
                auth = None
        info = self._proxies.get(scheme)
        if info is None or (host and proxy_bypass(host)):
            return None, None, auth
        proxy_auth = info.proxy_auth.encode() if info.proxy_auth is not None else None
        return info.proxy, proxy_auth, auth
