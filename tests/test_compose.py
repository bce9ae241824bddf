"""docker-compose.yml for operators: valid against the Compose specification's JSON schema
(no Docker engine runs here), and wired as README says: two replicas on one PostgreSQL
behind a round-robin balancer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema import Draft7Validator
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def problems(document: Any) -> list[str]:
    validator = Draft7Validator(get_builtin_schema("vendor.compose-spec"))
    return [error.message for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert problems(load(COMPOSE.read_text())) == []


def test_the_schema_check_rejects_a_broken_file() -> None:
    broken = "services:\n  bot:\n    image: newsbot\n    restart: 3\n    ports: 8080\n"
    assert len(problems(load(broken))) >= 2


def test_two_replicas_share_one_postgresql_behind_the_balancer() -> None:
    services = load(COMPOSE.read_text())["services"]
    bots = {name: spec for name, spec in services.items() if name.startswith("bot-")}
    assert len(bots) == 2
    urls = {spec["environment"]["NEWSBOT_DB"] for spec in bots.values()}
    (url,) = urls  # one database for both
    assert url.startswith("postgresql://") and "@db:5432/" in url
    assert services["db"]["image"].startswith("postgres:")
    for spec in bots.values():
        env = spec["environment"]
        assert spec["depends_on"]["db"]["condition"] == "service_healthy"
        assert env["NEWSBOT_WEBHOOK__SECRET_TOKEN"].startswith("${")  # never a literal
        assert env["PGPASSWORD"].startswith("${POSTGRES_PASSWORD")
        assert env["NEWSBOT_INDEX_DIR"].startswith("/data")  # in the replica's own volume
        assert "ports" not in spec  # only the balancer is published
    caddy = CADDYFILE.read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddy)
    assert upstreams is not None
    port = next(iter(bots.values()))["environment"]["NEWSBOT_WEBHOOK__PORT"]
    assert sorted(upstreams.group(1).split()) == sorted(f"{name}:{port}" for name in bots)
    assert "lb_policy round_robin" in caddy
    assert services["lb"]["volumes"] == ["./deploy/Caddyfile:/etc/caddy/Caddyfile:ro"]


@pytest.mark.parametrize("name", ["TELEGRAM_BOT_TOKEN", "POSTGRES_PASSWORD"])
def test_secrets_come_from_the_environment_file(name: str) -> None:
    example = (ROOT / "deploy" / "env.example").read_text()
    assert re.search(rf"^{name}=", example, re.MULTILINE)
    assert f"${{{name}:?" in COMPOSE.read_text()  # compose refuses to start without it
