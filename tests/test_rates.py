"""Currency rates and annualisation (bot.enrich.rates)."""

from __future__ import annotations

import math

import pytest

from bot.enrich.rates import DEFAULT_RATES, annualise, rate_table
from bot.errors import ConfigError
from bot.models import Salary


def test_defaults_cover_the_currencies_boards_use():
    for code in ("USD", "CAD", "GBP", "EUR", "AUD", "INR", "PLN", "COP", "JPY", "CHF", "SEK"):
        assert DEFAULT_RATES[code] > 0
    assert DEFAULT_RATES["USD"] == 1.0
    # Sanity of direction (USD per unit): a pound is worth more than a dollar, a rupee less.
    assert DEFAULT_RATES["GBP"] > 1 > DEFAULT_RATES["CAD"] > DEFAULT_RATES["INR"]
    with pytest.raises(TypeError):
        DEFAULT_RATES["USD"] = 2.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("period", "low", "high", "annual"),
    [
        ("hour", 50, 60, (104_000, 124_800)),
        ("day", 500, 600, (130_000, 156_000)),
        ("week", 2_000, 2_500, (104_000, 130_000)),
        ("month", 10_000, 12_000, (120_000, 144_000)),
        ("year", 150_000, 200_000, (150_000, 200_000)),
    ],
)
def test_annualise_each_period(period, low, high, annual):
    out = annualise(Salary(low, high, "USD", period), DEFAULT_RATES)
    assert (out.annual_usd_min, out.annual_usd_max) == annual
    assert (out.min, out.max, out.period) == (low, high, period)  # as given stays as given


def test_annualise_converts_currency_and_custom_calendar():
    rates = {"GBP": 1.25}
    out = annualise(Salary(45_000, 55_000, "GBP"), rates)
    assert (out.annual_usd_min, out.annual_usd_max) == (56_250, 68_750)
    hourly = annualise(Salary(40, None, "gbp", "hour"), rates, hours_per_year=1_950)
    assert (hourly.annual_usd_min, hourly.annual_usd_max) == (97_500, None)
    daily = annualise(Salary(400, 400, "GBP", "day"), rates, days_per_year=220)
    assert daily.annual_usd_min == 110_000
    weekly = annualise(Salary(1_000, 1_000, "GBP", "week"), rates, weeks_per_year=48)
    assert weekly.annual_usd_max == 60_000


def test_annualise_without_a_rate_leaves_usd_empty():
    stale = Salary(1, 2, "XYZ", annual_usd_min=5.0, annual_usd_max=6.0)
    out = annualise(stale, DEFAULT_RATES)
    assert (out.annual_usd_min, out.annual_usd_max) == (None, None)
    assert annualise(Salary(1, 2, ""), DEFAULT_RATES).annual_usd_max is None


def test_annualise_open_ended_ranges():
    out = annualise(Salary(None, 150_000, "USD"), DEFAULT_RATES)
    assert (out.annual_usd_min, out.annual_usd_max, out.top_usd) == (None, 150_000, 150_000)


def test_rate_table_overrides_and_adds():
    table = rate_table({"cad": 0.7, "XYZ": 2, "EUR": 1.1})
    assert table["CAD"] == 0.7 and table["XYZ"] == 2.0 and table["EUR"] == 1.1
    assert table["GBP"] == DEFAULT_RATES["GBP"]
    assert rate_table(None) == dict(DEFAULT_RATES)
    with pytest.raises(TypeError):
        table["USD"] = 3.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        ({"DOLLARS": 1.0}, "rates.DOLLARS", "three-letter"),
        ({"U$D": 1.0}, "rates.U$D", "three-letter"),
        ({"EUR": "1.1"}, "rates.EUR", "number"),
        ({"EUR": True}, "rates.EUR", "number"),
        ({"EUR": 0}, "rates.EUR", "positive"),
        ({"EUR": -1.0}, "rates.EUR", "positive"),
        ({"EUR": math.inf}, "rates.EUR", "finite"),
        ({"EUR": math.nan}, "rates.EUR", "finite"),
    ],
)
def test_rate_table_rejects_bad_entries_naming_the_key(overrides, key, reason):
    with pytest.raises(ConfigError) as caught:
        rate_table(overrides)
    assert caught.value.key == key
    assert reason in caught.value.reason
