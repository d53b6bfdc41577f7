"""Configuration precedence: the caller's environment, then .env, then .env.example."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from mitra_config.dotenv import (
    GENERATED,
    GENERATED_SECRETS,
    ensure_local_file,
    layered_environment,
)
from mitra_config.secrets import MIN_SECRET_BYTES, is_demo_value

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_environment_wins_over_env_file_which_wins_over_example(tmp_path: Path) -> None:
    example = write(tmp_path / "example", "DATABASE_URL=sqlite:///./mitra.db\nA=example\nB=x\n")
    local = write(tmp_path / "local", "A=local\nC=local\n")
    merged = layered_environment(
        {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"},
        example_file=example, local_file=local,
    )
    assert merged["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    assert (merged["A"], merged["B"], merged["C"]) == ("local", "x", "local")


def test_blank_counts_as_unset_at_every_layer(tmp_path: Path) -> None:
    example = write(tmp_path / "example", "SERVICE_TOKEN=\nA=example\n")
    local = write(tmp_path / "local", "A=\n")
    merged = layered_environment({"A": "  "}, example_file=example, local_file=local)
    assert merged["A"] == "example"
    assert "SERVICE_TOKEN" not in merged


def test_dollar_hash_and_quotes_are_kept_as_written(tmp_path: Path) -> None:
    local = write(
        tmp_path / "local",
        "PASSWORD='pa$$word#1'\nURL=\"postgresql://u:p#x@h/db\"\nPLAIN=a$b # comment\n",
    )
    merged = layered_environment({}, example_file=tmp_path / "none", local_file=local)
    assert merged["PASSWORD"] == "pa$$word#1"
    assert merged["URL"] == "postgresql://u:p#x@h/db"
    assert merged["PLAIN"] == "a$b"


def test_first_run_generates_fresh_private_secrets_and_never_overwrites(tmp_path: Path) -> None:
    local = tmp_path / ".env"
    assert ensure_local_file(local) == list(GENERATED)
    first = layered_environment({}, example_file=tmp_path / "none", local_file=local)
    # Demo console logins: fixed e-mails, random passwords of their own.
    assert first["DEMO_AGENT_EMAIL"] != first["DEMO_ADMIN_EMAIL"]
    passwords = {first["DEMO_AGENT_PASSWORD"], first["DEMO_ADMIN_PASSWORD"]}
    assert len(passwords) == 2 and all(len(p) >= 16 for p in passwords)
    for name in GENERATED_SECRETS:
        assert len(first[name].encode()) >= MIN_SECRET_BYTES
        assert not is_demo_value(first[name])
    assert len({first[name] for name in GENERATED_SECRETS}) == len(GENERATED_SECRETS)
    assert stat.S_IMODE(local.stat().st_mode) == 0o600

    local.write_text("SERVICE_TOKEN=mine\n")
    assert "SERVICE_TOKEN" not in ensure_local_file(local)
    again = layered_environment({}, example_file=tmp_path / "none", local_file=local)
    assert again["SERVICE_TOKEN"] == "mine"
    assert set(GENERATED_SECRETS) <= set(again)


def test_the_committed_example_holds_no_working_secret() -> None:
    committed = layered_environment({}, local_file=ROOT / "does-not-exist")
    for name in GENERATED:
        assert name not in committed, f"{name} has a committed value"


def launch(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mitra_config.launch", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=30,
    )


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "PYTHONPATH": str(ROOT), "MITRA_ENV_FILE": str(tmp_path / ".env"), **extra}


def test_launcher_passes_the_callers_value_over_the_files(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from-dotenv.db\n")
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    result = launch("--", "printenv", "DATABASE_URL",
                    env=clean_env(tmp_path, DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == url
    result = launch("--", "printenv", "DATABASE_URL", env=clean_env(tmp_path))
    assert result.stdout.strip() == "sqlite:///from-dotenv.db"


def test_launcher_refuses_to_start_naming_the_missing_secret(tmp_path: Path) -> None:
    result = launch("--require", "RASA_AUTH_TOKEN", "--", "true", env=clean_env(tmp_path))
    assert result.returncode == 2
    assert "RASA_AUTH_TOKEN" in result.stderr


def test_launcher_refuses_a_short_secret_in_production(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RASA_AUTH_TOKEN=only-twenty-bytes-xx\n")
    env = clean_env(tmp_path, APP_ENV="production")
    result = launch("--require", "RASA_AUTH_TOKEN", "--", "true", env=env)
    assert result.returncode == 2
    assert "RASA_AUTH_TOKEN" in result.stderr and "32 bytes" in result.stderr
    env["RASA_AUTH_TOKEN"] = "Zq8" * 12
    assert launch("--require", "RASA_AUTH_TOKEN", "--", "true", env=env).returncode == 0


def test_make_does_not_mangle_or_override_configuration(tmp_path: Path) -> None:
    """The Makefile used to `include` .env.example (overriding the caller) and read .env
    as Make syntax. Now Make passes the caller's environment through untouched."""
    makefile = (ROOT / "Makefile").read_text()
    assert "include .env" not in makefile
    result = subprocess.run(
        ["make", "-s", "-n", "db"], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={**os.environ, "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/y"},
    )
    assert result.returncode == 0, result.stderr
    assert "mitra_config.launch" in result.stdout
