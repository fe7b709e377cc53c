import pytest

from config.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list


def test_env_bool_accepts_common_spellings(monkeypatch):
    for raw, expected in [("1", True), ("yes", True), ("ON", True), ("0", False), ("false", False), ("", True)]:
        monkeypatch.setenv("FLAG", raw)
        assert env_bool("FLAG", True) is expected


def test_env_bool_refuses_a_typo(monkeypatch):
    monkeypatch.setenv("FLAG", "treu")
    with pytest.raises(ImproperlyConfiguredEnv, match="FLAG='treu' is not a boolean"):
        env_bool("FLAG", False)


def test_env_int_refuses_non_numbers_and_values_below_minimum(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfiguredEnv, match="not an integer"):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfiguredEnv, match="below the minimum"):
        env_int("N", 1, minimum=1)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_settings_refuse_production_without_secret_key():
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()",
        ],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "0", "SECRET_KEY": "", "VAR_DIR": "/tmp/cxr-settings-test"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
