"""Configuration read from the environment; nothing secret lives in the repository."""

import os
from pathlib import Path

DEV_SECRET = "dev-secret-not-for-production"  # noqa: S105 - refused outside debug

BASE_DIR = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _sqlite_default() -> str:
    instance = BASE_DIR / "instance"
    instance.mkdir(exist_ok=True)
    return f"sqlite:///{instance / 'portal.db'}"


def development_base_url() -> str:
    """Where `make run` serves (on its PORT): the BASE_URL of debug and tests when none is set."""
    return f"http://127.0.0.1:{os.environ.get('PORT', '5000')}"


class Config:
    """Settings for every environment; values come from environment variables."""

    def __init__(self) -> None:
        self.DEBUG = _bool("FLASK_DEBUG")
        self.SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET)
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_default()
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        #: the start of every key the portal keeps in Redis (several portals may share one)
        self.REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "rete")
        self.RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10 per minute;60 per hour")
        #: failed logins on one account, from any address (a slow guess spread over many)
        self.RATELIMIT_LOGIN_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_ACCOUNT",
                                                      "10 per 15 minutes;30 per day")
        self.RATELIMIT_RESET = os.environ.get("RATELIMIT_RESET", "5 per minute;20 per hour")
        #: public forms that send mail (registration, "Aderisci alla Rete")
        self.RATELIMIT_FORMS = os.environ.get("RATELIMIT_FORMS", "5 per minute;30 per hour")
        #: the portal's public address, scheme and host only (`https://rete.example.it`):
        #: every link in mail starts with it and a request naming another host is refused
        #: (TRUSTED_HOSTS). Required outside debug; see portal/security.py
        self.BASE_URL = os.environ.get("BASE_URL", "")
        #: how many reverse proxies (nginx, a load balancer) really sit in front of gunicorn:
        #: that many X-Forwarded-For/-Proto values are trusted, so that rate limits and the
        #: audit log see the visitor's address rather than the proxy's. More than there are
        #: lets a visitor choose the address the limits count.
        self.PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
        #: trust X-Forwarded-Host too (only if the proxy sets it itself); off, the Host header
        #: the proxy passes on is the one checked against TRUSTED_HOSTS
        self.PROXY_TRUST_HOST = _bool("PROXY_TRUST_HOST")
        #: days a login lasts on one device before asking for the password again
        self.LOGIN_SESSION_DAYS = int(os.environ.get("LOGIN_SESSION_DAYS", "30"))
        #: days the audit log keeps the IP address of an entry; `flask audit purge-ips`
        #: (cron) drops older ones. The privacy notice states this period
        self.AUDIT_IP_DAYS = int(os.environ.get("AUDIT_IP_DAYS", "90"))
        self.RATELIMIT_HEADERS_ENABLED = True
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 10 * 1024 * 1024))
        self.MAX_FORM_MEMORY_SIZE = 1024 * 1024
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(BASE_DIR / "instance" / "uploads"))
        self.BABEL_DEFAULT_LOCALE = "it"
        self.BABEL_DEFAULT_TIMEZONE = "Europe/Rome"
        self.LANGUAGES = ("it", "en")
        self.WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock
        self.WTF_CSRF_SSL_STRICT = False
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = not self.DEBUG and not _bool("PORTAL_INSECURE_COOKIES")
        self.SESSION_COOKIE_NAME = "rete_session"
        self.PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME",
                                                   "http" if self.DEBUG else "https")
        self.SERVER_NAME = os.environ.get("SERVER_NAME") or None
        self.MAIL_SENDER = os.environ.get(
            "MAIL_SENDER", "Rete dei Comuni Amici della Famiglia <noreply@example.org>")
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "587"))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", True)
        # In debug mail is printed to the console; in production it waits in the outbox
        # until `flask outbox send` delivers it over SMTP.
        self.MAIL_PRINT = _bool("MAIL_PRINT", self.DEBUG)
        self.EMAIL_TOKEN_MAX_AGE = 3 * 24 * 3600
        self.RESET_TOKEN_MAX_AGE = 3600
        self.PAGE_SIZE = 20
        #: seconds a whole public page is kept for anonymous visitors (portal/caching.py;
        #: a committed write makes it stale sooner); 0 disables it, the default in debug
        #: (templates change there)
        self.PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS",
                                                     "0" if self.DEBUG else "10"))
        self.TESTING = False

        if self.SQLALCHEMY_DATABASE_URI.startswith("postgres://"):
            self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI.replace(
                "postgres://", "postgresql+psycopg://", 1
            )
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql://"):
            self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI.replace(
                "postgresql://", "postgresql+psycopg://", 1
            )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)


def engine_options(url: str) -> dict:
    """The engine's options for a database URL."""
    if url.startswith("postgresql"):
        # pool_pre_ping: a connection PostgreSQL closed (a restart, an idle timeout) is
        # replaced before a request uses it, instead of failing that request.
        return {"pool_size": 5, "max_overflow": 5, "pool_pre_ping": True}
    return {"connect_args": {"timeout": 30}}
