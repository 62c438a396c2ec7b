"""The router's grouping of any-company subscriptions (by AI flag and pay floor) routes
exactly what testing every subscription would: each channel once, with its
lowest-numbered matching subscription."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import build_router
from bot.models import AIMatch, Posting, PostingEvent, Salary, StoredPosting, Subscription
from handlers.filters import compile_filter

_AT = datetime(2026, 11, 1, tzinfo=UTC)
_FLOORS = st.sampled_from([None, 0.0, -5.0, 100_000.0, 150_000.0, 300_000.0, 450_000.0])

_subscription = st.builds(
    lambda i, channel, kind, companies, floor, ai_only, remote, keywords: Subscription(
        id=i,
        channel=f"discord:{channel}",
        kind=kind,
        companies=companies,
        min_salary_usd=floor,
        ai_only=ai_only,
        remote=remote,
        keywords=keywords,
    ),
    st.just(0),
    st.integers(0, 6),
    st.sampled_from(["jobs", "all", "news"]),
    st.sampled_from([(), (), ("Acme",), ("Other", "acme")]),
    _FLOORS,
    st.booleans(),
    st.sampled_from([None, None, True, False]),
    st.sampled_from([(), (), ("engineer",), ("llm",)]),
)


def _posting(is_ai: bool | None, top: float | None, remote: bool | None, title: str) -> Posting:
    salary = None if top is None else Salary(None, top, "USD", annual_usd_max=top)
    ai = None if is_ai is None else AIMatch(is_ai, 0.9 if is_ai else 0.1)
    return Posting("s", "1", "Acme", title, "https://x", remote=remote, salary=salary, ai=ai)


_TOP_VALUES = [None, 99_999.0, 100_000.0, 150_000.0, 449_999.0, 1e9, float("nan")]


@given(st.lists(_subscription, max_size=25))
@settings(max_examples=300)
def test_grouped_routing_is_testing_every_subscription(subs) -> None:
    subs = [
        Subscription(**{**{f: getattr(s, f) for f in s.__slots__}, "id": n + 1})
        for n, s in enumerate(subs)
    ]
    router = build_router(subs)
    for is_ai in (None, True, False):
        for top in _TOP_VALUES:
            for remote in (None, True, False):
                for title in ("ML Engineer", "LLM researcher", "Accountant"):
                    posting = _posting(is_ai, top, remote, title)
                    event = PostingEvent("new", StoredPosting(7, posting, _AT, _AT, "open"))
                    routed = {e.channel: e.subscription_id for e in router([event])}
                    expected: dict[str, int] = {}
                    for sub in sorted(subs, key=lambda s: s.id):
                        if sub.channel not in expected and compile_filter(sub).posting(posting):
                            expected[sub.channel] = sub.id
                    assert routed == expected, (is_ai, top, remote, title)
