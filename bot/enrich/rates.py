"""Currency rates and annualisation: what turns any stated pay into annual US dollars.

The built-in rates are approximate mid-market figures (US dollars per one unit of the
currency, late 2025), good enough to compare "high salary" thresholds, not for
accounting. A deployment overrides or adds rates from its config (``[rates]`` table,
see ``config.example.toml``) through :func:`rate_table`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from bot.errors import ConfigError
from bot.models import Salary

__all__ = ["DEFAULT_RATES", "annualise", "rate_table"]

# USD per unit. Approximate; see the module docstring.
DEFAULT_RATES: Mapping[str, float] = MappingProxyType(
    {
        "USD": 1.0,
        "CAD": 0.72,
        "GBP": 1.31,
        "EUR": 1.15,
        "AUD": 0.65,
        "NZD": 0.58,
        "INR": 0.0114,
        "PLN": 0.27,
        "COP": 0.00026,
        "JPY": 0.0066,
        "CHF": 1.24,
        "SEK": 0.105,
        "NOK": 0.099,
        "DKK": 0.154,
        "SGD": 0.77,
        "HKD": 0.128,
        "MXN": 0.054,
        "BRL": 0.185,
        "ILS": 0.30,
        "ZAR": 0.057,
        "CNY": 0.14,
        "KRW": 0.00070,
        "CZK": 0.047,
        "HUF": 0.0029,
        "RON": 0.225,
        "TRY": 0.024,
        "AED": 0.272,
        "ARS": 0.00075,
        "CLP": 0.00105,
        "PHP": 0.017,
        "TWD": 0.032,
    }
)


def rate_table(overrides: Mapping[str, object] | None = None) -> Mapping[str, float]:
    """The built-in rates with ``overrides`` (currency code -> USD per unit) applied.

    Raises :class:`~bot.errors.ConfigError` naming ``rates.<CODE>`` for a bad entry.
    """
    table = dict(DEFAULT_RATES)
    for raw_code, raw_rate in (overrides or {}).items():
        code = str(raw_code).strip().upper()
        key = f"rates.{raw_code}"
        if len(code) != 3 or not code.isascii() or not code.isalpha():
            raise ConfigError(key, "expected a three-letter ISO 4217 currency code")
        # bool is an int subclass; `true` is never a rate.
        if isinstance(raw_rate, bool) or not isinstance(raw_rate, int | float):
            raise ConfigError(key, f"expected a number (USD per 1 {code}), got {raw_rate!r}")
        rate = float(raw_rate)
        if not math.isfinite(rate) or rate <= 0:
            raise ConfigError(key, f"expected a positive finite number, got {raw_rate!r}")
        table[code] = rate
    return MappingProxyType(table)


def annualise(
    salary: Salary,
    rates: Mapping[str, float],
    *,
    hours_per_year: float = 2080,
    days_per_year: float = 260,
    weeks_per_year: float = 52,
) -> Salary:
    """A copy of ``salary`` with ``annual_usd_min``/``annual_usd_max`` filled (``None``
    where an end is missing or the currency has no rate)."""
    factor = {
        "hour": hours_per_year,
        "day": days_per_year,
        "week": weeks_per_year,
        "month": 12,
        "year": 1,
    }.get(salary.period)
    rate = rates.get((salary.currency or "").upper())
    if factor is None or rate is None:
        return replace(salary, annual_usd_min=None, annual_usd_max=None)
    return replace(
        salary,
        annual_usd_min=_convert(salary.min, factor, rate),
        annual_usd_max=_convert(salary.max, factor, rate),
    )


def _convert(value: float | None, factor: float, rate: float) -> float | None:
    if value is None:
        return None
    return round(value * factor * rate, 2)
