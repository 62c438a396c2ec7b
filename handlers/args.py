"""Reading what users type: Slack-style command text, option values and their units.

Every function here raises :class:`bot.errors.CommandError` with a message meant for the
person who typed the command: it names the option, what was expected and what came in.
Input is hostile (STYLE.md, habit 10): lengths are capped and echoes are shortened.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.errors import CommandError
from handlers.spec import CommandSpec, Option

__all__ = [
    "clean_text",
    "coerce_args",
    "fold",
    "format_days",
    "parse_days",
    "parse_salary",
    "parse_text_args",
    "parse_time",
    "parse_tz",
    "quote_arg",
    "shorten",
    "usage",
]

MAX_TEXT = 2000  # Slack sends at most a few thousand characters of command text
MAX_REPEAT = 20  # values of one repeated option

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Quotes Slack and phones substitute for the ASCII ones.
_OPEN_CLOSE = {'"': '"', "'": "'", "“": "”", "”": "”", "„": "“", "‘": "’", "’": "’", "«": "»"}
_KEYED = re.compile(r"([A-Za-z_][A-Za-z0-9_-]{0,40})[:=](.*)", re.S)


def shorten(text: str, limit: int = 40) -> str:
    """Echo user input back safely: no control characters, at most ``limit`` characters."""
    text = _CONTROL.sub("", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_text(text: str) -> str:
    """Drop control and bidi characters and surrounding whitespace."""
    return _CONTROL.sub("", text).strip()


# ---------------------------------------------------------------------------- salary

_SALARY = re.compile(
    r"""^(?:usd|us\$|\$)?            # currency before: $, US$, USD
        (\d{1,3}(?:,\d{3})+|\d+)?    # whole part, with or without thousands commas
        (?:\.(\d+))?                 # decimals
        (k|m|mm|thousand|million)?   # unit
        (?:usd|\$)?                  # currency after
        (?:/y(?:ea)?r|peryear|ayear|annual(?:ly)?|/annum|pa)?$""",
    re.X,
)
_UNITS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6}
_SALARY_HELP = "an annual amount in US dollars, like 300k, $300,000 or 0.3m"


def parse_salary(value: object, *, option: str = "min_salary") -> float | None:
    """``"300k"``, ``"$300,000"``, ``"0.3m"``, ``300000`` -> 300000.0 (annual USD);
    ``0`` -> ``None`` (no minimum)."""
    if isinstance(value, bool):
        raise CommandError(f"`{option}` should be {_SALARY_HELP}.")
    if isinstance(value, int | float):
        amount = float(value)
        raw = str(value)
        unit = None
    else:
        raw = shorten(str(value))
        text = str(value).strip().lower().replace(" ", "").replace("\u00a0", "").rstrip("+")
        # European thousands dots ("300.000") when no unit follows and the groups fit.
        if re.fullmatch(r"\$?\d{1,3}(?:\.\d{3})+\$?", text):
            text = text.replace(".", "")
        match = _SALARY.match(text) if len(text) <= 40 else None
        if not match or not (match.group(1) or match.group(2)):
            raise CommandError(f"`{option}` should be {_SALARY_HELP} (got “{raw}”).")
        whole, decimals, unit = match.group(1), match.group(2), match.group(3)
        amount = float(f"{(whole or '0').replace(',', '')}.{decimals or '0'}")
        amount *= _UNITS.get(unit or "", 1.0)
    if not math.isfinite(amount) or amount < 0:
        raise CommandError(f"`{option}` should be {_SALARY_HELP} (got “{raw}”).")
    if amount == 0:
        return None
    if amount < 1000 and unit is None:
        # "300" is far more likely "300k" than three hundred dollars a year.
        raise CommandError(
            f"`{option}` is an annual amount in US dollars: did you mean {raw}k? "
            f"Write it like 300k, $300,000 or 0.3m."
        )
    if amount > 100_000_000:
        raise CommandError(f"`{option}` of {raw} is more than any salary: try something like 300k.")
    return round(amount, 2)


# ---------------------------------------------------------------------------- time

_TIME = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")


def parse_time(value: str, *, option: str = "digest_time") -> str:
    """``"9:00"``, ``"09:00"``, ``"9am"``, ``"6:30 pm"``, ``"18h30"`` -> ``"HH:MM"`` (24 h)."""
    raw = shorten(value)
    text = str(value).strip().lower()
    if text in ("noon", "midday"):
        return "12:00"
    if text == "midnight":
        return "00:00"
    match = _TIME.match(text) if len(text) <= 12 else None
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        meridiem = match.group(3)
        if meridiem:
            if not 1 <= hour <= 12:
                match = None
            else:
                hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
        elif match.group(2) is None:
            match = None  # a bare "9" is too ambiguous for a time of day
    if not match or not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise CommandError(
            f"`{option}` should be a time of day as HH:MM (24-hour), like 09:00 or 17:30 "
            f"(got “{raw}”)."
        )
    return f"{hour:02d}:{minute:02d}"


# ---------------------------------------------------------------------------- days

_DAY_NAMES = {
    "mon": 1, "monday": 1, "mo": 1,
    "tue": 2, "tues": 2, "tuesday": 2, "tu": 2,
    "wed": 3, "weds": 3, "wednesday": 3, "we": 3,
    "thu": 4, "thur": 4, "thurs": 4, "thursday": 4, "th": 4,
    "fri": 5, "friday": 5, "fr": 5,
    "sat": 6, "saturday": 6, "sa": 6,
    "sun": 7, "sunday": 7, "su": 7,
}  # fmt: skip
_DAY_SETS = {
    "daily": (1, 2, 3, 4, 5, 6, 7), "everyday": (1, 2, 3, 4, 5, 6, 7),
    "all": (1, 2, 3, 4, 5, 6, 7), "week": (1, 2, 3, 4, 5, 6, 7),
    "weekdays": (1, 2, 3, 4, 5), "weekday": (1, 2, 3, 4, 5), "workdays": (1, 2, 3, 4, 5),
    "weekends": (6, 7), "weekend": (6, 7),
}  # fmt: skip
_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_HELP = "days like mon-fri, mon,wed,fri, weekdays, weekends or daily"


def _day(token: str, raw: str) -> int:
    number = _DAY_NAMES.get(token.rstrip("s") if token.endswith("days") else token)
    if number is None:
        number = _DAY_NAMES.get(token)
    if number is None:
        raise CommandError(f"`days` should be {_DAYS_HELP}: “{shorten(token)}” is not a day.")
    return number


_RANGE_WORDS = re.compile(r"\s*(?:-|–|—|\.\.)\s*|\s+(?:to|through|thru)\s+")


def parse_days(value: str) -> tuple[int, ...]:
    """``"mon-fri"``, ``"mon,wed,fri"``, ``"weekends"``, ``"daily"``, ``"fri-mon"`` ->
    sorted ISO weekdays (1 = Monday)."""
    raw = shorten(value)
    text = str(value).strip().lower().replace("every day", "everyday")
    if not text or len(text) > 80:
        raise CommandError(f"`days` should be {_DAYS_HELP} (got “{raw}”).")
    # "mon to fri", "mon - fri": a range's ends joined before the list is split at spaces
    text = _RANGE_WORDS.sub("-", text)
    days: set[int] = set()
    for part in re.split(r"[,\s;/&+]+|\band\b", text):
        part = part.strip()
        if not part:
            continue
        if part in _DAY_SETS:
            days.update(_DAY_SETS[part])
            continue
        ends = re.split(r"\s*(?:-|–|—|\.\.|to)\s*", part)
        if len(ends) == 2 and all(ends):
            first, last = _day(ends[0], raw), _day(ends[1], raw)
            day = first
            while True:  # ranges may wrap the week: fri-mon
                days.add(day)
                if day == last:
                    break
                day = day % 7 + 1
        elif len(ends) == 1:
            days.add(_day(part, raw))
        else:
            raise CommandError(f"`days` should be {_DAYS_HELP} (got “{raw}”).")
    if not days:
        raise CommandError(f"`days` should be {_DAYS_HELP} (got “{raw}”).")
    return tuple(sorted(days))


def format_days(days: Sequence[int]) -> str:
    """ISO weekdays -> ``"daily"``, ``"Mon–Fri"``, ``"weekends"``, ``"Mon, Wed, Fri"``."""
    ordered = tuple(sorted(set(days)))
    if ordered == (1, 2, 3, 4, 5, 6, 7):
        return "daily"
    if ordered == (6, 7):
        return "weekends"
    runs: list[list[int]] = []
    for day in ordered:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        f"{_SHORT[r[0] - 1]}–{_SHORT[r[-1] - 1]}"
        if len(r) > 2
        else ", ".join(_SHORT[d - 1] for d in r)
        for r in runs
    ]
    return ", ".join(parts)


# ---------------------------------------------------------------------------- time zones

_TZ_ALIASES = {
    "pt": "America/Los_Angeles", "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles",
    "pacific": "America/Los_Angeles", "la": "America/Los_Angeles",
    "et": "America/New_York", "est": "America/New_York", "edt": "America/New_York",
    "eastern": "America/New_York", "nyc": "America/New_York",
    "ct": "America/Chicago", "cst": "America/Chicago", "cdt": "America/Chicago",
    "central": "America/Chicago",
    "mt": "America/Denver", "mst": "America/Denver", "mdt": "America/Denver",
    "mountain": "America/Denver",
    "uk": "Europe/London", "bst": "Europe/London", "london": "Europe/London",
    "z": "UTC", "utc": "UTC", "gmt": "UTC",
}  # fmt: skip


@functools.cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def parse_tz(value: str) -> str:
    """An IANA time zone name, matched case-insensitively (``"america/los_angeles"``), plus
    a few everyday abbreviations (``"PT"``, ``"ET"``, ``"UK"``)."""
    raw = shorten(value)
    text = str(value).strip()
    folded = text.lower().replace(" ", "_")
    name = _TZ_ALIASES.get(folded) or _zones_by_folded_name().get(folded)
    if name is None and len(text) <= 64 and re.fullmatch(r"[A-Za-z0-9_+\-/]+", text):
        name = text
    if name is not None:
        try:
            ZoneInfo(name)
        except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            name = None
    if name is None:
        close = difflib.get_close_matches(folded, _zones_by_folded_name(), n=1, cutoff=0.8)
        hint = f" Did you mean {_zones_by_folded_name()[close[0]]}?" if close else ""
        raise CommandError(
            f"`tz` should be an IANA time zone like America/Los_Angeles or Europe/London "
            f"(got “{raw}”).{hint}"
        )
    return name


# ---------------------------------------------------------------------------- option values

_TRUE = {"true", "yes", "y", "1", "on", "only"}
_FALSE = {"false", "no", "n", "0", "off", "none"}


def _type_help(opt: Option) -> str:
    if opt.type == "integer":
        return "a whole number"
    if opt.type == "number":
        return "a number"
    if opt.type == "boolean":
        return "yes or no"
    if opt.type == "choice":
        return "one of: " + ", ".join(c.value for c in opt.choices)
    if opt.type == "salary":
        return _SALARY_HELP
    return "text"


def _range_check(opt: Option, number: float) -> None:
    low, high = opt.min_value, opt.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            bounds = f"between {low:g} and {high:g}"
        elif low is not None:
            bounds = f"at least {low:g}"
        else:
            bounds = f"at most {high:g}"
        raise CommandError(f"`{opt.name}` should be {bounds} (got {number:g}).")


def _coerce_one(opt: Option, raw: object) -> object:
    bad = CommandError(f"`{opt.name}` should be {_type_help(opt)} (got “{shorten(str(raw))}”).")
    if opt.type == "salary":
        return parse_salary(raw, option=opt.name)
    if opt.type == "boolean":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise bad
    if opt.type == "integer":
        if isinstance(raw, bool):
            raise bad
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, int):
            number = raw
        else:
            text = str(raw).strip().lstrip("#")
            if not re.fullmatch(r"[+-]?\d{1,12}", text):
                raise bad
            number = int(text)
        _range_check(opt, number)
        return number
    if opt.type == "number":
        if isinstance(raw, bool):
            raise bad
        if isinstance(raw, int | float):
            number_f = float(raw)
        else:
            text = str(raw).strip()
            percent = text.endswith("%")
            try:
                number_f = float(text.rstrip("%")) if len(text) <= 20 else math.nan
            except ValueError:
                raise bad from None
            if percent:
                number_f /= 100
        if not math.isfinite(number_f):
            raise bad
        _range_check(opt, number_f)
        return number_f
    if not isinstance(raw, str):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = str(raw)
        else:
            raise bad
    text = clean_text(raw)
    if opt.type == "choice":
        folded = text.lower()
        for choice in opt.choices:
            if folded in (choice.value.lower(), choice.name.lower()):
                return choice.value
        raise bad
    limit = opt.max_length or 200
    if len(text) > limit:
        raise CommandError(f"`{opt.name}` is at most {limit} characters (got {len(text)}).")
    return text


def _is_empty(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return all(_is_empty(v) for v in raw)
    return False


def coerce_args(spec: CommandSpec, args: Mapping[str, object]) -> dict[str, object]:
    """Validate ``args`` against the declaration: names, types, choices, ranges, required.

    Values may come as platform-native types (Discord) or as strings (Slack, buttons).
    Repeated options accept a list and/or comma-separated text and become a tuple.
    Empty values count as absent.
    """
    options = {o.name: o for o in spec.options}
    values: dict[str, object] = {}
    for key, raw in args.items():
        name = str(key).strip().lower().replace("-", "_")
        opt = options.get(name)
        if opt is None:
            raise CommandError(_unknown_option(spec, str(key)))
        if _is_empty(raw):
            continue
        if opt.repeat:
            parts: list[str] = []
            for piece in raw if isinstance(raw, list | tuple) else [raw]:
                if isinstance(piece, str):
                    parts.extend(_split_values(piece))
                elif piece is not None:
                    parts.append(str(piece))
            seen: dict[str, object] = {}
            for part in parts:
                value = _coerce_one(opt, part)
                seen.setdefault(str(value).lower(), value)
            if len(seen) > MAX_REPEAT:
                raise CommandError(f"`{opt.name}` takes at most {MAX_REPEAT} values.")
            if seen:
                values[name] = tuple(seen.values())
        else:
            if isinstance(raw, list | tuple):
                if len(raw) != 1:
                    raise CommandError(f"`{opt.name}` takes one value, not {len(raw)}.")
                raw = raw[0]
            values[name] = _coerce_one(opt, raw)
    missing = [o.name for o in spec.options if o.required and o.name not in values]
    if missing:
        raise CommandError(
            f"/{spec.name} needs `{missing[0]}`: {options[missing[0]].description}"
            f" — e.g. {usage(spec)}"
        )
    return values


def _unknown_option(spec: CommandSpec, key: str) -> str:
    names = [o.name for o in spec.options]
    folded = key.strip().lower()
    close = difflib.get_close_matches(folded, names, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    known = ", ".join(names) if names else "none"
    return f"/{spec.name} has no option `{shorten(key, 30)}`.{hint} Options: {known}."


def usage(spec: CommandSpec) -> str:
    """A one-line usage hint built from the declaration, e.g. for Slack's ``usage_hint``."""
    parts = [f"/{spec.name}"]
    positional = spec.positional
    for opt in spec.options:
        if opt.name in positional:
            shown = f"<{opt.name}>" if opt.required else f"[{opt.name}]"
        else:
            shown = f"{opt.name}:…" if opt.required else f"[{opt.name}:…]"
        parts.append(shown)
    return " ".join(parts)


# ---------------------------------------------------------------------------- text


def _tokenize(text: str) -> list[tuple[str | None, str]]:
    """Split command text into ``(key, value)`` tokens; ``key`` is None for positional.

    Quotes (ASCII or typographic) group words, at the start of a token or right after
    ``key:``; elsewhere a quote is a literal (``don't``).
    """
    tokens: list[tuple[str | None, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        key: str | None = None
        match = _KEYED.match(text, i)
        if match:
            head = match.group(1)
            after = i + len(head) + 1
            # "https://..." and similar are values, not keys.
            if not text.startswith("//", after):
                key, i = head, after
        if i < n and text[i] in _OPEN_CLOSE:
            close = _OPEN_CLOSE[text[i]]
            end = text.find(close, i + 1)
            if end < 0 and close == "”":
                end = text.find('"', i + 1)
            if end < 0:
                raise CommandError(
                    f"A quote opened at “{shorten(text[start:], 20)}” is never closed."
                )
            value = text[i + 1 : end]
            i = end + 1
            if i < n and not text[i].isspace():
                raise CommandError(
                    f"Put a space after the closing quote in “{shorten(text[start:], 30)}”."
                )
        else:
            end = i
            while end < n and not text[end].isspace():
                end += 1
            value = text[i:end]
            i = end
        tokens.append((key, value))
    return tokens


def _fits(opt: Option, word: str) -> bool:
    try:
        _coerce_one(opt, word)
    except CommandError:
        return False
    return True


#: The legal forms that follow a company's name ("Warner Bros. Discovery, Inc."): part
#: of the name when a list is split at commas, and left out of its comparison key
#: (handlers.companies.company_key).
COMPANY_SUFFIXES = ("inc", "llc", "ltd", "corp", "corporation", "company", "plc", "gmbh")
_NAME_SUFFIX = re.compile(rf"(?:{'|'.join(COMPANY_SUFFIXES)})\.?", re.I)


def _split_values(text: str) -> list[str]:
    """The values of a repeatable option given as one text: split at commas, except
    before a company suffix, which stays with the name before it."""
    values: list[str] = []
    for part in (clean_text(x) for x in text.split(",")):
        if not part:
            continue
        if values and _NAME_SUFFIX.fullmatch(part):
            values[-1] = f"{values[-1]}, {part}"
        else:
            values.append(part)
    return values


def parse_text_args(spec: CommandSpec, text: str) -> dict[str, object]:
    """Slack-style command text to raw arguments for :func:`dispatch`.

    ``key:value`` (or ``key=value``) names an option; bare words fill the declaration's
    ``positional`` options in order (an optional one is skipped when the word does not
    fit its type; the last text option takes the rest of the words). Quotes group words.
    A ``repeat`` option may be given several times and comes back as a list. Values stay
    strings: :func:`dispatch` validates them.
    """
    text = _CONTROL.sub(" ", text or "")
    if len(text) > MAX_TEXT:
        raise CommandError(f"That command text is too long ({len(text)} characters).")
    options = {o.name: o for o in spec.options}
    keyed: dict[str, object] = {}
    words: list[str] = []
    for key, value in _tokenize(text):
        if key is None:
            words.append(value)
            continue
        name = key.lower().replace("-", "_")
        opt = options.get(name)
        if opt is None:
            raise CommandError(_unknown_option(spec, key))
        if opt.repeat:
            existing = keyed.setdefault(name, [])
            assert isinstance(existing, list)
            existing.append(value)
        elif name in keyed:
            raise CommandError(f"`{name}` was given twice in /{spec.name}.")
        else:
            keyed[name] = value
    pending = [p for p in spec.positional if p not in keyed]
    at = 0
    for index, name in enumerate(pending):
        if at >= len(words):
            break
        opt = options[name]
        last = index == len(pending) - 1
        if opt.repeat:
            keyed[name] = words[at:]
            at = len(words)
            break
        if last and opt.type == "string":
            keyed[name] = " ".join(words[at:])
            at = len(words)
            break
        if opt.required or _fits(opt, words[at]):
            keyed[name] = words[at]
            at += 1
    if at < len(words):
        extra = shorten(" ".join(words[at:]))
        raise CommandError(
            f"/{spec.name} didn't understand “{extra}”. Name the option, like "
            f"{_example(spec)} — usage: {usage(spec)}"
        )
    return keyed


def _example(spec: CommandSpec) -> str:
    for opt in spec.options:
        if opt.name not in spec.positional:
            return f"`{opt.name}:…`"
    return "`key:value`"


def quote_arg(value: str) -> str:
    """Quote a value for command text when it has spaces (for showing runnable commands)."""
    if value and not any(c.isspace() or c in _OPEN_CLOSE for c in value):
        return value
    return '"' + value.replace('"', "") + '"'


def fold(text: str) -> str:
    """Lower case without accents, for loose comparisons."""
    # ASCII is its own NFKD form and has no combining marks: skip the per-character
    # loop, which cost ~0.2 ms a description in matching (bench/README.md, cold ingest).
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():
        return decomposed.lower()
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
