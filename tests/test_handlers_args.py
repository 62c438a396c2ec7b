"""What users type: salaries, times, days, time zones and Slack-style command text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import CommandError
from handlers import COMMANDS, find_command, parse_salary_input, parse_text_args, usage
from handlers.args import coerce_args, format_days, parse_days, parse_time, parse_tz


@pytest.mark.parametrize(
    ("text", "usd"),
    [
        ("300k", 300_000),
        ("300K", 300_000),
        ("$300,000", 300_000),
        ("0.3m", 300_000),
        ("300000", 300_000),
        ("$1.2M", 1_200_000),
        ("300k USD", 300_000),
        ("US$250,000", 250_000),
        ("250,000/yr", 250_000),
        ("300k+", 300_000),
        ("300.000", 300_000),  # European thousands dots
        ("$ 300 000", 300_000),
        (300000, 300_000),
        (250000.0, 250_000),
        ("0", None),
    ],
)
def test_salary_input_reads_as_annual_usd(text, usd):
    assert parse_salary_input(text) == usd


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "like 300k, $300,000 or 0.3m"),
        ("300", "did you mean 300k?"),
        ("-5", "like 300k"),
        ("$", "like 300k"),
        ("1e9", "like 300k"),
        ("300kk", "like 300k"),
        ("£300k", "like 300k"),
        ("999m", "more than any salary"),
        (True, "like 300k"),
    ],
)
def test_bad_salary_input_says_what_is_expected(text, says):
    with pytest.raises(CommandError, match="min_salary") as err:
        parse_salary_input(text)
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("text", "hhmm"),
    [
        ("09:00", "09:00"),
        ("9:00", "09:00"),
        ("9am", "09:00"),
        ("6:30 pm", "18:30"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
        ("18h30", "18:30"),
        ("noon", "12:00"),
        ("23:59", "23:59"),
    ],
)
def test_digest_time(text, hhmm):
    assert parse_time(text) == hhmm


@pytest.mark.parametrize("text", ["24:00", "9", "9:60", "13pm", "nine", "09:00:00", "-1:00"])
def test_bad_digest_time(text):
    with pytest.raises(CommandError, match=r"HH:MM \(24-hour\)"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", (1, 2, 3, 4, 5)),
        ("mon,wed,fri", (1, 3, 5)),
        ("Mon, Wed, Fri", (1, 3, 5)),
        ("weekends", (6, 7)),
        ("weekdays", (1, 2, 3, 4, 5)),
        ("daily", (1, 2, 3, 4, 5, 6, 7)),
        ("every day", (1, 2, 3, 4, 5, 6, 7)),
        ("fri-mon", (1, 5, 6, 7)),
        ("monday and thursday", (1, 4)),
        ("tuesdays", (2,)),
        ("sat", (6,)),
        ("mon to fri", (1, 2, 3, 4, 5)),  # ranges written out, with spaces
        ("monday to friday", (1, 2, 3, 4, 5)),
        ("mon - fri", (1, 2, 3, 4, 5)),
        ("sat through sun", (6, 7)),
        ("fri to mon, wed", (1, 3, 5, 6, 7)),
    ],
)
def test_days(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", "someday", "mon-funday", "mon--fri", ",", "mon to", "to fri"])
def test_bad_days(text):
    with pytest.raises(CommandError, match="mon-fri"):
        parse_days(text)


def test_days_read_back():
    assert format_days((1, 2, 3, 4, 5)) == "Mon–Fri"
    assert format_days((6, 7)) == "weekends"
    assert format_days(range(1, 8)) == "daily"
    assert format_days((1, 3, 5)) == "Mon, Wed, Fri"


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("america/los_angeles", "America/Los_Angeles"),
        ("Europe/London", "Europe/London"),
        ("PT", "America/Los_Angeles"),
        ("UTC", "UTC"),
        ("Asia/Kolkata", "Asia/Kolkata"),
    ],
)
def test_time_zones(text, zone):
    assert parse_tz(text) == zone


@pytest.mark.parametrize(
    "text", ["../../etc/passwd", "Mars/Olympus_Mons", "/etc/localtime", "x" * 300]
)
def test_bad_time_zones_are_refused_without_touching_files(text):
    with pytest.raises(CommandError, match="IANA time zone"):
        parse_tz(text)


def test_misspelt_time_zone_gets_a_suggestion():
    with pytest.raises(CommandError, match="Did you mean America/Los_Angeles"):
        parse_tz("America/Los_Angelos")


# -- command text ----------------------------------------------------------------------


def spec(name):
    found = find_command(name)
    assert found is not None
    return found


def test_positional_and_keyed_arguments():
    assert parse_text_args(spec("ailistings"), "netflix min_salary:300k") == {
        "company": "netflix",
        "min_salary": "300k",
    }


def test_repeated_keys_and_quotes():
    args = parse_text_args(
        spec("subscribe"),
        'jobs company:netflix company:"Hugging Face" tz:America/Los_Angeles '
        "digest_time:09:00 keywords:“machine learning”",
    )
    assert args == {
        "kind": "jobs",
        "company": ["netflix", "Hugging Face"],
        "tz": "America/Los_Angeles",
        "digest_time": "09:00",
        "keywords": ["machine learning"],
    }


def test_positional_words_skip_options_they_do_not_fit():
    assert parse_text_args(spec("strikenews"), "3 sag aftra") == {"days": "3", "query": "sag aftra"}
    assert parse_text_args(spec("strikenews"), "sag aftra") == {"query": "sag aftra"}
    assert parse_text_args(spec("subscribe"), "netflix disney") == {
        "company": ["netflix", "disney"]
    }


def test_last_text_option_takes_the_rest():
    assert parse_text_args(spec("ailistings"), "hugging face remote:yes") == {
        "company": "hugging face",
        "remote": "yes",
    }


def test_key_equals_value_and_case_insensitive_keys():
    assert parse_text_args(spec("ailistings"), "Min_Salary=250k") == {"min_salary": "250k"}


def test_urls_and_apostrophes_are_values():
    assert parse_text_args(spec("ailistings"), "query:don't") == {"query": "don't"}
    assert parse_text_args(spec("help"), "https://example.test/x") == {
        "command": "https://example.test/x"
    }


@pytest.mark.parametrize(
    ("command", "text", "says"),
    [
        ("ailistings", "netflix salary:300k", "has no option `salary`"),
        ("ailistings", "netflix min_salry:300k", "Did you mean `min_salary`?"),
        ("ailistings", 'query:"machine learning', "never closed"),
        ("ailistings", "company:a company:b", "given twice"),
        ("digest", "3 4", "didn't understand “4”"),
        ("subscriptions", "extra words", "didn't understand"),
    ],
)
def test_text_errors_name_the_problem(command, text, says):
    with pytest.raises(CommandError) as err:
        parse_text_args(spec(command), text)
    assert says in str(err.value)


def test_coercion_of_types_choices_and_ranges():
    sub = spec("subscribe")
    values = coerce_args(
        sub,
        {
            "kind": "JOBS",
            "company": ["netflix, disney", "Netflix"],
            "min_salary": "300k",
            "remote": "yes",
            "min_score": "60%",
        },
    )
    assert values == {
        "kind": "jobs",
        "company": ("netflix", "disney"),
        "min_salary": 300_000,
        "remote": True,
        "min_score": 0.6,
    }
    with pytest.raises(CommandError, match="one of: jobs, news, all"):
        coerce_args(sub, {"kind": "movies"})
    with pytest.raises(CommandError, match="between 0 and 1"):
        coerce_args(sub, {"min_score": "3"})
    with pytest.raises(CommandError, match="yes or no"):
        coerce_args(sub, {"remote": "maybe"})
    with pytest.raises(CommandError, match="between 1 and 30"):
        coerce_args(spec("strikenews"), {"days": 90})
    with pytest.raises(CommandError, match="whole number"):
        coerce_args(spec("strikenews"), {"days": "a week"})
    with pytest.raises(CommandError, match="needs `id`"):
        coerce_args(spec("unsubscribe"), {})
    with pytest.raises(CommandError, match="at most 40 characters"):
        coerce_args(spec("ailistings"), {"query": "x" * 41})


def test_declarations_fit_both_platforms():
    """Discord: names 1-32 lower case, descriptions at most 100, at most 25 options,
    required before optional; choices at most 25."""
    names = set()
    for command in COMMANDS:
        assert command.name.islower() and 1 <= len(command.name) <= 32
        assert command.name not in names
        names.add(command.name)
        assert 1 <= len(command.description) <= 100, command.name
        assert len(command.options) <= 25
        required_done = False
        for opt in command.options:
            assert opt.name.islower() and 1 <= len(opt.name) <= 32
            assert 1 <= len(opt.description) <= 100, (command.name, opt.name)
            assert len(opt.choices) <= 25
            if not opt.required:
                required_done = True
            assert not (opt.required and required_done), "required options come first"
        for name in command.positional:
            assert command.option(name) is not None
        assert command.handler is not None
    assert names == {
        "ailistings",
        "strikenews",
        "subscribe",
        "unsubscribe",
        "subscriptions",
        "digest",
        "salaries",
        "sources",
        "help",
    }
    assert spec("subscribe").permission == "manage_channel"
    assert spec("unsubscribe").permission == "manage_channel"
    assert spec("digest").personal
    assert usage(spec("ailistings")).startswith("/ailistings [company] [min_salary:…]")


def test_news_topics_match_the_enrichment():
    from bot.enrich.news import TOPICS as ENRICH_TOPICS
    from handlers import TOPICS

    assert set(TOPICS) == set(ENRICH_TOPICS)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from([c.name for c in COMMANDS]), st.text(max_size=200))
def test_any_text_either_parses_or_says_why(name, text):
    command = spec(name)
    try:
        args = parse_text_args(command, text)
        coerce_args(command, args)
    except CommandError as err:
        assert str(err)
