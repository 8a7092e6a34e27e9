"""Secrets kept out of logs: uvicorn's access log prints each request's full URL, and Gemini clients send their key
as `?key=...` (issue 11, finding 9). The filter rewrites such query values before any handler formats the line."""

from __future__ import annotations

import logging
import re

#: Query parameters whose values are credentials in some dialect or SDK.
SECRET_PARAMS = ("key", "api_key", "api-key", "apikey", "token", "access_token", "auth", "password", "secret", "sig")
_SECRET_QUERY = re.compile(r"([?&](?:" + "|".join(map(re.escape, SECRET_PARAMS)) + r")=)[^&#\s\"]*", re.IGNORECASE)


def scrub_url(text: str) -> str:
    """`text` with the value of every secret query parameter replaced by `[redacted]`."""
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


class ScrubSecrets(logging.Filter):
    """Redacts secret query values in a record's message and string arguments (uvicorn passes the path as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(scrub_url(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub_url(record.msg)
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error", "fake_llm", "httpx")) -> None:
    """Add the filter to the loggers that may print a request URL (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubSecrets) for f in logger.filters):
            logger.addFilter(ScrubSecrets())
