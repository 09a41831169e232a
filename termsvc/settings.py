"""The one settings object. Values come from flags (passed by the CLI) over environment variables
(`TERMSVC_*`) over defaults. pydantic-settings parses and checks them, so a bad value is refused with the
variable's name (`BadSetting`), once, before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from platformdirs import user_data_dir
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "TERMSVC_"


def default_database_url() -> str:
    data_dir = Path(user_data_dir("termsvc", appauthor=False))
    return f"sqlite:///{data_dir / 'termsvc.db'}"


class BadSetting(ValueError):
    """A setting's value is not usable; the message is one line naming the variable."""


class Settings(BaseSettings):
    # an empty variable counts as unset (as before); other TERMSVC_* variables are not ours to refuse
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True,
                                      case_sensitive=False, extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Reads are open unless this is set; writes always need a token with the matching scope.
    auth_required_for_reads: bool = False
    # OAuth 2.0 resource-server settings: tokens are JWTs from this issuer, verified with its JWKS.
    auth_issuer: str | None = None
    auth_jwks_url: str | None = None
    auth_audience: str | None = None
    # Request bodies above this size are refused with 413.
    max_request_bytes: int = Field(8 * 1024 * 1024, gt=0)
    # Expansions larger than this are refused as too costly unless paged.
    max_expansion_size: int = Field(1_000_000, gt=0)
    base_url: str | None = None
    # Seconds an operation may run before it is stopped and answered as too costly (0: no budget).
    request_time_budget: float = Field(30.0, ge=0)
    # Worker threads for database and CPU work (the event loop only reads requests and writes answers).
    worker_threads: int = Field(16, ge=1)
    # Seconds a write waits for the store's write lock (a load holds it) before 409 lock-error with Retry-After.
    write_wait: float = Field(10.0, ge=0)
    # Where audit rows wait, on disk, while a load holds the store's write lock (SQLite): written to the store
    # once the lock is free, or by the next process to start. Unset: beside a SQLite database file
    # (`<file>.audit-spool`); none for PostgreSQL, whose audit rows never wait on a load.
    audit_spool_dir: Path | None = None
    # Addresses of reverse proxies whose X-Forwarded-Proto/-Host/-Prefix are believed (absolute URLs are
    # built from TERMSVC_BASE_URL, else from these, else from the address the server listens on);
    # comma-separated in the environment.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # Browser clients: origins allowed by CORS (comma-separated, "*" for any; empty: CORS off).
    cors_origins: str = "*"
    # Responses at least this large are gzip-compressed when the client accepts it (0: never).
    gzip_minimum_bytes: int = Field(1024, ge=0)
    # One JSON line per request on the `termsvc.access` logger (stderr when serving).
    access_log: bool = True
    # Bytes of finished operation answers kept per process and served again until the store changes
    # (termsvc.api.answer_cache; 0: off). Off by itself when reads need a token.
    answer_cache_bytes: int = Field(64 * 1024 * 1024, ge=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def defaults(cls) -> Settings:
        """The defaults alone, environment not read (for a placeholder before the CLI has parsed its flags)."""
        return cls.model_construct(database_url=default_database_url())

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Environment over defaults, `overrides` (flags; None means not given) over both."""
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        try:
            return cls(**given)
        except ValidationError as exc:
            raise BadSetting(_one_line(exc, given)) from None

    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


def _one_line(exc: ValidationError, given: dict[str, Any]) -> str:
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        where = f"--{name.replace('_', '-')}" if name in given else f"{ENV_PREFIX}{name.upper()}"
        problems.append(f"{where}={error.get('input')!r}: {error['msg']}")
    return "bad setting: " + "; ".join(problems)
