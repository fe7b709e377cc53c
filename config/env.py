"""Strict readers for settings from environment variables.

A typo in a deployment's environment must stop the process at start-up with a message that names
the variable, not silently fall back to a default (healthchecks' settings do the same).
"""

import os
from dataclasses import dataclass

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ImproperlyConfiguredEnv(ValueError):
    pass


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def env_networks(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of IP addresses or networks (10.0.0.0/8, ::1)."""
    import ipaddress

    values = env_list(name, default)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfiguredEnv(f"{name}: {value!r} is not an IP address or network") from None
    return values


@dataclass(frozen=True)
class EmailSettings:
    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False


_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
}


def env_email_url(name: str, default: str) -> EmailSettings:
    """E-mail settings from one URL: smtp://user:password@host:587?tls=1, smtps://host (SSL, port
    465), console://, locmem://, dummy://. User and password are URL-quoted."""
    from urllib.parse import parse_qs, unquote, urlsplit

    raw = os.environ.get(name) or default
    url = urlsplit(raw)
    if url.scheme not in _EMAIL_BACKENDS:
        raise ImproperlyConfiguredEnv(f"{name}: scheme {url.scheme!r} is not one of {', '.join(_EMAIL_BACKENDS)}")
    if url.scheme not in ("smtp", "smtps"):
        return EmailSettings(backend=_EMAIL_BACKENDS[url.scheme])
    try:
        port = url.port or (465 if url.scheme == "smtps" else 25)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}: the port is not a number") from None
    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
    unknown = set(query) - {"tls"}
    if unknown:
        raise ImproperlyConfiguredEnv(f"{name}: unknown option(s) {', '.join(sorted(unknown))} (only tls=1)")
    tls = query.get("tls", "0").lower() in _TRUE
    return EmailSettings(
        backend=_EMAIL_BACKENDS[url.scheme],
        host=url.hostname or "localhost",
        port=port,
        user=unquote(url.username or ""),
        password=unquote(url.password or ""),
        use_tls=tls and url.scheme == "smtp",
        use_ssl=url.scheme == "smtps",
    )
