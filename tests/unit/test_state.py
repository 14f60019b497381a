from pathlib import Path

import pytest

from memcore.settings import load_settings, state_dir
from memcore.state import default_state_dir, target_dir


def test_state_dir_is_the_setting_when_given(tmp_path: Path) -> None:
    assert state_dir(load_settings(state_dir=tmp_path)) == tmp_path


def test_state_dir_defaults_to_the_platform_convention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMCORE_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "/somewhere/state")
    assert default_state_dir() == Path("/somewhere/state/memcore")
    assert state_dir(load_settings()) == Path("/somewhere/state/memcore")


def test_each_target_gets_its_own_directory_named_without_secrets(tmp_path: Path) -> None:
    one = target_dir(tmp_path, "outbox", "redis://127.0.0.1:6379/0")
    other = target_dir(tmp_path, "outbox", "redis://127.0.0.1:6380/0")
    assert one != other
    assert one.parent == tmp_path / "outbox"
    assert one.name.startswith("redis-")
    assert "6379" not in one.name
