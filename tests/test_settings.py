"""Settings: defaults, validation, `FAKE_LLM_*` variables (read from a given mapping) and overrides."""

from __future__ import annotations

import dataclasses
import os

import pytest

from fake_llm.settings import Settings, bundled_scenarios


def test_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.scenarios, settings.api_keys) == ("127.0.0.1", 8000, (), ())
    assert (settings.seed, settings.freeze_time, settings.journal_size, settings.cors_origins) == (
        0,
        None,
        1000,
        ("*",),
    )
    assert (settings.admin_token, settings.time_scale, settings.tokenizer) == (None, 1.0, "approx")
    assert settings.max_body_bytes == 10 * 1024 * 1024


def test_settings_are_frozen_and_replace_makes_a_copy() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    changed = settings.replace(port=0, seed=3)
    assert (changed.port, changed.seed, settings.port) == (0, 3, 8000)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port": -1}, "port must be in 0..65535, got -1"),
        ({"port": 65536}, "port must be in 0..65535, got 65536"),
        ({"journal_size": 0}, "journal_size must be at least 1, got 0"),
        ({"time_scale": -0.5}, "time_scale must be 0 or more, got -0.5"),
        ({"max_body_bytes": 0}, "max_body_bytes must be at least 1, got 0"),
    ],
)
def test_invalid_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        Settings(**changes)  # type: ignore[arg-type]


def test_from_env_parses_each_kind_of_field() -> None:
    settings = Settings.from_env(
        {
            "FAKE_LLM_HOST": "0.0.0.0",
            "FAKE_LLM_PORT": "9000",
            "FAKE_LLM_SCENARIOS": os.pathsep.join(["a.yaml", " b/ ", ""]),
            "FAKE_LLM_API_KEYS": "k1,k2",
            "FAKE_LLM_CORS_ORIGINS": "http://a.test, http://b.test",
            "FAKE_LLM_SEED": "42",
            "FAKE_LLM_FREEZE_TIME": "2026-01-01T00:00:00Z",
            "FAKE_LLM_JOURNAL_SIZE": "5",
            "FAKE_LLM_MAX_BODY_BYTES": "1024",
            "FAKE_LLM_ADMIN_TOKEN": "tok",
            "FAKE_LLM_TIME_SCALE": "0.5",
            "FAKE_LLM_TOKENIZER": "o200k_base",
            "FAKE_LLM_LOG_LEVEL": "debug",
            "OTHER_PORT": "1",
        }
    )
    assert (settings.host, settings.port, settings.seed, settings.journal_size) == ("0.0.0.0", 9000, 42, 5)
    assert settings.scenarios == ("a.yaml", "b/")
    assert settings.api_keys == ("k1", "k2")
    assert settings.cors_origins == ("http://a.test", "http://b.test")
    assert (settings.freeze_time, settings.max_body_bytes, settings.admin_token) == (1767225600.0, 1024, "tok")
    assert (settings.time_scale, settings.tokenizer, settings.log_level) == (0.5, "o200k_base", "debug")


def test_from_env_overrides_win_unless_none() -> None:
    env = {"FAKE_LLM_PORT": "9000", "FAKE_LLM_SEED": "4"}
    settings = Settings.from_env(env, port=9100, seed=None)
    assert (settings.port, settings.seed) == (9100, 4)


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLM_JOURNAL_SIZE", "7")
    assert Settings.from_env().journal_size == 7


def test_from_env_error_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^FAKE_LLM_SEED='x': invalid literal for int\(\) with base 10: 'x'$"):
        Settings.from_env({"FAKE_LLM_SEED": "x"})


def test_bundled_scenarios_is_the_scenarios_folder() -> None:
    folder = bundled_scenarios()
    assert folder.is_dir()
    assert folder.name == "scenarios"
