import pytest

from bot.errors import HTTPStatusError, RateLimited, TooLarge, TransportError
from tests.fakes.http import FakeHTTPServer, Fault


async def test_smoke(http):
    async with FakeHTTPServer() as s:
        s.json("/a", {"x": 1}, headers={"ETag": '"v1"'})
        v = {}
        r = await http.get(s.url + "/a", validators=v)
        assert r.json() == {"x": 1} and not r.not_modified
        r = await http.get(s.url + "/a", validators=v)
        assert r.not_modified  # hash
        s.fail("/a", Fault.retry_after(429, "7"))
        with pytest.raises(RateLimited) as e:
            await http.get(s.url + "/a")
        assert e.value.retry_after == 7
        s.fail("/a", Fault.gzip_bomb(50_000_000))
        with pytest.raises(TooLarge):
            await http.get(s.url + "/a")
        s.fail("/a", Fault.oversized(5_000_000))
        with pytest.raises(TooLarge):
            await http.get(s.url + "/a")
        s.fail("/a", Fault.reset(), Fault.reset())
        with pytest.raises(TransportError):
            await http.get(s.url + "/a")
        s.fail("/a", Fault.drip(0.5))
        with pytest.raises(TransportError):
            await http.get(s.url + "/a")
        with pytest.raises(HTTPStatusError):
            await http.get(s.url + "/nope")
