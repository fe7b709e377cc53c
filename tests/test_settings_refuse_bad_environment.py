import pytest

from config.env import ImproperlyConfiguredEnv, env_bool, env_email_url, env_int, env_list, env_networks


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


def test_env_email_url_reads_smtp_with_quoted_credentials_and_tls(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://cxr%40example.org:p%40ss@mail.example.org:587?tls=1")
    email = env_email_url("EMAIL_URL", "console://")
    assert (email.host, email.port, email.user, email.password) == ("mail.example.org", 587, "cxr@example.org", "p@ss")
    assert email.use_tls and not email.use_ssl and email.backend.endswith("smtp.EmailBackend")
    monkeypatch.setenv("EMAIL_URL", "smtps://mail.example.org")
    assert env_email_url("EMAIL_URL", "console://").port == 465
    monkeypatch.delenv("EMAIL_URL")
    assert env_email_url("EMAIL_URL", "console://").backend.endswith("console.EmailBackend")


@pytest.mark.parametrize("raw", ["smpt://mail.example.org", "smtp://mail.example.org:port", "smtp://h?ssl=1"])
def test_env_email_url_refuses_a_typo(monkeypatch, raw):
    monkeypatch.setenv("EMAIL_URL", raw)
    with pytest.raises(ImproperlyConfiguredEnv, match="EMAIL_URL"):
        env_email_url("EMAIL_URL", "console://")


def test_env_networks_takes_addresses_and_networks_and_refuses_names(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.2, 172.16.0.0/12, ::1")
    assert env_networks("TRUSTED_PROXIES", []) == ["10.0.0.2", "172.16.0.0/12", "::1"]
    monkeypatch.setenv("TRUSTED_PROXIES", "proxy.local")
    with pytest.raises(ImproperlyConfiguredEnv, match="'proxy.local' is not an IP address or network"):
        env_networks("TRUSTED_PROXIES", [])
