"""The one settings object. Values come from flags (passed by the CLI) over environment variables
(`TERMSVC_*`) over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from platformdirs import user_data_dir


def default_database_url() -> str:
    data_dir = Path(user_data_dir("termsvc", appauthor=False))
    return f"sqlite:///{data_dir / 'termsvc.db'}"


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = 8080
    # Reads are open unless this is set; writes always need a token with the matching scope.
    auth_required_for_reads: bool = False
    # OAuth 2.0 resource-server settings: tokens are JWTs from this issuer, verified with its JWKS.
    auth_issuer: str | None = None
    auth_jwks_url: str | None = None
    auth_audience: str | None = None
    # Request bodies above this size are refused with 413.
    max_request_bytes: int = 8 * 1024 * 1024
    # Expansions larger than this are refused as too costly unless paged.
    max_expansion_size: int = 1_000_000
    base_url: str | None = None
    # Seconds an operation may run before it is stopped and answered as too costly (0: no budget).
    request_time_budget: float = 30.0
    # Worker threads for database and CPU work (the event loop only reads requests and writes answers).
    worker_threads: int = 16
    # Seconds a write waits for the store's write lock (a load holds it) before 409 lock-error with Retry-After.
    write_wait: float = 10.0
    # Addresses of reverse proxies whose X-Forwarded-Proto/-Host/-Prefix are believed (absolute URLs are
    # built from TERMSVC_BASE_URL, else from these, else from the address the server listens on).
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        settings = cls(
            database_url=env.get("TERMSVC_DATABASE_URL") or default_database_url(),
            host=env.get("TERMSVC_HOST", "127.0.0.1"),
            port=int(env.get("TERMSVC_PORT", "8080")),
            auth_required_for_reads=_env_bool("TERMSVC_AUTH_REQUIRED_FOR_READS", False),
            auth_issuer=env.get("TERMSVC_AUTH_ISSUER"),
            auth_jwks_url=env.get("TERMSVC_AUTH_JWKS_URL"),
            auth_audience=env.get("TERMSVC_AUTH_AUDIENCE"),
            max_request_bytes=int(env.get("TERMSVC_MAX_REQUEST_BYTES", str(8 * 1024 * 1024))),
            max_expansion_size=int(env.get("TERMSVC_MAX_EXPANSION_SIZE", "1000000")),
            base_url=env.get("TERMSVC_BASE_URL"),
            request_time_budget=float(env.get("TERMSVC_REQUEST_TIME_BUDGET", "30")),
            worker_threads=int(env.get("TERMSVC_WORKER_THREADS", "16")),
            write_wait=float(env.get("TERMSVC_WRITE_WAIT", "10")),
            trusted_proxies=tuple(p.strip() for p in env.get("TERMSVC_TRUSTED_PROXIES", "").split(",") if p.strip()),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given) if given else settings  # type: ignore[arg-type]
