"""Settings: the one configuration object, fed by CLI flags, `FAKE_LLM_*` variables or the pytest plugin."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ENV_PREFIX = "FAKE_LLM_"

#: Where the bundled scenario pack lives: next to the package in a source checkout, inside it in a wheel.
_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_scenarios() -> Path:
    """The folder of the scenario pack shipped with fake-llm."""
    for candidate in (_PACKAGE_DIR / "_bundled" / "scenarios", _PACKAGE_DIR.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the bundled scenarios folder is missing from this installation")  # pragma: no cover


def bundled_fixtures() -> Path:
    """The folder of shipped fixtures (the bundled scenarios' payload files, the pinned provider specs)."""
    for candidate in (_PACKAGE_DIR / "_bundled" / "fixtures", _PACKAGE_DIR.parent / "fixtures"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the bundled fixtures folder is missing from this installation")  # pragma: no cover


def bundled_pack(name: str) -> Path | None:
    """The opt-in scenario pack `name` shipped with fake-llm (scenarios/packs/<name>.yaml), or None. The packs sit
    in a subfolder so that loading the bundled folder (the default) never loads them."""
    path = bundled_scenarios() / "packs" / f"{name}.yaml"
    return path if name.isidentifier() and path.is_file() else None


def bundled_pack_names() -> list[str]:
    return sorted(p.stem for p in (bundled_scenarios() / "packs").glob("*.yaml"))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that configures one fake-llm server. CLI flags beat `FAKE_LLM_*` variables, which beat defaults."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: Scenario files or folders; empty means "the bundled pack" for `serve`, "no rules" for the Python API.
    scenarios: tuple[str, ...] = ()
    #: Accepted API keys; empty accepts any key (or none).
    api_keys: tuple[str, ...] = ()
    seed: int = 0
    #: Unix time reported as `created` on every reply; None uses the real clock.
    freeze_time: float | None = None
    journal_size: int = 1000
    cors_origins: tuple[str, ...] = ("*",)
    #: Requests whose body is larger than this get a 400.
    max_body_bytes: int = 10 * 1024 * 1024
    #: When set, the /_fake/ admin endpoints (but not /_fake/health) require it.
    admin_token: str | None = None
    #: Multiplies every scripted delay; 0 turns timing off.
    time_scale: float = 1.0
    #: `approx` (built in) or an exact encoding from the `tokens` extra: `o200k_base`, `cl100k_base`.
    tokenizer: str = "approx"
    log_level: str = "info"
    #: Server-wide rate limits (per sliding minute) on top of any rule's own `rate_limit`.
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    #: How long a `hang` reply holds the connection before giving up with a 504.
    max_hang_seconds: float = 300.0
    #: Reload scenario files when they change.
    watch: bool = False
    #: Provider profile for requests whose rule and file name none: openai, cerebras, scale or gradient.
    profile: str | None = None
    #: Extra Host names a loopback-bound server answers to (loopback names always work; SECURITY.md).
    allowed_hosts: tuple[str, ...] = ()
    #: Browser origins (besides the server's own) that may use the /_fake/ control plane.
    allowed_origins: tuple[str, ...] = ()
    #: Folders rules posted at run time may read `content_file`s from, besides the scenario folders served.
    rules_folders: tuple[str, ...] = ()
    #: Byte budget of the journal (oldest entries go first); big request bodies are stored truncated.
    journal_bytes: int = 64 * 1024 * 1024
    #: Largest reply body one rule may produce; beyond it the request gets an error naming the rule.
    max_reply_bytes: int = 10 * 1024 * 1024
    #: Open connections at most; beyond it the oldest idle one is closed (or the new one refused when none is idle).
    max_connections: int = 500
    #: Seconds a connection may take to send its request headers, and may stay idle between requests.
    header_timeout: float = 10.0
    #: Seconds open requests (streams included) get to finish on shutdown before they are cut.
    graceful_timeout: float = 5.0
    #: Server processes sharing the port (`serve` only); 0 means one per CPU core. More than one needs `state`.
    workers: int = 1
    #: Where counters, limits, the journal and run-time rule changes live: `memory` (this process) or a Redis URL
    #: (`redis://host:6379/0`, `rediss://...`, `unix:///path`) shared by every worker and replica.
    state: str = "memory"
    #: The namespace requests without an `X-Fake-LLM-Session` header use.
    namespace: str = "default"
    #: Longest wait, in seconds, for the shared state store (Redis) to answer one call: a stalled Redis turns the
    #: requests that need it into 503s after this long, while everything else keeps answering.
    state_timeout: float = 2.0

    def __post_init__(self) -> None:
        for name in _BOUNDS:
            check_value(name, getattr(self, name))
        if self.state != "memory" and not self.state.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"state must be memory or a redis://, rediss:// or unix:// URL, got {self.state!r}")
        if not self.namespace or len(self.namespace) > 200 or not self.namespace.isprintable():
            raise ValueError(f"namespace must be 1 to 200 printable characters, got {self.namespace!r}")
        if self.profile is not None and self.profile not in ("openai", "cerebras", "scale", "gradient"):
            raise ValueError(f"profile must be openai, cerebras, scale or gradient, got {self.profile!r}")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `FAKE_LLM_<FIELD>` variables, then `overrides` (non-None values win)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse_env(f.name, raw)
                try:
                    check_value(f.name, values[f.name])
                except ValueError as exc:
                    raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


#: Allowed ranges: (lowest, highest, whether the lowest itself is allowed); None values are always allowed.
_BOUNDS: dict[str, tuple[float, float | None, bool]] = {
    "port": (0, 65535, True),
    "journal_size": (1, None, True),
    "time_scale": (0, None, True),
    "max_body_bytes": (1, None, True),
    "max_hang_seconds": (0, None, False),
    "requests_per_minute": (1, None, True),
    "tokens_per_minute": (1, None, True),
    "journal_bytes": (1024, None, True),
    "max_reply_bytes": (1, None, True),
    "max_connections": (1, None, True),
    "header_timeout": (0, None, False),
    "graceful_timeout": (0, None, True),
    "workers": (0, 512, True),
    "state_timeout": (0, 60, False),
}


def check_value(name: str, value: Any) -> None:
    """Raise ValueError if `value` is out of range for the setting `name`."""
    if name not in _BOUNDS or value is None:
        return
    low, high, inclusive = _BOUNDS[name]
    too_low = value < low if inclusive else value <= low
    if too_low or (high is not None and value > high):
        if high is not None:
            wanted = f"in {low:g}..{high:g}"
        else:
            wanted = (f"{low:g} or more" if low == 0 else f"at least {low:g}") if inclusive else f"more than {low:g}"
        raise ValueError(f"{name} must be {wanted}, got {value}")


_TUPLE_SEPARATORS = {
    "scenarios": os.pathsep,
    "api_keys": ",",
    "cors_origins": ",",
    "allowed_hosts": ",",
    "allowed_origins": ",",
    "rules_folders": os.pathsep,
}
_INTS = {
    "port",
    "seed",
    "journal_size",
    "max_body_bytes",
    "requests_per_minute",
    "tokens_per_minute",
    "workers",
    "journal_bytes",
    "max_reply_bytes",
    "max_connections",
}
_FLOATS = {"time_scale", "max_hang_seconds", "header_timeout", "graceful_timeout", "state_timeout"}


def _parse_env(name: str, raw: str) -> Any:
    variable = ENV_PREFIX + name.upper()
    try:
        if name in _TUPLE_SEPARATORS:
            return tuple(part.strip() for part in raw.split(_TUPLE_SEPARATORS[name]) if part.strip())
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
        if name == "freeze_time":
            return parse_time(raw)
        if name == "watch":
            if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError("expected true or false")
            return raw.lower() in ("1", "true", "yes", "on")
    except ValueError as exc:
        raise ValueError(f"{variable}={raw!r}: {exc}") from None
    return raw


def parse_time(raw: str) -> float:
    """Unix seconds from `1767225600` or an ISO 8601 time such as `2026-01-01T00:00:00Z` (UTC when no zone)."""
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected unix seconds or an ISO 8601 time, got {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


SETTINGS_HELP: dict[str, str] = {
    "host": "address to bind (use 0.0.0.0 only inside a container)",
    "port": "port to listen on (0 picks a free one)",
    "scenarios": "scenario file, folder or bundled pack name such as generic (repeatable); default: the bundled pack",
    "api_keys": "accepted API key (repeatable); default: accept any key",
    "seed": "seed for ids, fingerprints and generated values",
    "freeze_time": "report this time (unix seconds or ISO 8601) as `created`",
    "journal_size": "how many requests the journal keeps",
    "cors_origins": "allowed CORS origin (repeatable); default: *",
    "max_body_bytes": "largest accepted request body",
    "admin_token": "token required by the /_fake/ admin endpoints",
    "time_scale": "multiplier for every scripted delay (0 = no delays)",
    "tokenizer": "approx, o200k_base or cl100k_base (exact ones need fake-llm[tokens])",
    "log_level": "uvicorn log level",
    "requests_per_minute": "server-wide limit of requests per minute (429 beyond it)",
    "tokens_per_minute": "server-wide limit of tokens per minute (429 beyond it)",
    "max_hang_seconds": "how long a `hang` reply holds a connection before a 504",
    "watch": "reload scenario files when they change (bad edits keep the last good rules)",
    "profile": "provider profile when the rule names none: openai, cerebras, scale or gradient",
    "allowed_hosts": "extra Host name a loopback-bound server answers to (repeatable; DNS rebinding guard)",
    "allowed_origins": "browser origin allowed to use the /_fake/ control plane (repeatable)",
    "rules_folders": "folder rules posted at run time may read content_file from (repeatable)",
    "journal_bytes": "byte budget of the journal; big request bodies are stored truncated",
    "max_reply_bytes": "largest reply a rule may produce (an error naming the rule beyond it)",
    "max_connections": "most open connections; the oldest idle one is closed beyond it",
    "header_timeout": "seconds a connection gets to send request headers, and may idle between requests",
    "graceful_timeout": "seconds open requests and streams get to finish on shutdown",
    "workers": "server processes sharing the port; 0 = one per CPU core; more than one needs --state",
    "state": "memory, or a Redis URL (redis://host:6379/0) that workers and replicas share (needs fake-llm[redis])",
    "namespace": "namespace of requests without an X-Fake-LLM-Session header (default: default)",
    "state_timeout": "seconds to wait for the shared state store (Redis) before answering 503 (default 2)",
}
