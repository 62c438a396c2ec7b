"""Hostile input for the property tests (issue 7, promise 4): strings that try to ping,
to break markup or layout, or to confuse a parser, and mutations of real documents.

A :class:`Mutation` plan is drawn by hypothesis and applied to every JSON document a
fake server answers (:class:`MutatingServer`), so one plan reaches listings and
details of every board kind alike. The other ``test_properties_*`` modules import these;
the tests here pin the mutator itself.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.http import FakeHTTPServer

__all__ = [
    "HOSTILE",
    "MutatingServer",
    "Mutation",
    "apply",
    "hostile_text",
    "json_values",
    "mutations",
]

HOSTILE = (
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&987654321098765432>",
    "<#1180000000000000200>",
    "<!channel>",
    "<!here|here>",
    "<!subteam^S0123>",
    "<@U024BE7LH>",
    "**bold** __under__ ~~strike~~ ||spoiler||",
    "`code` ```block```",
    "> quote\n# Heading\n- list",
    "[click](https://evil.example/phish)",
    "<https://evil.example|Netflix careers>",
    "&amp; &lt;b&gt; & < > \" '",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "\u202eevil\u202c",
    "zero\u200bwidth\u2060join",
    "nul\x00byte\x07bell\x1b[31m",
    "line\r\nbreak\n\n\n\n\nmany",
    "🎬🤖💰" * 40,
    "𝕸𝖆𝖈𝖍𝖎𝖓𝖊 𝕷𝖊𝖆𝖗𝖓𝖎𝖓𝖌",
    "Z̴̡͓̈́a̸͍̔l̶̰̾g̵̟͊o̷͇͒",
    "x" * 5000,
    "$300,000 - $900,000 $2B ARR",
    "\ud7ff\ue000\uffff",
    "lone \ud800 surrogates \udfff",  # JSON escapes no UTF-8 codec can encode
)


def hostile_text() -> st.SearchStrategy[str]:
    """A hostile snippet, random text, or both run together."""
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=60),
        st.builds(lambda a, b: a + " " + b, st.sampled_from(HOSTILE), st.text(max_size=30)),
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value a broken or hostile server might put where another was expected."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
        ),
        max_leaves=6,
    )


@dataclass(frozen=True)
class Mutation:
    """One change to a document: ``op`` at the path ``where`` (0..1) picks."""

    op: str
    where: float
    value: Any = None

    def __repr__(self) -> str:
        return f"Mutation({self.op!r}, {self.where:.3f}, {self.value!r:.60})"


def mutations() -> st.SearchStrategy[list[Mutation]]:
    """A plan of one to five changes, cut short now and then (a truncated body)."""
    where = st.floats(min_value=0, max_value=1, exclude_max=True)
    one = st.one_of(
        st.builds(Mutation, st.just("replace"), where, json_values()),
        st.builds(Mutation, st.just("append"), where, hostile_text()),
        st.builds(Mutation, st.sampled_from(["delete", "duplicate", "wrap", "stringify"]), where),
    )
    cut = st.one_of(
        st.just([]), st.just([]), st.just([]), st.builds(lambda w: [Mutation("truncate", w)], where)
    )
    return st.builds(lambda ops, end: ops + end, st.lists(one, min_size=1, max_size=5), cut)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _get(doc: Any, path: Sequence[Any]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: Sequence[Any], value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def apply(plan: Sequence[Mutation], body: bytes) -> bytes:
    """``body`` (JSON) after the plan; a body that is not JSON gets the byte-level ones."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    for m in plan:
        if m.op == "truncate":
            raw = json.dumps(doc).encode() if doc is not None else body
            return raw[: int(len(raw) * m.where)]
        if doc is None:
            continue
        paths = _paths(doc)
        path = paths[min(len(paths) - 1, int(m.where * len(paths)))]
        current = _get(doc, path)
        if m.op == "replace":
            doc = _set(doc, path, copy.deepcopy(m.value))
        elif m.op == "append" and isinstance(current, str):
            doc = _set(doc, path, current + " " + m.value)
        elif m.op == "append":
            doc = _set(doc, path, m.value)
        elif m.op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif m.op == "duplicate" and path and isinstance(_get(doc, path[:-1]), list):
            _get(doc, path[:-1]).insert(path[-1], copy.deepcopy(current))
        elif m.op == "wrap":
            doc = _set(doc, path, [current])
        elif m.op == "stringify":
            doc = _set(doc, path, _stringify(current))
    return json.dumps(doc).encode()


def _stringify(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value) if not isinstance(value, str) else value


class MutatingServer(FakeHTTPServer):
    """A :class:`FakeHTTPServer` whose JSON answers go through ``plan`` while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.plan: Sequence[Mutation] | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        response = await super()._dispatch(request)
        if (
            self.plan
            and isinstance(response, web.Response)
            and response.status == 200
            and isinstance(response.body, bytes | bytearray)
        ):
            body = apply(self.plan, bytes(response.body))
            return web.Response(
                body=body, status=200, content_type=response.content_type or "application/json"
            )
        return response


# -- the mutator's own properties -------------------------------------------------------

_DOC = {"jobs": [{"id": 1, "title": "ML Engineer", "pay": {"min": 1, "max": 2}}], "total": 1}


@given(mutations())
def test_a_plan_yields_bytes_and_leaves_the_original_alone(plan):
    original = json.dumps(_DOC).encode()
    out = apply(plan, original)
    assert isinstance(out, bytes)
    assert json.loads(original) == _DOC
    if not any(m.op == "truncate" for m in plan):
        json.loads(out)  # whole documents stay JSON (NaN and Infinity as Python writes them)


def test_each_operation_changes_the_document():
    body = json.dumps(_DOC).encode()
    assert json.loads(apply([Mutation("delete", 0.99)], body)) != _DOC
    assert json.loads(apply([Mutation("replace", 0.5, None)], body)) != _DOC
    assert json.loads(apply([Mutation("append", 0.5, "@everyone")], body)) != _DOC
    assert len(apply([Mutation("truncate", 0.5)], body)) == len(body) // 2
