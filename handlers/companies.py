"""Loose company names: "netflix", "Netflix", "NFLX" and "Hugging-Face" find the same board."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.errors import CommandError
from handlers.args import COMPANY_SUFFIXES, fold, shorten

if TYPE_CHECKING:
    from storage import Store

__all__ = ["company_key", "complete_company", "resolve_companies"]

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SUFFIXES = re.compile(rf"[\s,]+({'|'.join(COMPANY_SUFFIXES)})\.?\s*$")


# Resolution and autocomplete key every stored name on each call: the names repeat.
@functools.lru_cache(maxsize=1 << 14)
def company_key(name: str) -> str:
    """The comparison key of a company name: lower case letters and digits only."""
    folded = fold(name).strip()
    return _NOT_ALNUM.sub("", _SUFFIXES.sub("", folded)) or _NOT_ALNUM.sub("", folded)


def _alias_keys(aliases: Mapping[str, str]) -> dict[str, str]:
    return {company_key(k): v for k, v in aliases.items() if company_key(k)}


def resolve_alias(name: str, aliases: Mapping[str, str]) -> str:
    """``"NFLX"`` -> ``"netflix"`` when an alias says so; else the name as given."""
    return _alias_keys(aliases).get(company_key(name), name)


async def resolve_companies(
    store: Store,
    text: str,
    aliases: Mapping[str, str],
    *,
    strict: bool = True,
    inside: bool = True,
) -> tuple[str, ...]:
    """The stored company names ``text`` means: alias, then exact key, then a unique
    prefix, then (with ``inside``) a unique substring. Raises CommandError naming
    candidates when ambiguous, and when nothing matches (unless ``strict`` is false and
    the database knows no company yet)."""
    wanted = resolve_alias(text.strip(), aliases)
    key = company_key(wanted)
    if not key:
        raise CommandError(f"“{shorten(text)}” is not a company name.")
    # Every company: a loose match needs them all, and a cap in key order (there was one
    # at 1,000) hides the companies that sort last. The list is kept a while
    # (Store.company_names): an exact name is taken from it, but a loose match or none
    # is made on the list as it is now, since a company stored since (by another
    # instance) may match better ("netflix" is Netflix, not Netflix Games).
    known = await store.company_names()
    by_key = _by_key(known)
    if key not in by_key:
        known = await store.company_names(fresh=True)
        by_key = _by_key(known)
    found = _match(text, key, by_key, inside=inside)
    if found is not None:
        return found
    if not known and not strict:
        return (wanted.strip().lower(),)
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.7)
    if close:
        hint = " Did you mean " + " or ".join(by_key[k][0] for k in close) + "?"
    elif known:
        sample = sorted({names[0] for names in by_key.values()}, key=str.lower)
        hint = " Known companies: " + ", ".join(sample[:12]) + (", …" if len(sample) > 12 else "")
    else:
        hint = " No postings are stored yet: run a poll first."
    raise CommandError(f"No company called “{shorten(text)}” in the listings.{hint}")


def _by_key(known: Sequence[str]) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = {}
    for name in known:
        by_key.setdefault(company_key(name), []).append(name)
    return by_key


def _match(
    text: str, key: str, by_key: Mapping[str, list[str]], *, inside: bool = True
) -> tuple[str, ...] | None:
    """The names of the company ``key`` means (exact, else a unique prefix, else with
    ``inside`` a unique substring), ``None`` when none is like it; CommandError when
    several are."""
    if key in by_key:
        return tuple(by_key[key])
    tests = [lambda k: k.startswith(key)]
    if inside:
        tests.append(lambda k: key in k)
    for test in tests:
        hits = [k for k in by_key if test(k)]
        if len(hits) == 1:
            return tuple(by_key[hits[0]])
        if len(hits) > 1:
            names = sorted(by_key[k][0] for k in hits)
            shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
            raise CommandError(f"“{shorten(text)}” matches several companies: {shown}. Which one?")
    return None


async def complete_company(
    store: Store, prefix: str, *, aliases: Mapping[str, str] | None = None, limit: int = 25
) -> list[str]:
    """Company names for autocomplete: stored names that start with (or contain) what
    was typed, and alias targets whose alias starts with it. At most ``limit`` (Discord
    shows 25)."""
    prefix = (prefix or "")[:100]
    key = company_key(prefix)
    if prefix.strip() and not key:
        return []  # only punctuation: nothing is "like" it
    known = await store.company_names()  # kept a while: see Store.company_names
    starts: list[str] = []
    contains: list[str] = []
    seen: set[str] = set()
    for name in sorted(known, key=str.lower):
        name_key = company_key(name)
        if name_key in seen:
            continue
        if name_key.startswith(key):
            starts.append(name)
            seen.add(name_key)
        elif key and key in name_key:
            contains.append(name)
            seen.add(name_key)
    by_key = {company_key(n): n for n in known}
    for alias, target in _alias_keys(aliases or {}).items():
        target_key = company_key(target)
        if key and alias.startswith(key) and target_key in by_key and target_key not in seen:
            starts.append(by_key[target_key])
            seen.add(target_key)
    return (starts + contains)[:limit]
