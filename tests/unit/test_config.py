import pytest

from orch.config import load_config, parse_duration
from orch.errors import InputError


def test_precedence_flags_over_env_over_files(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "proj"
    home.mkdir(), cwd.mkdir()
    (home / ".orch.cfg").write_text("[defaults]\nconcurrency = 10\nconnect_timeout = 5s\n")
    (cwd / "orch.cfg").write_text("[defaults]\nconcurrency = 20\ninventory = inv/a.yml\n")
    config = load_config({}, {}, cwd, home)
    assert config.concurrency == 20 and config.connect_timeout == 5.0
    assert config.inventory == (str(cwd / "inv/a.yml"),)
    config = load_config({}, {"ORCH_CONCURRENCY": "30"}, cwd, home)
    assert config.concurrency == 30
    config = load_config({"concurrency": 40}, {"ORCH_CONCURRENCY": "30"}, cwd, home)
    assert config.concurrency == 40 and config.sources["concurrency"] == "--concurrency"


def test_bad_value_names_file_and_key(tmp_path):
    (tmp_path / "orch.cfg").write_text("[defaults]\nconcurrency = many\n")
    with pytest.raises(InputError) as error:
        load_config({}, {}, tmp_path, tmp_path / "nohome")
    assert "orch.cfg" in str(error.value) and "concurrency" in str(error.value)


def test_unknown_setting_refused(tmp_path):
    (tmp_path / "orch.cfg").write_text("[defaults]\nconcurency = 3\n")
    with pytest.raises(InputError, match="unknown setting"):
        load_config({}, {}, tmp_path, tmp_path / "nohome")


@pytest.mark.parametrize("text,seconds", [("90", 90), ("1.5s", 1.5), ("5m", 300), ("1h", 3600), ("250ms", 0.25)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(InputError):
        parse_duration("soon")
