"""The command line end to end on a snapshot-backed in-memory store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from filelock import FileLock
from typer.testing import CliRunner, Result

from memcore.cli import app


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "MEMCORE_MEMORY__SNAPSHOT_PATH": str(tmp_path / "snapshot.json"),
        "MEMCORE_STORE": "memory",
        "MEMCORE_EMBEDDER": "hashing",
        "MEMCORE_HASHING__DIMENSION": "32",
    }


def run(cli: CliRunner, env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return cli.invoke(app, list(args), env=env, input=stdin)


def _seed(cli: CliRunner, env: dict[str, str]) -> None:
    for user, text, outcome in (
        ("ana", "Try box breathing", "task_completed"),
        ("ana", "Name five things you see", "no_response"),
        ("ben", "Take a short walk", "task_completed"),
    ):
        result = run(cli, env, "record", text, "-u", user, "--task", "calm", "--outcome", outcome)
        assert result.exit_code == 0, result.output
    result = run(
        cli, env, "record", "ana calms with breathing", "-u", "ana", "--kind", "reflection"
    )
    assert result.exit_code == 0, result.output


def test_record_search_inspect_and_stats(cli: CliRunner, env: dict[str, str]) -> None:
    _seed(cli, env)
    hits = json.loads(
        run(
            cli, env, "search", "breathing", "-u", "ana", "--outcome", "task_completed", "--json"
        ).stdout
    )
    assert [hit["record"]["intervention_text"] for hit in hits] == ["Try box breathing"]
    table = run(cli, env, "search", "breathing", "-u", "ana").stdout
    assert "Try box breathing" in table

    page = json.loads(run(cli, env, "inspect", "-u", "ana", "--limit", "2", "--json").stdout)
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert "more: --cursor" in run(cli, env, "inspect", "-u", "ana", "--limit", "2").stdout
    info = json.loads(run(cli, env, "inspect", "--json").stdout)
    assert info["schema"]["dimension"] == 32
    # The layers this service really has (the CLI's settings: retries, breakers, metrics).
    store_layers = info["layers"]["store"].split(" > ")
    assert store_layers[-1] == "memory"
    assert [layer.split(" ")[0] for layer in store_layers[:-1]] == [
        "degradation",
        "breaker",
        "metrics",
        "retry",
    ]
    assert info["layers"]["service"].endswith("use cases")
    assert "layers" in run(cli, env, "inspect").stdout

    one = json.loads(run(cli, env, "stats", "-u", "ana", "--json").stdout)
    assert one == {
        "user_id": "ana",
        "interventions": 2,
        "reflections": 1,
        "by_outcome": {"task_completed": 1, "no_response": 1},
    }
    everyone = json.loads(run(cli, env, "stats", "--json").stdout)
    assert (everyone["users"], everyone["interventions"]) == (2, 3)
    assert "TOTAL" in run(cli, env, "stats").stdout


def test_export_clear_import_round_trip(
    cli: CliRunner, env: dict[str, str], tmp_path: Path
) -> None:
    _seed(cli, env)
    before = run(cli, env, "stats", "--json").stdout
    dump = tmp_path / "dump.jsonl"
    result = run(cli, env, "export", str(dump))
    assert result.exit_code == 0, result.output
    assert "exported 4 records of 2 users" in result.stdout

    dry = run(cli, env, "clear", "--all", "--dry-run", "--json")
    assert json.loads(dry.stdout) == {"target": "all", "counts": {"ana": 3, "ben": 1}, "total": 4}
    assert run(cli, env, "clear", "--all", "--yes").exit_code == 0
    assert json.loads(run(cli, env, "stats", "--json").stdout)["users"] == 0

    for _ in range(2):  # importing twice changes nothing
        result = run(cli, env, "import", str(dump))
        assert result.exit_code == 0, result.output
    assert run(cli, env, "stats", "--json").stdout == before

    exported = run(cli, env, "export", str(tmp_path / "again.jsonl"), "--json")
    assert json.loads(exported.stdout) == {"exported": 4, "users": 2}
    to_stdout = run(cli, env, "export", "-", "--json")
    assert json.loads(to_stdout.stderr) == {"exported": 4, "users": 2}
    assert len(to_stdout.stdout.splitlines()) == 5  # the header and the records
    imported = run(cli, env, "import", str(dump), "--json")
    assert json.loads(imported.stdout) == {"imported": 4, "users": 2}


def test_clear_never_runs_without_confirmation(cli: CliRunner, env: dict[str, str]) -> None:
    _seed(cli, env)
    for answer in ("", "ANA", "all", "ben"):
        refused = run(cli, env, "clear", "-u", "ana", stdin=f"{answer}\n")
        assert refused.exit_code != 0
    assert json.loads(run(cli, env, "stats", "-u", "ana", "--json").stdout)["interventions"] == 2
    assert run(cli, env, "clear").exit_code == 2  # neither --user nor --all
    confirmed = run(cli, env, "clear", "-u", "ana", stdin="ana\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "deleted 3 records of 1 users" in confirmed.stdout
    assert json.loads(run(cli, env, "stats", "--json").stdout)["users"] == 1


def test_health_exit_codes(cli: CliRunner, env: dict[str, str]) -> None:
    healthy = run(cli, env, "health", "--json")
    assert (healthy.exit_code, json.loads(healthy.stdout)["status"]) == (0, "healthy")
    assert "schema" in run(cli, env, "health").stdout


def test_errors_are_one_line_and_tracebacks_need_debug(cli: CliRunner, env: dict[str, str]) -> None:
    bad = run(cli, env, "record", "x", "-u", "ana")
    assert bad.exit_code == 1
    assert (
        bad.stderr.strip()
        == "error: ValidationError: task: is required for an intervention (--task)"
    )
    missing = run(cli, env, "import", "/nonexistent/dump.jsonl")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: FileNotFoundError")
    debug = run(cli, env, "--debug", "record", "x", "-u", "ana")
    assert debug.exit_code == 1
    assert debug.exception is not None


def test_serve_metrics_answers_probes_until_terminated(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "memcore", "serve-metrics", "--port", "0"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[1].removesuffix("/metrics")
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:  # noqa: S310
            assert json.loads(response.read())["status"] == "healthy"
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310
            assert "memcore_health_status" in response.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def _memcore(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memcore", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_keeps_what_it_records_in_the_state_directory(tmp_path: Path) -> None:
    """No snapshot setting: record in one process, find it in the next, see where it is."""
    state = tmp_path / "state"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMCORE_")},
        "MEMCORE_STATE_DIR": str(state),
        "MEMCORE_EMBEDDER": "hashing",
    }
    recorded = _memcore("record", "Try box breathing", "-u", "ana", "--task", "calm", env=env)
    assert recorded.returncode == 0, recorded.stderr
    hits = json.loads(_memcore("search", "breathing", "-u", "ana", "--json", env=env).stdout)
    assert [hit["record"]["intervention_text"] for hit in hits] == ["Try box breathing"]
    assert json.loads(_memcore("stats", "--json", env=env).stdout)["interventions"] == 1

    snapshot = state / "memory" / "cli-snapshot.npz"
    assert snapshot.is_file()
    info = json.loads(_memcore("inspect", "--json", env=env).stdout)
    assert info["store"]["data"] == f"memory:{snapshot}"
    assert f"data: memory:{snapshot}\n" in _memcore("inspect", "-u", "ana", env=env).stdout


def test_a_command_waits_for_the_snapshot_another_holds(cli: CliRunner, tmp_path: Path) -> None:
    """The snapshot's lock spans load to save, so two commands at once lose no write."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMCORE_")},
        "MEMCORE_STATE_DIR": str(tmp_path),
        "MEMCORE_EMBEDDER": "hashing",
    }
    assert run(cli, env, "record", "first", "-u", "ana", "--task", "t").exit_code == 0
    lock = FileLock(f"{tmp_path / 'memory' / 'cli-snapshot.npz'}.lock")
    with lock:
        writer = subprocess.Popen(
            [sys.executable, "-m", "memcore", "record", "second", "-u", "ana", "--task", "t"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            writer.wait(timeout=3)
    _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 0, stderr
    stats = run(cli, env, "stats", "-u", "ana", "--json")
    assert json.loads(stats.stdout)["interventions"] == 2


def test_update_what_worked_and_scopes(cli: CliRunner, env: dict[str, str], tmp_path: Path) -> None:
    ids = []
    for text, agent in (("Try box breathing", "coach"), ("Box breathing, slower", "planner")):
        result = run(
            cli, env, "record", text, "-u", "ana", "--task", "calm", "--agent", agent,
            "--session", "s1", "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        ids.append(json.loads(result.stdout)["id"])
    done = run(cli, env, "update", ids[0], "-u", "ana", "--outcome", "task_completed", "--json")
    assert done.exit_code == 0, done.output
    updated = json.loads(done.stdout)
    assert updated["outcome"] == "task_completed"
    assert [entry[0] for entry in updated["outcome_history"]] == ["task_completed"]
    assert (
        "updated intervention" in run(cli, env, "update", ids[1], "-u", "ana", "--task", "x").stdout
    )
    missing = run(cli, env, "update", "nope", "-u", "ana", "--outcome", "task_completed")
    assert missing.exit_code != 0

    coach = json.loads(
        run(cli, env, "search", "breathing", "-u", "ana", "--agent", "coach", "--json").stdout
    )
    assert [hit["record"]["id"] for hit in coach] == [ids[0]]
    worked = json.loads(run(cli, env, "what-worked", "breathing", "-u", "ana", "--json").stdout)
    assert worked["hits"][0]["record"]["id"] == ids[0]
    assert worked["hits"][0]["outcome_weight"] == 1.0
    assert {rate["task"] for rate in worked["rates"]} == {"calm", "x"}
    table = run(cli, env, "what-worked", "breathing", "-u", "ana", "--session", "s1").stdout
    assert "calm: 1 of 1 completed" in table

    dump = tmp_path / "dump.jsonl"
    assert run(cli, env, "export", str(dump)).exit_code == 0
    assert run(cli, env, "clear", "--all", "--yes").exit_code == 0
    assert run(cli, env, "import", str(dump)).exit_code == 0
    again = json.loads(run(cli, env, "inspect", "-u", "ana", "--json").stdout)["items"]
    assert {r["id"]: r for r in again}[ids[0]] == updated

    expiring = run(cli, env, "record", "brief", "-u", "ana", "--task", "t", "--ttl", "60", "--json")
    assert json.loads(expiring.stdout)["expires_at"] is not None
