"""Realistic job and news text, generated deterministically from a seed.

Descriptions read like real postings (about the company, the role, what you will do,
who you are, benefits, an equal-opportunity statement) with the numbers real ones
carry — years of experience, head counts, revenue, 401(k) matches — so the salary
parser meets its usual distractors, and a third state pay in one of the formats the
core issue lists.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

__all__ = [
    "AI_TITLES",
    "OTHER_TITLES",
    "Place",
    "Role",
    "company_names",
    "description_html",
    "make_role",
    "salary_sentence",
]

AI_TITLES = (
    "Machine Learning Engineer",
    "Senior Machine Learning Engineer, Personalization",
    "Research Scientist, Generative Video",
    "Staff Software Engineer, ML Infrastructure",
    "Applied Scientist, Recommendations",
    "Deep Learning Engineer, Speech",
    "AI Research Engineer",
    "Principal Engineer, Large Language Models",
    "Data Scientist, Machine Learning",
    "Product Manager – Machine Learning Platform",
    "Computer Vision Engineer, Visual Effects",
    "Engineering Manager, Applied AI",
    "MLOps Engineer",
    "Research Engineer, Reinforcement Learning",
    "NLP Engineer, Content Understanding",
    "Senior AI Engineer, Generative Audio",
    "Machine Learning Scientist, Ads Ranking",
    "Technical Program Manager, AI Safety",
)
OTHER_TITLES = (
    "Production Coordinator",
    "Character Modeler",
    "Environment Modeling Artist",
    "Senior Software Engineer, Payments",
    "Site Reliability Engineer",
    "Talent Agent Assistant",
    "Maintenance Technician",
    "HTML Email Developer",
    "Marketing Manager, Theatrical",
    "Financial Analyst",
    "Senior Product Designer",
    "Post-Production Supervisor",
    "Recruiter, Technical",
    "Legal Counsel, Music Licensing",
    "Frontend Engineer, Studio Tools",
    "Data Engineer, Finance",
    "Set Designer",
    "Executive Assistant",
    "Security Engineer",
    "Localization Producer",
    "Account Executive",
    "Editor, Unscripted",
)

_DEPARTMENTS_AI = ("Machine Learning", "Research", "AI Platform", "Data Science", "Applied AI")
_DEPARTMENTS = ("Engineering", "Production", "Animation", "Marketing", "Finance", "Operations")


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    region: str
    country: str
    code: str  # ISO 3166 alpha-2

    @property
    def label(self) -> str:
        return f"{self.city}, {self.region}"


PLACES = (
    Place("Los Angeles", "CA", "United States", "US"),
    Place("San Francisco", "CA", "United States", "US"),
    Place("New York", "NY", "United States", "US"),
    Place("Seattle", "WA", "United States", "US"),
    Place("Burbank", "CA", "United States", "US"),
    Place("Austin", "TX", "United States", "US"),
    Place("Atlanta", "GA", "United States", "US"),
    Place("Toronto", "ON", "Canada", "CA"),
    Place("London", "England", "United Kingdom", "GB"),
    Place("Berlin", "Berlin", "Germany", "DE"),
)
# Mostly the US, as on the boards Marquee watches.
_PLACE_WEIGHTS = (18, 16, 16, 8, 6, 6, 4, 4, 6, 3)


@dataclass(frozen=True, slots=True)
class Role:
    """What one generated posting is about; each API shape renders it its own way."""

    index: int
    title: str
    is_ai: bool
    department: str
    place: Place
    remote: bool
    html: str  # the description, 3-8 KB of HTML
    salary_text: str | None  # the pay sentence inside ``html``, if any
    pay: tuple[float, float, str, str] | None  # structured (low, high, currency, period)


_ADJ = (
    "Northwind",
    "Silver",
    "Lantern",
    "Harbor",
    "Blue",
    "Golden",
    "Red",
    "Paper",
    "Iron",
    "Velvet",
    "Summit",
    "Echo",
    "Bright",
    "Maple",
    "Cinder",
    "Atlas",
    "Nova",
    "Quiet",
    "Copper",
    "Orbit",
    "Willow",
    "Prism",
    "Signal",
    "Canyon",
    "Juniper",
)
_NOUN = (
    "Pictures",
    "Studios",
    "Labs",
    "Media",
    "Games",
    "Animation",
    "AI",
    "Networks",
    "Sound",
    "Interactive",
    "Films",
    "Robotics",
    "Entertainment",
    "Digital",
    "Vision",
    "Works",
    "Systems",
    "Music",
    "Broadcasting",
    "Data",
)


def company_names(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct, plausible company names."""
    names = [f"{a} {n}" for a in _ADJ for n in _NOUN]
    rng.shuffle(names)
    out = names[:count]
    i = 2
    while len(out) < count:  # more boards than pairs: number the repeats
        out.extend(f"{n} {i}" for n in names[: count - len(out)])
        i += 1
    return out


_ABOUT = (
    "We tell stories that reach more than {n} million households in {c} countries, and we "
    "build the technology that brings them to screens, speakers and theatres.",
    "Founded in {y}, {co} has grown from a team of {h} to more than {h2} people across "
    "{c} offices, with studios in Los Angeles, London and Vancouver.",
    "Our catalogue spans feature animation, live action, music and games; last year we "
    "released {h} titles and crossed ${b}B in annual revenue.",
    "At {co}, engineers, artists and researchers sit side by side: the tools we build ship "
    "in the films you watch and the games you play.",
    "We are a remote-friendly company with hubs in {c} cities and a culture of written "
    "communication, ownership and candour.",
)
_ROLE = (
    "As a member of the {d} team you will own systems that serve {n} million requests a "
    "day and partner with producers, artists and product managers on what comes next.",
    "This role sits within {d}, a group of {h} engineers and scientists responsible for "
    "the models and services behind discovery, search and personalisation.",
    "You will join a small team with a large remit: shaping how {co} uses data and "
    "automation across production, post-production and distribution.",
    "The team ships weekly, measures everything and cares about craft; you will have the "
    "room to lead projects from the first prototype to a global launch.",
)
_DO = (
    "Design, build and operate services that handle {n} million events a day",
    "Train, evaluate and deploy models with PyTorch, JAX or TensorFlow",
    "Partner with creative teams to turn research into tools artists love",
    "Write clear design documents and review code with care",
    "Own reliability: on-call rotations, post-mortems and capacity plans",
    "Build data pipelines in Spark and Airflow over petabytes of viewing data",
    "Mentor engineers and raise the bar for the whole team",
    "Run A/B tests and translate results into product decisions",
    "Optimise inference latency on GPUs and custom accelerators",
    "Collaborate with legal and policy teams on responsible use of AI",
    "Maintain production schedules and coordinate vendors across {c} time zones",
    "Prepare budgets, forecasts and reports for department heads",
)
_WHO = (
    "{y2}+ years of professional experience in software engineering or a related field",
    "A degree in Computer Science, Statistics or equivalent practical experience",
    "Fluency in Python and one of Go, Java, C++ or Scala",
    "Experience with distributed systems, Kubernetes and cloud platforms (AWS, GCP)",
    "A track record of shipping machine learning systems to production",
    "Strong communication skills and comfort working with non-technical partners",
    "Familiarity with the film, television or games industry is a plus",
    "Experience leading projects across teams of {h} or more people",
    "Published research at NeurIPS, ICML, CVPR or similar venues (a plus)",
    "Comfort with ambiguity and a bias toward action",
)
_BENEFITS = (
    "Medical, dental and vision coverage for you and your dependants",
    "401(k) plan with a company match of up to $1,000 a year",
    "{y2} weeks of paid parental leave and flexible time off",
    "A $2,500 annual learning budget and conference travel",
    "Employee stock purchase plan and quarterly wellness stipend of $300",
    "Free screenings, early access to releases and studio tours",
)
_EEO = (
    "{co} is an equal opportunity employer. We celebrate diversity and are committed to "
    "creating an inclusive environment for all employees. Qualified applicants will "
    "receive consideration without regard to race, colour, religion, sex, sexual "
    "orientation, gender identity, national origin, disability or veteran status. If you "
    "need an accommodation during the application process, email accommodations@example.com "
    "or call (555) 010-{y}."
)


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def salary_sentence(rng: random.Random, *, is_ai: bool, place: Place) -> str:
    """One pay statement in a format real postings use (see issue 2, item 5)."""
    base = rng.randrange(90, 420 if is_ai else 220) * 1000
    top = base + rng.randrange(20, 160) * 1000
    lo, hi = _money(base), _money(top)
    if place.code == "GB":
        return f"The salary for this role is £{base // 2000}k–£{top // 2000}k per annum."
    if place.code == "DE":
        return (
            f"Das Gehalt liegt bei {base // 2000}.000 EUR - {top // 2000}.000 EUR brutto pro Jahr."
        )
    if place.code == "CA":
        return f"The expected range is CA${base / 1000:.1f}K – CA${top / 1000:.0f}K."
    hourly_lo, hourly_hi = rng.randrange(24, 60), rng.randrange(61, 95)
    formats = (
        f"The base salary range for this position is ${lo} - ${hi}.",
        f"The overall market range for roles in this area of our company is typically "
        f"${lo} - ${hi}.",
        f"Compensation: ${lo} to ${hi} per year, plus equity and benefits.",
        f"${lo}–${hi} USD, plus equity",
        f"Pay range: ${lo} ${hi}",
        f"{lo} USD - {hi} USD for Level {rng.randrange(3, 7)}.",
        f"The annual base salary is expected to be between ${lo} and ${hi}.",
        f"US: ${base} - ${top} (USD) + 15% bonus",
        f"${base // 1000}K - ${top // 1000}K",
        f"Zone A: USD ${lo} - USD ${hi} Zone B: USD ${_money(base * 0.9)} - USD "
        f"${_money(top * 0.9)}",
        f"This role pays ${hourly_lo}/hour to ${hourly_hi}/hour.",
        f"The starting salary will begin at ${lo}.00 and up to ${hi}.00.",
        f"USD ${lo}.00 - ${hi}.00 / Year",
    )
    return rng.choice(formats)


def _fill(template: str, rng: random.Random, company: str, department: str) -> str:
    return template.format(
        n=rng.randrange(2, 400),
        c=rng.randrange(3, 190),
        y=rng.randrange(1923, 2021),
        h=rng.randrange(12, 90),
        h2=rng.randrange(400, 9000),
        b=rng.randrange(2, 40),
        y2=rng.randrange(2, 12),
        co=html.escape(company),
        d=html.escape(department),
    )


def description_html(
    rng: random.Random,
    *,
    company: str,
    department: str,
    title: str,
    salary_text: str | None,
    target: int,
) -> str:
    """About ``target`` bytes of posting HTML; ``salary_text`` goes in its own paragraph."""

    def para(pool: tuple[str, ...]) -> str:
        return f"<p>{_fill(rng.choice(pool), rng, company, department)}</p>"

    def bullets(pool: tuple[str, ...], k: int) -> str:
        items = rng.sample(pool, k=min(k, len(pool)))
        return (
            "<ul>"
            + "".join(f"<li>{_fill(i, rng, company, department)}</li>" for i in items)
            + "</ul>"
        )

    head = [
        f"<h2>About {html.escape(company)}</h2>",
        para(_ABOUT),
        para(_ABOUT),
        f"<h2>The role: {html.escape(title)}</h2>",
        para(_ROLE),
    ]
    tail = [
        "<h3>Benefits &amp; perks</h3>",
        bullets(_BENEFITS, 4),
    ]
    if salary_text:
        tail.append(f"<p><strong>Pay</strong>&nbsp;{html.escape(salary_text)}</p>")
    tail.append(f"<p><em>{_fill(_EEO, rng, company, department)}</em></p>")
    body: list[str] = []
    size = sum(map(len, head)) + sum(map(len, tail))
    sections = (("What you&#39;ll do", _DO), ("Who you are", _WHO), ("About the team", _ROLE))
    i = 0
    while size < target:
        name, pool = sections[i % len(sections)]
        part = f"<h3>{name}</h3>" + (
            bullets(pool, rng.randrange(4, 8)) if pool is not _ROLE else para(_ROLE) + para(_ABOUT)
        )
        body.append(part)
        size += len(part)
        i += 1
    return "".join(head + body + tail)


def make_role(
    rng: random.Random,
    index: int,
    company: str,
    *,
    ai_share: float = 0.35,
    salary_share: float = 1 / 3,
    structured_share: float = 0.0,
) -> Role:
    """One posting's content: title, place, description (3-8 KB) and pay."""
    is_ai = rng.random() < ai_share
    title = rng.choice(AI_TITLES if is_ai else OTHER_TITLES)
    department = rng.choice(_DEPARTMENTS_AI if is_ai else _DEPARTMENTS)
    place = rng.choices(PLACES, weights=_PLACE_WEIGHTS)[0]
    remote = rng.random() < 0.2
    salary_text = (
        salary_sentence(rng, is_ai=is_ai, place=place) if rng.random() < salary_share else None
    )
    pay = None
    if rng.random() < structured_share:
        low = rng.randrange(90, 400 if is_ai else 200) * 1000
        currency = {"GB": "GBP", "DE": "EUR", "CA": "CAD"}.get(place.code, "USD")
        pay = (float(low), float(low + rng.randrange(20, 150) * 1000), currency, "year")
    markup = description_html(
        rng,
        company=company,
        department=department,
        title=title,
        salary_text=salary_text,
        target=rng.randrange(3000, 8000),
    )
    return Role(index, title, is_ai, department, place, remote, markup, salary_text, pay)
