"""The polite client (bot/http.py): a body hashed as it arrives, in pieces, and joined
only when read; what the client did before stays. Against a real local server."""

from __future__ import annotations

import gzip
import json

import pytest
import xxhash
from aiohttp import web

from bot.errors import TransportError
from bot.http import Response
from tests.fakes.http import FakeHTTPServer


async def test_a_large_body_is_hashed_as_it_arrives_and_read_whole(http):
    # 1.5 MB of JSON arrives in several chunks; the digest is the whole body's
    body = json.dumps({"jobs": [{"id": i, "text": "x" * 200} for i in range(7000)]}).encode()
    async with FakeHTTPServer() as server:
        server.body("/jobs", body, content_type="application/json")
        validators: dict = {}
        first = await http.get(server.url + "/jobs", validators=validators)
        second = await http.get(server.url + "/jobs", validators=validators)
    assert validators[server.url + "/jobs"].digest == xxhash.xxh3_128_hexdigest(body)
    assert not first.not_modified and second.not_modified
    assert first.content == body and second.content == body
    assert first.json()["jobs"][6999]["id"] == 6999


async def test_a_gzip_body_is_decoded_and_hashed_decoded(http):
    body = b'{"jobs": []}' * 1000
    async with FakeHTTPServer() as server:
        server.body("/z", gzip.compress(body), headers={"Content-Encoding": "gzip"})
        validators: dict = {}
        resp = await http.get(server.url + "/z", validators=validators)
        sent = server.requests_to("/z")[0].headers
    assert resp.content == body
    assert validators[server.url + "/z"].digest == xxhash.xxh3_128_hexdigest(body)
    assert "gzip" in sent["Accept-Encoding"]
    assert sent["User-Agent"].startswith("Marquee/")


async def test_an_undecodable_body_is_a_transport_error(http):
    async with FakeHTTPServer() as server:
        server.body("/bad", b"not gzip at all" * 100, headers={"Content-Encoding": "gzip"})
        with pytest.raises(TransportError) as caught:
            await http.get(server.url + "/bad?key=secret")
    assert "undecodable body" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert f"{server.url}/bad" in str(caught.value)


async def test_redirects_are_followed_and_cookies_sent_back(http):
    async def login(request: web.Request) -> web.StreamResponse:
        resp = web.Response(status=302, headers={"Location": "/jobs"})
        resp.set_cookie("session", "s1")
        return resp

    async with FakeHTTPServer() as server:
        server.route("GET", "/login", login)
        server.json("/jobs", {"jobs": [1]})
        resp = await http.get(server.url + "/login")
        again = await http.get(server.url + "/jobs")
        cookies = [r.headers.get("Cookie") for r in server.requests_to("/jobs")]
    assert resp.json() == {"jobs": [1]} and resp.url == server.url + "/login"
    assert again.json() == {"jobs": [1]}
    assert cookies == ["session=s1", "session=s1"]


async def test_repeated_headers_read_as_one(http):
    async def twice(request: web.Request) -> web.StreamResponse:
        resp = web.Response(body=b"{}", content_type="application/json")
        resp.headers.add("Link", "<a>; rel=next")
        resp.headers.add("Link", "<b>; rel=last")
        return resp

    async with FakeHTTPServer() as server:
        server.route("GET", "/links", twice)
        resp = await http.get(server.url + "/links")
    assert resp.headers["link"] == "<a>; rel=next, <b>; rel=last"


async def test_params_key_the_validators_by_the_url_asked(http):
    async with FakeHTTPServer() as server:
        server.json("/postings", {"content": []})
        validators: dict = {}
        for _ in range(2):  # the second time from the parsed-URL cache
            resp = await http.get(
                server.url + "/postings?old=1",
                params={"limit": 100, "q": "a b/é"},
                validators=validators,
            )
        asked = server.requests_to("/postings")
    url = server.url + "/postings?limit=100&q=a+b%2F%C3%A9"
    assert list(validators) == [url] and resp.url == url and resp.not_modified
    assert [r.query for r in asked] == [{"limit": "100", "q": "a b/é"}] * 2


def test_a_response_joins_its_chunks_once():
    resp = Response("https://x.example/", 200, {}, [b'{"a": ', b"1}"])
    assert resp.content == b'{"a": 1}'
    assert resp.content is resp.content
    assert resp.json() == {"a": 1}
    assert Response("https://x.example/", 304, {}).content == b""
