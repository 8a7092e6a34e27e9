"""Hints for realistic example values: Faker makers by JSON-Schema string format and by property name, and
plausible number ranges by property name (schema_values.py keeps them within the schema's own bounds)."""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any

from faker import Faker

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _when(days_from: int, days_to: int, rng: random.Random) -> dt.datetime:
    # Fixed ranges instead of Faker's "now"-relative ones, so a seed gives the same date next year too.
    return _EPOCH + dt.timedelta(days=rng.randint(days_from, days_to), seconds=rng.randrange(86400))


def make_value(maker: str, fake: Faker, rng: random.Random) -> str:
    """A string from a Faker provider, or from one of ours (the names starting with `_`)."""
    if maker == "_uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if maker in ("_date", "_birth"):
        return (
            _when(-7300, 12700, rng).date().isoformat()
            if maker == "_birth"
            else _when(18000, 20500, rng).date().isoformat()
        )
    if maker in ("_datetime", "_time"):
        stamp = _when(18000, 20500, rng).isoformat().replace("+00:00", "Z")
        return stamp[11:] if maker == "_time" else stamp
    if maker == "_duration":
        return f"P{rng.randint(1, 30)}DT{rng.randint(0, 23)}H"
    if maker == "_address":
        return fake.address().replace("\n", ", ")
    return str(getattr(fake, maker)())


def _aliases(table: Mapping[Any, str]) -> dict[str, Any]:
    return {alias: value for value, aliases in table.items() for alias in aliases.split()}


FORMATS = _aliases(
    {
        "email": "email idn-email",
        "_date": "date",
        "_datetime": "date-time",
        "_time": "time",
        "_duration": "duration",
        "url": "uri url iri uri-reference iri-reference",
        "_uuid": "uuid",
        "ipv4": "ipv4",
        "ipv6": "ipv6",
        "domain_name": "hostname idn-hostname",
    }
)
# Realistic strings by property name: the whole name first (`first_name`), then its last word (`user_email`).
NAMED = _aliases(
    {
        "name": "name fullname",
        "first_name": "firstname givenname",
        "last_name": "lastname surname familyname",
        "email": "email emailaddress",
        "phone_number": "phone phonenumber mobile telephone",
        "city": "city town location",
        "country": "country",
        "country_code": "countrycode",
        "state": "state",
        "_address": "address",
        "street_address": "street streetaddress",
        "postcode": "zip zipcode postcode postalcode",
        "company": "company companyname organization organisation employer",
        "catch_phrase": "title headline",
        "job": "job jobtitle occupation",
        "url": "url uri website homepage link",
        "user_name": "username login handle nickname",
        "_uuid": "id uuid guid",
        "currency_code": "currency currencycode",
        "color_name": "color colour",
        "language_name": "language",
        "_date": "date",
        "_birth": "birthday birthdate dob dateofbirth",
        "_datetime": "at timestamp datetime",
        "ipv4": "ip ipaddress",
        "domain_name": "domain hostname",
        "password": "password",
        "slug": "slug",
        "word": "label tag keyword category topic",
        "file_name": "filename",
        "sentence": "description summary text content body message comment bio notes reason",
    }
)
# Plausible (low, high, decimals) for numbers by property name, kept within the schema's own bounds.
NUMERIC = _aliases(
    {
        (18, 80, 0): "age",
        (1990, 2030, 0): "year",
        (1, 12, 0): "month",
        (1, 28, 0): "day",
        (0, 23, 0): "hour",
        (0, 59, 0): "minute minutes second seconds",
        (1, 5, 1): "rating",
        (1, 5, 0): "stars",
        (0, 100, 1): "score percent percentage",
        (-90, 90, 6): "latitude lat",
        (-180, 180, 6): "longitude lng lon",
        (1024, 65535, 0): "port",
        (1, 99999, 0): "id",
        (-10, 40, 1): "temperature",
        (1, 120, 1): "weight",
        (50, 210, 1): "height",
        (0, 50, 2): "discount",
        (1.0, 999.0, 2): "price amount cost balance salary fee subtotal",
        (1, 20, 0): "count quantity qty number size page level limit total",
    }
)


def _name_words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def lookup_hint(table: Mapping[str, Any], name: str) -> Any:
    words = _name_words(name)
    if not words:
        return None
    found = table.get("".join(words))
    return found if found is not None else table.get(words[-1])


def singular(name: str) -> str:
    """`cities` → `city`, `emails` → `email`: item names inherit their list's hint."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name
