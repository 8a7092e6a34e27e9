"""The `fake-llm` command: `serve`, `check`, `schema`, `health`, `record`; every serve flag also has a `FAKE_LLM_*`
variable."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from fake_llm.settings import ENV_PREFIX, SETTINGS_HELP, Settings, parse_time
from fake_llm.version import __version__


def _env(name: str) -> str:
    return f" [env {ENV_PREFIX}{name.upper()}]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake-llm", description="A local fake LLM provider that replays YAML scenarios."
    )
    parser.add_argument("--version", action="version", version=f"fake-llm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve scenarios over HTTP", description="Serve scenarios over HTTP.")
    add = serve.add_argument
    add("--scenarios", "-s", action="append", metavar="PATH", help=SETTINGS_HELP["scenarios"] + _env("scenarios"))
    add("--host", help=SETTINGS_HELP["host"] + " (default 127.0.0.1)" + _env("host"))
    add("--port", "-p", type=int, help=SETTINGS_HELP["port"] + " (default 8000)" + _env("port"))
    add("--api-key", action="append", dest="api_keys", metavar="KEY", help=SETTINGS_HELP["api_keys"] + _env("api_keys"))
    add("--seed", type=int, help=SETTINGS_HELP["seed"] + " (default 0)" + _env("seed"))
    add("--freeze-time", type=parse_time, metavar="TIME", help=SETTINGS_HELP["freeze_time"] + _env("freeze_time"))
    add(
        "--journal-size",
        type=int,
        metavar="N",
        help=SETTINGS_HELP["journal_size"] + " (default 1000)" + _env("journal_size"),
    )
    add(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help=SETTINGS_HELP["cors_origins"] + _env("cors_origins"),
    )
    add("--max-body-bytes", type=int, metavar="N", help=SETTINGS_HELP["max_body_bytes"] + _env("max_body_bytes"))
    add("--admin-token", metavar="TOKEN", help=SETTINGS_HELP["admin_token"] + _env("admin_token"))
    add("--time-scale", type=float, metavar="X", help=SETTINGS_HELP["time_scale"] + " (default 1)" + _env("time_scale"))
    add("--tokenizer", help=SETTINGS_HELP["tokenizer"] + _env("tokenizer"))
    add(
        "--requests-per-minute",
        type=int,
        metavar="N",
        help=SETTINGS_HELP["requests_per_minute"] + _env("requests_per_minute"),
    )
    add(
        "--tokens-per-minute",
        type=int,
        metavar="N",
        help=SETTINGS_HELP["tokens_per_minute"] + _env("tokens_per_minute"),
    )
    add(
        "--max-hang-seconds",
        type=float,
        metavar="S",
        help=SETTINGS_HELP["max_hang_seconds"] + " (default 300)" + _env("max_hang_seconds"),
    )
    add("--watch", action="store_true", default=None, help=SETTINGS_HELP["watch"] + _env("watch"))
    add(
        "--profile",
        choices=["openai", "cerebras", "scale", "gradient"],
        help=SETTINGS_HELP["profile"] + _env("profile"),
    )
    _add_security_flags(serve)
    add("--workers", type=int, metavar="N", help=SETTINGS_HELP["workers"] + " (default 1)" + _env("workers"))
    add("--state", metavar="URL", help=SETTINGS_HELP["state"] + _env("state"))
    add("--namespace", metavar="NAME", help=SETTINGS_HELP["namespace"] + _env("namespace"))
    add("--chaos-seed", type=int, metavar="N", help=SETTINGS_HELP["chaos_seed"] + _env("chaos_seed"))
    add("--state-timeout", type=float, metavar="SECONDS", help=SETTINGS_HELP["state_timeout"] + _env("state_timeout"))
    add(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help=SETTINGS_HELP["log_level"] + _env("log_level"),
    )

    check = commands.add_parser("check", help="validate scenario files", description="Validate scenario files.")
    check.add_argument("paths", nargs="+", metavar="PATH", help="scenario file or folder")

    lint_cmd = commands.add_parser(
        "lint",
        help="render every rule through every dialect and validate it against the providers' specs",
        description="Render each reply of the scenarios and cassettes under PATH through every dialect that can "
        "answer it (non-stream and stream) and validate the result against the provider's own spec. Exits 1 when "
        "anything fails (for CI).",
    )
    lint_cmd.add_argument("paths", nargs="+", metavar="PATH", help="scenario or cassette file, or folder")
    lint_cmd.add_argument("--format", choices=["text", "json"], default="text", help="report format (default text)")

    commands.add_parser("schema", help="print the JSON Schema of the scenario format")

    health = commands.add_parser(
        "health",
        help="check a running server (the container health check)",
        description="Exit 0 when the server answers /_fake/health and its scenario files loaded without errors, "
        "else 1 with the reason on stderr.",
    )
    health.add_argument("--url", help="the server's root URL (default http://127.0.0.1:$FAKE_LLM_PORT, port 8000)")
    health.add_argument("--timeout", type=float, default=2.0, metavar="S", help="seconds to wait (default 2)")
    health.add_argument(
        "--log-to-pid1",
        action="store_true",
        help="also write a failure to the stderr of process 1 (the container's fake-llm), so `docker compose up` "
        "and `docker logs` show it",
    )

    rec = commands.add_parser(
        "record",
        help="record real traffic into a scenario file",
        description="Proxy requests to a real provider and record each exchange as a rule of a scenario file, "
        "which `serve --scenarios FILE` replays. Record flags are flags only (no FAKE_LLM_* variables).",
    )
    rec.add_argument("--upstream", required=True, metavar="URL", help="the provider's URL, e.g. https://api.openai.com")
    rec.add_argument("--out", required=True, metavar="FILE", help="the scenario file to record into (appended to)")
    rec.add_argument(
        "--api",
        action="append",
        metavar="DIALECT",
        help="record only this dialect (repeatable): openai-chat, anthropic, responses, completions, embeddings, "
        "gemini, azure, bedrock, ollama, ollama-generate, ollama-embed, cohere, cohere-embed, cohere-rerank, "
        "mistral ... (default: all)",
    )
    rec.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    rec.add_argument("--port", "-p", type=int, default=8000, help="port (default 8000)")
    rec.add_argument(
        "--mode",
        choices=["once", "new_episodes", "all", "new"],
        default="new_episodes",
        help="vcrpy's record modes: once: record only if the file does not exist yet (else answer from it); "
        "new_episodes (alias new): answer what the file already matches from it and record the rest; all: record "
        "everything, replacing rules with the same match (default new_episodes)",
    )
    rec.add_argument(
        "--stale-only",
        action="store_true",
        help="record nothing but requests that are stale versions of recorded rules (prompt edited, tool schema or "
        "model changed), replacing those rules in place; new requests get the no-match error",
    )
    rec.add_argument(
        "--normalize",
        action="append",
        default=[],
        choices=["uuid", "iso_datetime", "hex_id", "tmp_path"],
        help="a built-in normalize: step written to a new cassette and applied before recording (repeatable)",
    )
    rec.add_argument("--no-timing", action="store_true", help="record stream chunks without their timing")
    rec.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="NAME",
        help="a header, query parameter or body field whose value must never be written (repeatable; API key "
        "headers always are)",
    )
    return parser


def _add_security_flags(serve: argparse.ArgumentParser) -> None:
    """The flags of SECURITY.md: who may reach the server, and the limits that keep one client from stalling it."""
    add = serve.add_argument
    for flag, name in (
        ("--allowed-host", "allowed_hosts"),
        ("--allowed-origin", "allowed_origins"),
        ("--rules-folder", "rules_folders"),
    ):
        add(flag, action="append", dest=name, metavar="VALUE", help=SETTINGS_HELP[name] + _env(name))
    for flag, name, kind, default in (
        ("--journal-bytes", "journal_bytes", int, "64 MiB"),
        ("--max-reply-bytes", "max_reply_bytes", int, "10 MiB"),
        ("--max-connections", "max_connections", int, "500"),
        ("--header-timeout", "header_timeout", float, "10"),
        ("--graceful-timeout", "graceful_timeout", float, "5"),
    ):
        add(flag, type=kind, metavar="N", help=f"{SETTINGS_HELP[name]} (default {default})" + _env(name))


def _settings(args: argparse.Namespace) -> Settings:
    flags = {
        name: getattr(args, name)
        for name in (
            "host",
            "port",
            "seed",
            "freeze_time",
            "journal_size",
            "max_body_bytes",
            "admin_token",
            "time_scale",
            "tokenizer",
            "log_level",
            "requests_per_minute",
            "tokens_per_minute",
            "max_hang_seconds",
            "watch",
            "profile",
            "journal_bytes",
            "max_reply_bytes",
            "max_connections",
            "header_timeout",
            "graceful_timeout",
            "workers",
            "state",
            "namespace",
            "chaos_seed",
            "state_timeout",
        )
    }
    for name in ("scenarios", "api_keys", "cors_origins", "allowed_hosts", "allowed_origins", "rules_folders"):
        value = getattr(args, name)
        flags[name] = tuple(value) if value else None
    return Settings.from_env(**flags)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fake_llm.errors import ScenarioError, StateUnavailable
    from fake_llm.http import log_scrub
    from fake_llm.http.app import create_app
    from fake_llm.http.connections import guarded_protocol
    from fake_llm.http.engine import FakeLLM
    from fake_llm.http.listen import bind, bind_error
    from fake_llm.http.workers import run_workers
    from fake_llm.settings import bundled_scenarios

    try:
        settings = _settings(args)
        workers = settings.workers or os.cpu_count() or 1
        if workers > 1 and settings.state == "memory":
            raise ValueError(
                f"--workers {workers} needs --state redis://...: separate processes would each keep their own "
                "replies: positions, times counters, rate limits and journal"
            )
        # Checked here, once, so a bad file or an unreachable Redis stops the command before any worker starts.
        engine = FakeLLM.from_settings(settings)
    except (ScenarioError, ValueError, StateUnavailable) as exc:
        print(f"fake-llm: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # --state redis://... without the extra
        print(f"fake-llm: --state {settings.state} needs the redis extra: pip install 'fake-llm[redis]' ({exc})")
        return 2
    for warning in engine.warnings:
        print(f"fake-llm: warning: {warning}", file=sys.stderr)
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        print(bind_error(settings.host, settings.port, exc), file=sys.stderr)
        return 3
    port = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    engine.url = f"http://{host}:{port}"
    sources = list(settings.scenarios) or [f"{bundled_scenarios()} (bundled)"]
    shared = f", {workers} workers" if workers > 1 else ""
    shared += f", state {engine.store.description}" if engine.store.shared else ""
    print(
        f"fake-llm {__version__} serving {engine.url}/v1 - "
        f"{len(engine.selector.rules)} rules from {', '.join(sources)}{shared}",
        flush=True,
    )
    if any(rule.chaos is not None for rule in engine.selector.rules):
        seed = engine.chaos_seed
        print(f"fake-llm: chaos seed {seed} (replay this run's chaos with --chaos-seed {seed})", flush=True)
    logging.basicConfig(level=settings.log_level.upper() if settings.log_level != "trace" else "DEBUG")
    log_scrub.install()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": port,
        "log_level": settings.log_level,
        # What a streaming client sees when this runs out is in the README (Shutdown) and SECURITY.md.
        "timeout_graceful_shutdown": settings.graceful_timeout,
        "timeout_keep_alive": settings.header_timeout,
    }
    try:
        if workers > 1:
            run_workers(settings, engine.url, sock, workers, options)
        else:
            http = guarded_protocol(header_timeout=settings.header_timeout, max_connections=settings.max_connections)
            uvicorn.Server(uvicorn.Config(create_app(engine=engine), http=http, **options)).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def check(args: argparse.Namespace) -> int:
    from fake_llm.errors import ScenarioError
    from fake_llm.scenarios.loader import expand_paths, load_scenarios, shadowed_rules

    try:
        scenarios = load_scenarios(args.paths)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        print(f"fake-llm check: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    for warning in shadowed_rules(scenarios):
        print(f"warning: {warning}", file=sys.stderr)
    files = len(expand_paths(args.paths))
    rules = sum(len(s.rules) for s in scenarios)
    print(f"ok: {files} file(s), {rules} rule(s)")
    return 0


def lint(args: argparse.Namespace) -> int:
    from fake_llm.conformance.lint import lint as lint_scenarios
    from fake_llm.conformance.lint import to_json
    from fake_llm.errors import ScenarioError
    from fake_llm.scenarios.loader import load_scenarios

    try:
        scenarios = load_scenarios(args.paths)
    except ScenarioError as exc:
        if args.format == "json":
            print(json.dumps({"ok": False, "load_errors": [str(p) for p in exc.problems]}, indent=2))
        else:
            print(exc, file=sys.stderr)
        return 1
    result = lint_scenarios(scenarios)
    if args.format == "json":
        print(to_json(result))
    else:
        for problem in result.problems:
            print(problem)
        for note in result.notes:
            print(f"note: {note}")
        verdict = f"{len(result.problems)} problem(s)" if result.problems else "ok"
        print(f"fake-llm lint: {verdict}: {result.rules} rule(s), {result.renders} rendering(s) validated")
    return 1 if result.problems else 0


def schema(args: argparse.Namespace) -> int:
    from fake_llm.scenarios.schema import SCENARIO_SCHEMA

    print(json.dumps(SCENARIO_SCHEMA, indent=2))
    return 0


def health(args: argparse.Namespace) -> int:
    from fake_llm.healthcheck import run

    return run(args.url, args.timeout, args.log_to_pid1)


def record(args: argparse.Namespace) -> int:
    from fake_llm.record.proxy import run_recorder

    return run_recorder(
        args.upstream,
        args.out,
        mode=args.mode,
        api=tuple(args.api or ()),
        timing=not args.no_timing,
        redact=tuple(args.redact),
        host=args.host,
        port=args.port,
        normalize=tuple(args.normalize),
        stale_only=args.stale_only,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"serve": serve, "check": check, "lint": lint, "schema": schema, "health": health, "record": record}
    if args.command is None:
        parser.print_help()
        return 2
    return commands[args.command](args)
