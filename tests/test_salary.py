"""The pay text parser (bot.enrich.salary) and enrich_posting's salary path.

Cases come from issue 2 item 5 and ../shared/REAL-DATA.md "Pay text"; each asserts
min, max, currency, period and kind.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.enrich import EnrichSettings, enrich_posting, rate_table
from bot.enrich.salary import find_salaries, parse_salary
from bot.models import Posting, Salary

NETFLIX = (
    "Netflix is one of the world's leading entertainment services, with over 300 million paid "
    "memberships in over 190 countries.\n\n"
    "The overall market range for roles in this area of Netflix is typically $100,000 - "
    "$700,000.\n\n"
    "This market range is based on total compensation (vs. only base salary), which is in "
    "line with our compensation philosophy. We review a wide range of compensation data to "
    "ensure our pay is competitive."
)

# (text, min, max, currency, period, kind)
CASES = [
    ("$300,000 - $900,000", 300_000, 900_000, "USD", "year", "base"),
    (NETFLIX, 100_000, 700_000, "USD", "year", "total"),
    ("$171,600 to $252,000 per year", 171_600, 252_000, "USD", "year", "base"),
    ("$151,942–$189,927 USD, plus equity", 151_942, 189_927, "USD", "year", "base"),
    ("$184,050 $262,928", 184_050, 262_928, "USD", "year", "base"),
    ("$106,147 - $228, 781", 106_147, 228_781, "USD", "year", "base"),
    ("184,000 USD - 287,500 USD for Level 4", 184_000, 287_500, "USD", "year", "base"),
    ("between $139,500 and $210,100", 139_500, 210_100, "USD", "year", "base"),
    ("US: $116000 - $166000 (USD) + 15% bonus", 116_000, 166_000, "USD", "year", "base"),
    ("$169K - $224K", 169_000, 224_000, "USD", "year", "base"),
    ("CA$102.8K – CA$137K", 102_800, 137_000, "CAD", "year", "base"),
    (
        "Zone A: USD $189,000 - USD $283,600 Zone B: USD $170,100 - USD $255,200",
        189_000,
        283_600,
        "USD",
        "year",
        "base",
    ),
    ("$28/hour to $47/hour", 28, 47, "USD", "hour", "base"),
    ("will begin at $138,000.00 and up to $190,000.00", 138_000, 190_000, "USD", "year", "base"),
    ("£45k–£55k per annum", 45_000, 55_000, "GBP", "year", "base"),
    ("55.000 EUR - 65.000 EUR brutto pro Jahr", 55_000, 65_000, "EUR", "year", "base"),
    ("USD $129,000.00 - $200,000.00 / Year", 129_000, 200_000, "USD", "year", "base"),
    # REAL-DATA.md
    ("$204,000$254,000 USD", 204_000, 254_000, "USD", "year", "base"),
    (
        "Zone 1 Pay Range$204,000$254,000 USDZone 2 Pay Range$183,600$228,600 USD",
        204_000,
        254_000,
        "USD",
        "year",
        "base",
    ),
    ("$310,000 - 1,200,000", 310_000, 1_200_000, "USD", "year", "base"),
    ("£55 - £65k", 55_000, 65_000, "GBP", "year", "base"),
    ("70k€-110k€", 70_000, 110_000, "EUR", "year", "base"),
    ("Pay range: USA$185,000 - USA$225,000", 185_000, 225_000, "USD", "year", "base"),
    ("USD$136,000 per year - USD$151,500 per year", 136_000, 151_500, "USD", "year", "base"),
    ("144,000 USD - 270,250 USD", 144_000, 270_250, "USD", "year", "base"),
    ("$136,878\\- $195,540", 136_878, 195_540, "USD", "year", "base"),
    ("**US$** **35/hr**", 35, 35, "USD", "hour", "base"),
    ("PLN 184 000", 184_000, 184_000, "PLN", "year", "base"),
    ("Wynagrodzenie: PLN 18 000 - 25 000 brutto", 18_000, 25_000, "PLN", "month", "base"),
    ("$8.500.000 COP", 8_500_000, 8_500_000, "COP", "month", "base"),
    ("$98, 000", 98_000, 98_000, "USD", "year", "base"),
    ("$39500-133400", 39_500, 133_400, "USD", "year", "base"),
    ("₹ 25-27 Lakhs PA", 2_500_000, 2_700_000, "INR", "year", "base"),
    ("30 - 40 LPA", 3_000_000, 4_000_000, "INR", "year", "base"),
    ("CTC: ₹15,00,000 - ₹25,00,000 per annum", 1_500_000, 2_500_000, "INR", "year", "base"),
    # Hourly beside yearly in one range: stated in the longer period (70.67 × 2080).
    ("$70.67/hour to $208,000/year", 146_993.6, 208_000, "USD", "year", "base"),
    # OTE beside base: base wins; OTE alone is kind "ote".
    (
        "Base salary: $140,000 - $160,000. OTE: $200,000 - $240,000",
        140_000,
        160_000,
        "USD",
        "year",
        "base",
    ),
    (
        "On-target earnings (OTE) for this role are $180,000 - $220,000.",
        180_000,
        220_000,
        "USD",
        "year",
        "ote",
    ),
    ("Compensation is $120,000 base / $240,000 OTE.", 120_000, 120_000, "USD", "year", "base"),
    ("Total compensation: $250,000 – $320,000", 250_000, 320_000, "USD", "year", "total"),
    # Leftover entities from double escaping.
    ("&nbsp;$120,000&nbsp;&mdash;&nbsp;$150,000", 120_000, 150_000, "USD", "year", "base"),
    (
        "Salary: &amp;pound;60,000 &amp;ndash; &amp;pound;75,000",
        60_000,
        75_000,
        "GBP",
        "year",
        "base",
    ),
    # More real shapes.
    (
        "The hourly rate for this role is $45.00 - $65.00 depending on experience.",
        45,
        65,
        "USD",
        "hour",
        "base",
    ),
    ("Gehalt: 80.000 € - 95.000 € pro Jahr", 80_000, 95_000, "EUR", "year", "base"),
    ("C$120,000 – C$150,000", 120_000, 150_000, "CAD", "year", "base"),
    ("CHF 120'000 - 140'000", 120_000, 140_000, "CHF", "year", "base"),
    ("$ 150,000 - $ 180,000", 150_000, 180_000, "USD", "year", "base"),
    ("SEK 45 000 - 55 000 per month", 45_000, 55_000, "SEK", "month", "base"),
    ("£350-£450 per day", 350, 450, "GBP", "day", "base"),
    ("$60–70K", 60_000, 70_000, "USD", "year", "base"),
    ("$310,000 - $1.2M", 310_000, 1_200_000, "USD", "year", "base"),
    ("Salary: USD 150,000 - 180,000", 150_000, 180_000, "USD", "year", "base"),
    ("between $50 and $60 per hour", 50, 60, "USD", "hour", "base"),
    ("The salary for this position is up to $150,000", None, 150_000, "USD", "year", "base"),
    ("Pay starting at $25/hr", 25, None, "USD", "hour", "base"),
    ("Salary range $150k+ DOE", 150_000, None, "USD", "year", "base"),
]


@pytest.mark.parametrize(
    ("text", "low", "high", "currency", "period", "kind"),
    CASES,
    ids=[case[0][:48] for case in CASES],
)
def test_reads_pay_text(text, low, high, currency, period, kind):
    salary = parse_salary(text)
    assert salary is not None, text
    assert (salary.min, salary.max, salary.currency, salary.period, salary.kind) == (
        pytest.approx(low) if low is not None else None,
        pytest.approx(high) if high is not None else None,
        currency,
        period,
        kind,
    )
    assert salary.text, "the snippet it read"
    assert salary.annual_usd_min is None  # annualising is enrich's job


NOT_PAY = [
    "We are a $2B ARR company growing fast.",
    "Join a $12B company redefining streaming.",
    "The firm manages $125 billion in assets for pension funds.",
    "401(k) with a company match up to $1,000/year.",
    "Remote workers get a $150 per month internet stipend.",
    "A $10,000 relocation bonus is available.",
    "This role includes a signing bonus of $25,000.",
    "Tuition reimbursement up to $5,250 per year.",
    "Salary: $XX - $XX",
    "Compensation: $--- to $--",
    "Eligible for a 10-20% annual bonus.",
    "We raised $300 million in Series C funding last year.",
    "$5M - $10M seed round from top investors",
    "We've paid out over $50,000 to our community this year.",
    "Earn up to $5,000 for referrals!",
    "Travel: $250 - $500 per diem",
    "Grants of $50,000 - $100,000 for research partners.",
    "Our customers spend $20 - $40 per month on subscriptions.",
    "The product costs $9.99/month.",
    "We work a 40 hour work week, 9 - 5.",
]


@pytest.mark.parametrize("text", NOT_PAY)
def test_money_that_is_not_pay(text):
    assert parse_salary(text) is None
    assert find_salaries(text) == []


def test_forty_hour_week_beside_a_range_is_not_pay():
    salary = parse_salary("Pay: $25 - $30 per hour, 40 hour work week, 10-20% bonus")
    assert (salary.min, salary.max, salary.period) == (25, 30, "hour")
    assert len(find_salaries("Pay: $25 - $30 per hour, 40 hour work week")) == 1


def test_every_zone_is_found_in_order_and_the_first_is_primary():
    text = "Zone 1 Pay Range$204,000$254,000 USDZone 2 Pay Range$183,600$228,600 USD"
    found = find_salaries(text)
    assert [(s.min, s.max) for s in found] == [(204_000, 254_000), (183_600, 228_600)]
    assert parse_salary(text) == found[0]


def test_ranges_by_city_are_all_found():
    text = (
        "The base salary range for this role varies by location:\n"
        "San Francisco: $180,000 - $220,000\nNew York: $170,000 - $210,000\n"
        "Seattle: $160,000 - $200,000"
    )
    assert [(s.min, s.max) for s in find_salaries(text)] == [
        (180_000, 220_000),
        (170_000, 210_000),
        (160_000, 200_000),
    ]


def test_pay_in_a_long_description_beside_benefit_and_company_money():
    text = (
        "About us: We are a $12B company with $2B ARR, backed by $1.5 billion in funding. "
        "Founded in 2015, we now have 1,200 employees across 14 offices.\n\n"
        "Requirements: 5+ years of experience; 3-4 direct reports; on call 1 week in 6.\n\n"
        "Benefits: 401(k) match up to $1,000/year, a $150 per month wellness stipend, a "
        "$5,000 relocation bonus and tuition reimbursement up to $5,250 per year.\n\n"
        "Working hours: 40 hour work week, hybrid 3 days a week in our Los Angeles, CA 90028 "
        "office.\n\n"
        "The annual base salary range for this position is $171,600 to $252,000, plus equity."
    )
    found = find_salaries(text)
    assert [(s.min, s.max, s.period, s.kind) for s in found] == [(171_600, 252_000, "year", "base")]


def test_california_ca_dollar_is_us_dollars_and_canadian_is_cad():
    california = "Location: Los Angeles, California. Pay range: CA$149,007 - CA$223,510"
    assert parse_salary(california).currency == "USD"
    assert (
        parse_salary("Location: Toronto, Canada. Pay range: CA$149,007 - CA$223,510").currency
        == "CAD"
    )
    # No place named: CA$ is the Canadian dollar, unless the caller knows better.
    assert parse_salary("CA$149,007 - CA$223,510").currency == "CAD"
    assert parse_salary("CA$149,007 - CA$223,510", hint_currency="USD").currency == "USD"


def test_hint_names_the_dollar_only_for_dollar_currencies():
    assert parse_salary("$120,000 - $150,000", hint_currency="CAD").currency == "CAD"
    assert parse_salary("$120,000 - $150,000", hint_currency="aud").currency == "AUD"
    assert parse_salary("$120,000 - $150,000", hint_currency="GBP").currency == "USD"
    assert parse_salary("$120,000 - $150,000 USD", hint_currency="CAD").currency == "USD"
    assert parse_salary("$120,000 - $150,000", hint_currency="not a code").currency == "USD"


def test_a_range_without_currency_needs_a_pay_word_and_a_hint():
    salary = parse_salary("Salary: 60,000 - 75,000 per annum", hint_currency="GBP")
    assert (salary.min, salary.max, salary.currency, salary.period) == (
        60_000,
        75_000,
        "GBP",
        "year",
    )
    assert parse_salary("Salary: 60,000 - 75,000 per annum") is None
    assert parse_salary("We serve 60,000 - 75,000 users a day", hint_currency="GBP") is None
    assert parse_salary("Team of 5 - 10; salary 20 - 30", hint_currency="USD") is None


def test_hourly_beside_yearly_as_two_ranges():
    text = "$48.08 - $72.12 per hour ($100,000 - $150,000 annually)"
    found = find_salaries(text)
    assert [(s.min, s.max, s.period) for s in found] == [
        (48.08, 72.12, "hour"),
        (100_000, 150_000, "year"),
    ]


def test_a_dollar_range_with_a_euro_end_is_not_one_range():
    found = find_salaries("Salary: $100,000 - €90,000 per year")
    assert [(s.min, s.max, s.currency) for s in found] == [
        (100_000, 100_000, "USD"),
        (90_000, 90_000, "EUR"),
    ]


def test_wide_market_ranges_are_one_range():
    text = "The overall market range for roles in this area is typically $60,000 - $900,000."
    assert (parse_salary(text).min, parse_salary(text).max) == (60_000, 900_000)
    # Past 20x it is two unrelated figures, not a range.
    assert all(s.min == s.max for s in find_salaries("Salary: $10,000 - $900,000"))


def test_no_upper_cap_on_real_pay():
    salary = parse_salary("The range for this role is $900,000 - $1,500,000.")
    assert (salary.min, salary.max) == (900_000, 1_500_000)


def test_empty_and_moneyless_text():
    assert parse_salary("") is None
    assert parse_salary("A great team with 40 hours a week and 25 days off.") is None
    assert find_salaries("Years 2019-2024, 3-5 people") == []


def test_snippet_is_the_text_it_read():
    salary = parse_salary("Compensation\n\nThe pay range is $171,600 to $252,000 per year.")
    assert salary.text == "$171,600 to $252,000 per year"


HOSTILE = [
    "$" * 50_000,
    "1," * 50_000 + "000",
    "$1" + ",000" * 20_000,
    ("$100,000 - " * 5_000) + "$200,000",
    "USD " * 20_000,
    "9" * 100_000,
    "₹ 25-27 Lakhs " * 5_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_bounded(text):
    started = time.perf_counter()
    find_salaries(text)
    # Linear scanning: a catastrophic regex would take minutes here, not seconds.
    assert time.perf_counter() - started < 5


@settings(max_examples=200, deadline=None)
@given(
    low=st.integers(min_value=20_000, max_value=900_000),
    # Up to 10x (the parser allows 20x; a too-low end then fails the plausibility floor).
    ratio=st.floats(min_value=1, max_value=10),
    style=st.sampled_from(
        [
            "${:,} - ${:,}",
            "${:,}–${:,} USD",
            "USD {:,} to {:,}",
            "${:,}${:,}",
            "between ${:,} and ${:,}",
        ]
    ),
)
def test_any_formatted_range_reads_back(low, ratio, style):
    high = int(low * ratio)
    salary = parse_salary("Base pay range: " + style.format(low, high))
    assert (salary.min, salary.max, salary.currency) == (low, high, "USD")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("$€£¥₹0123456789,. -–kKMUSDCAP/hrLakhs\n"), max_size=80))
def test_never_raises(text):
    for salary in find_salaries(text):
        assert salary.min is not None or salary.max is not None
        if salary.min is not None and salary.max is not None:
            assert salary.min <= salary.max


# enrich_posting: structured pay first, else the text; then annual USD.


def _posting(**fields) -> Posting:
    base = {
        "source": "greenhouse:anthropic",
        "external_id": "4020305008",
        "company": "Anthropic",
        "title": "Research Engineer, Pretraining",
        "url": "https://job-boards.greenhouse.io/anthropic/jobs/4020305008",
    }
    return Posting(**(base | fields))


def test_enrich_prefers_the_structured_pay_field():
    pay = Salary(300_000, 405_000, "usd", "year", "base", "greenhouse pay_input_ranges")
    posting = _posting(pay=pay, description="The range is $1 - $2 per hour.")
    enriched = enrich_posting(posting, EnrichSettings())
    assert enriched.salary.currency == "USD"
    assert (enriched.salary.min, enriched.salary.max) == (300_000, 405_000)
    assert (enriched.salary.annual_usd_min, enriched.salary.annual_usd_max) == (300_000, 405_000)
    assert enriched.salary.text == "greenhouse pay_input_ranges"
    assert enriched.pay == pay  # the source's record is left as it was
    assert posting.salary is None and posting.ai is None  # a copy, not a mutation


def test_enrich_reads_the_text_and_annualises_with_settings():
    posting = _posting(description="Hourly pay: $50 - $60 per hour.")
    enriched = enrich_posting(posting, EnrichSettings(hours_per_year=2000))
    assert (enriched.salary.min, enriched.salary.max, enriched.salary.period) == (50, 60, "hour")
    assert (enriched.salary.annual_usd_min, enriched.salary.annual_usd_max) == (100_000, 120_000)


def test_enrich_uses_configured_rates_and_location():
    posting = _posting(
        location="Toronto, Ontario, Canada", description="Salary: $100,000 - $150,000"
    )
    enriched = enrich_posting(posting, EnrichSettings(rates=rate_table({"CAD": 0.5})))
    assert enriched.salary.currency == "CAD"
    assert (enriched.salary.annual_usd_min, enriched.salary.annual_usd_max) == (50_000, 75_000)
    california = _posting(location="Burbank, CA", description="Pay range: CA$149,007 - CA$223,510")
    assert enrich_posting(california, EnrichSettings()).salary.currency == "USD"


def test_enrich_location_names_the_currency_of_bare_figures():
    posting = _posting(location="London, United Kingdom", description="Salary: 60,000 - 75,000")
    enriched = enrich_posting(posting, EnrichSettings(rates=rate_table({"GBP": 1.25})))
    assert (enriched.salary.currency, enriched.salary.annual_usd_max) == ("GBP", 93_750)
    # Two countries: no hint, and a bare figure stays unread.
    both = _posting(location="London; Toronto", description="Salary: 60,000 - 75,000")
    assert enrich_posting(both, EnrichSettings()).salary is None


def test_a_location_gives_its_currency_however_often_and_long() -> None:
    # remembered per location (each posting of a board repeats it), long ones not kept
    padded = "Toronto, Canada; " + "remote-friendly " * 20
    for location in ("Toronto, Canada", "Toronto, Canada", padded, padded):
        posting = _posting(location=location, description="Salary: 60,000 - 75,000")
        enriched = enrich_posting(posting, EnrichSettings())
        assert enriched.salary is not None and enriched.salary.currency == "CAD"
    both = _posting(location="London; " + padded, description="Salary: 60,000 - 75,000")
    assert enrich_posting(both, EnrichSettings()).salary is None


def test_enrich_empty_structured_pay_falls_back_to_text():
    posting = _posting(
        pay=Salary(None, None, "USD"), description="Base salary: $200,000 - $250,000"
    )
    enriched = enrich_posting(posting, EnrichSettings())
    assert (enriched.salary.min, enriched.salary.max) == (200_000, 250_000)


def test_enrich_without_pay_leaves_salary_empty_and_still_classifies():
    enriched = enrich_posting(_posting(description="Great team."), EnrichSettings())
    assert enriched.salary is None
    assert enriched.ai is not None and enriched.ai.is_ai


def test_enrich_pay_in_title():
    enriched = enrich_posting(
        _posting(title="Senior ML Engineer ($180k-$220k)", description=""), EnrichSettings()
    )
    assert (enriched.salary.min, enriched.salary.max) == (180_000, 220_000)
