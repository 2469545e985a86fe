"""docker-compose.yml, checked without an engine: the compose schema, then the wiring of the optional profiles."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)


def compose_config(*profiles: str) -> dict:
    """The file as compose resolves it (schema-validated by Debian's docker-compose; no engine needed)."""
    assert shutil.which("docker-compose"), "Debian's docker-compose is missing: `make test` installs it"
    command = ["docker-compose", "-f", "docker-compose.yml"]
    for profile in profiles:
        command += ["--profile", profile]
    env = {"PATH": os.environ["PATH"], "SECRET_KEY": "k" * 60}
    result = subprocess.run([*command, "config"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_default_stack_is_the_database_the_setup_and_the_site():
    services = compose_config()["services"]

    assert {name for name, service in services.items() if not service.get("profiles")} == {"db", "setup", "web"}
    assert services["db-replica"]["profiles"] == ["replica"]
    assert services["pgbouncer"]["profiles"] == ["pgbouncer"]
    assert services["web"]["environment"]["DEBUG"] == "0"
    assert services["web"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"


def test_the_replica_profile_adds_a_streaming_standby_of_the_primary():
    services = compose_config("replica")["services"]
    replica = services["db-replica"]

    assert replica["image"] == services["db"]["image"]
    assert "pg_basebackup -h db" in replica["command"] and " -R " in replica["command"]
    assert "host replication" in services["db"]["command"]
    assert "DATABASE_REPLICA_URLS" in services["web"]["environment"]


def test_the_pgbouncer_profile_pools_in_transaction_mode_in_front_of_the_primary():
    services = compose_config("pgbouncer")["services"]

    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert services["pgbouncer"]["environment"]["DB_HOST"] == "db"
    assert "DATABASE_POOLER" in services["web"]["environment"]
    # Migrations never go through the pooler.
    assert services["setup"]["environment"]["DATABASE_URL"].endswith("@db:5432/moviesite")
