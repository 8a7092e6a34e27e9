"""examples/compose-scaled and examples/k8s: valid against the compose-spec and Kubernetes schemas, and configured
with settings fake-llm accepts (no Docker or cluster needed; `make docker-test` runs the plain compose example)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from fake_llm.scenarios.loader import load_scenarios, parse_rules
from fake_llm.settings import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
COMPOSE = EXAMPLES / "compose-scaled" / "docker-compose.yml"
K8S = EXAMPLES / "k8s" / "fake-llm.yaml"


def _compose_schema() -> dict[str, Any]:
    # check-jsonschema vendors the compose-spec schema (and keeps it current); read it from the installed package.
    text = resources.files("check_jsonschema").joinpath("builtin_schemas/vendor/compose-spec.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_scaled_compose_file_follows_the_compose_spec() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_scaled_compose_runs_three_replicas_on_one_redis_behind_a_round_robin_front() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    replicas = sorted(name for name in services if name.startswith("fake-llm-"))
    assert replicas == ["fake-llm-1", "fake-llm-2", "fake-llm-3"]
    for name in replicas:
        service = services[name]
        settings = Settings.from_env(service["environment"])
        assert settings.state == "redis://redis:6379/0"
        assert settings.workers == 2
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "healthcheck" in service
    assert all("healthcheck" in services[name] for name in ("redis", "front"))
    upstreams = re.findall(r"server (fake-llm-\d):8000;", (COMPOSE.parent / "nginx.conf").read_text())
    assert upstreams == replicas
    assert load_scenarios([COMPOSE.parent / "scenarios"])


def _k8s_documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(K8S.read_text()) if doc]


@pytest.mark.parametrize("doc", _k8s_documents(), ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_k8s_manifest_is_valid(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_k8s_manifest_wires_three_replicas_to_redis_with_health_probes() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _k8s_documents()}
    assert {("Deployment", "fake-llm"), ("Service", "fake-llm"), ("Deployment", "fake-llm-redis")} <= set(docs)
    deployment = docs[("Deployment", "fake-llm")]["spec"]
    assert deployment["replicas"] == 3
    container = deployment["template"]["spec"]["containers"][0]
    settings = Settings.from_env({e["name"]: e["value"] for e in container["env"]})
    redis_service = docs[("Service", "fake-llm-redis")]
    assert settings.state == f"redis://{redis_service['metadata']['name']}:6379/0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/_fake/health"
    for text in docs[("ConfigMap", "fake-llm-scenarios")]["data"].values():
        assert parse_rules(text, source="k8s ConfigMap").rules
