"""Settings from environment variables, with defaults that make a local run work.

Secrets (``SERVICE_TOKEN``, ``ERP_API_KEY``, ``ADMIN_API_KEY``,
``PAYOUT_CALLBACK_TOKEN``, ``WHATSAPP_REPORT_TOKEN``) have no default at all:

- blank (or only spaces) means missing;
- in ``development`` and ``test`` a missing secret disables that caller: every token it
  could present is unknown, so it gets 401 (there is never a committed fallback value);
- in ``production`` the settings refuse to load, so the process refuses to start, when a
  secret is missing, blank, a known demo value (see ``is_demo_secret``) or shorter than
  ``MIN_SECRET_BYTES``; the error names the variable;
- in every environment two callers may not share a secret (the caller would be ambiguous).

``RASA_AUTH_TOKEN`` (the backend's key to Rasa's HTTP API: agent replies, hand-back, the
no-agent notice) is a secret too, but optional: unset, the backend never calls Rasa (the
console's chat actions answer 503 and the no-agent check does not run). When set it
follows the same rules (blank is missing; in production no demo or short value; never
the same as a caller's secret).

The bot side applies the same rule in ``mitra_config/secrets.py`` (the two projects never
import each other's code, so the rule is written twice; keep them in step).
"""

from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


# The callers' secrets, one environment variable each (see app/core/security.py for what
# each caller may do).
CREDENTIAL_VARS = (
    "SERVICE_TOKEN",
    "ERP_API_KEY",
    "ADMIN_API_KEY",
    "PAYOUT_CALLBACK_TOKEN",
    "WHATSAPP_REPORT_TOKEN",
)

MIN_SECRET_BYTES = 32
# Every secret value that is (or was) committed to this repository or its docs.
DEMO_SECRET_VALUES = frozenset(
    {
        "demo-service-token",
        "demo-erp-key",
        "demo-admin-key",
        "demo-rasa-token",
        "demo-action-server-token",
        "sandbox-access-token",
        "sandbox-app-secret",
        "sandbox-verify-token",
        "test-service-token",
        "changeme",
    }
)
DEMO_SECRET_PREFIXES = ("demo-", "sandbox-", "test-", "changeme")


def is_demo_secret(value: str) -> bool:
    """A committed demo value, or anything that looks like one (case-insensitive)."""
    lowered = value.strip().lower()
    return lowered in DEMO_SECRET_VALUES or lowered.startswith(DEMO_SECRET_PREFIXES)


def production_secret_problem(name: str, value: SecretStr | None) -> str | None:
    """Why ``value`` may not be used as secret ``name`` in production, or None if it may."""
    if value is None:
        return f"{name} is not set (blank counts as missing)"
    secret = value.get_secret_value()
    if is_demo_secret(secret):
        return f"{name} holds a demo value"
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"{name} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = SettingsConfigDict(
        env_ignore_empty=True, extra="ignore", hide_input_in_errors=True
    )

    PROJECT_NAME: str = "Mitra loyalty backend"
    API_V1_STR: str = "/api/v1"

    # "development" (default), "test" or "production"; anything else is an error.
    APP_ENV: AppEnv = AppEnv.DEVELOPMENT

    DATABASE_URL: str = "sqlite:///./mitra.db"

    # One secret per caller; no defaults (see the module docstring).
    SERVICE_TOKEN: SecretStr | None = None  # the action server (read-only bot)
    ERP_API_KEY: SecretStr | None = None  # the brand's ERP/DMS
    ADMIN_API_KEY: SecretStr | None = None  # admin automation
    PAYOUT_CALLBACK_TOKEN: SecretStr | None = None  # the payout provider's callbacks
    # The WhatsApp connector reports how the program's notices went (issue 21).
    WHATSAPP_REPORT_TOKEN: SecretStr | None = None

    # Rasa's HTTP API (hand-off to a person, issue 20): replies from the support console,
    # hand-back and the no-agent notice go there, with ``?token=RASA_AUTH_TOKEN``.
    RASA_URL: str = "http://127.0.0.1:5005"
    RASA_AUTH_TOKEN: SecretStr | None = None
    # Seconds to wait for Rasa before the console says "the chat service is unavailable".
    # A hand-back runs a whole turn (the bot speaks first), so allow for a busy Rasa.
    RASA_TIMEOUT_SECONDS: float = 15.0

    # The notifier (`python -m app.notifier`, issue 21) drains the notification outbox into
    # Rasa: at most NOTIFIER_MAX_PER_SECOND triggers per second overall (Meta's 80
    # messages/s per number), at most one per partner per NOTIFIER_PARTNER_INTERVAL_SECONDS
    # (Meta's pair rate limit, error 131056), NOTIFIER_CONCURRENCY triggers at once; it
    # leases NOTIFIER_BATCH due rows at a time for NOTIFIER_LEASE_SECONDS (a row leased by
    # a notifier that died is leased again after that) and looks again every
    # NOTIFIER_IDLE_SECONDS when nothing is due. A failed trigger waits 1 s, 2 s, 4 s ...
    # up to NOTIFIER_BACKOFF_MAX_SECONDS before its next try.
    NOTIFIER_MAX_PER_SECOND: float = 80.0
    NOTIFIER_CONCURRENCY: int = 8
    NOTIFIER_BATCH: int = 200
    NOTIFIER_LEASE_SECONDS: float = 120.0
    NOTIFIER_IDLE_SECONDS: float = 1.0
    NOTIFIER_PARTNER_INTERVAL_SECONDS: float = 6.0
    NOTIFIER_BACKOFF_MAX_SECONDS: float = 300.0

    # Support hours and the no-agent timeout come from content/support.yml; tests (and a
    # demo outside office hours) may override them. SUPPORT_HOURS_ALWAYS_OPEN: unset = the
    # file decides, true = always open, false = closed now.
    SUPPORT_HOURS_ALWAYS_OPEN: bool | None = None
    HANDOFF_TIMEOUT_SECONDS: int | None = None
    # How often the backend looks for hand-offs nobody claimed in time.
    HANDOFF_CHECK_INTERVAL_SECONDS: float = 15.0

    # Support console demo logins, created or updated by `python -m app.initial_data`
    # outside production (both values needed; generated into .env by `make run`).
    DEMO_AGENT_EMAIL: str | None = None
    DEMO_AGENT_PASSWORD: SecretStr | None = None
    DEMO_ADMIN_EMAIL: str | None = None
    DEMO_ADMIN_PASSWORD: SecretStr | None = None
    # The console's session cookie is Secure in production; set this to force it either
    # way (unset: production only, since development and test serve plain http).
    CONSOLE_COOKIE_SECURE: bool | None = None

    # `python -m app.initial_data` seeds the demo partners outside development/test only
    # when asked: `--demo` or SEED_DEMO=1.
    SEED_DEMO: bool = False

    # Earned points expire at the end of the WIB day this many days after they were
    # earned (per lot).
    EXPIRY_DAYS: int = 365
    # Rolling window used for the default tiers when they are seeded.
    TIER_WINDOW_DAYS: int = 365
    # "Expiring soon" on the balance endpoint.
    EXPIRING_SOON_DAYS: int = 30

    # Claims (app/services/fraud.py): more claims than this by one partner within an hour
    # (a day) go to review; so does a line above the hard limit, or above FACTOR times
    # the partner's median for that SKU (with at least 3 earlier approved lines).
    CLAIM_VELOCITY_PER_HOUR: int = 10
    CLAIM_VELOCITY_PER_DAY: int = 30
    CLAIM_QUANTITY_REVIEW_LIMIT: int = 2000
    CLAIM_QUANTITY_HISTORY_FACTOR: int = 5

    # Rewards (app/services/fulfilment.py): who pays out e-wallet/pulsa and cashback
    # redemptions. "fake" is the development and test provider; its mode: "instant"
    # (paid at once), "async" (pending until POST /integrations/payouts/fake/callback)
    # or "fail" (refused: the redemption is cancelled and its points refunded).
    PAYOUT_PROVIDER: str = "fake"
    PAYOUT_FAKE_MODE: Literal["instant", "async", "fail"] = "instant"

    LOG_LEVEL: str = "INFO"
    # "json" (one JSON object per line) or "kv" (key=value).
    LOG_FORMAT: str = "json"

    @field_validator("APP_ENV", mode="before")
    @classmethod
    def _normalise_env(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        *CREDENTIAL_VARS,
        "RASA_AUTH_TOKEN",
        "DEMO_AGENT_PASSWORD",
        "DEMO_ADMIN_PASSWORD",
        "DEMO_AGENT_EMAIL",
        "DEMO_ADMIN_EMAIL",
        mode="before",
    )
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _psycopg3_driver(cls, value: str) -> str:
        # Accept the usual spellings and always talk to PostgreSQL through psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _secrets_fit_the_environment(self) -> Self:
        problems: list[str] = []
        seen: dict[str, str] = {}
        for name in CREDENTIAL_VARS:
            value = self.credential(name)
            if value is None:
                continue
            if value in seen:
                problems.append(f"{name} and {seen[value]} hold the same secret")
            seen.setdefault(value, name)
        rasa_token = self.rasa_token
        if rasa_token is not None and rasa_token in seen:
            problems.append(f"RASA_AUTH_TOKEN and {seen[rasa_token]} hold the same secret")
        if self.APP_ENV is AppEnv.PRODUCTION:
            for name in CREDENTIAL_VARS:
                problem = production_secret_problem(name, getattr(self, name))
                if problem:
                    problems.append(problem)
            if self.RASA_AUTH_TOKEN is not None:
                problem = production_secret_problem("RASA_AUTH_TOKEN", self.RASA_AUTH_TOKEN)
                if problem:
                    problems.append(problem)
        if problems:
            hint = "production refuses to start: " if self.APP_ENV is AppEnv.PRODUCTION else ""
            raise ValueError(
                hint + "; ".join(problems) + ". Give each caller its own random secret of at least "
                f"{MIN_SECRET_BYTES} bytes, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )
        return self

    def credential(self, name: str) -> str | None:
        """The plain value of one of CREDENTIAL_VARS, or None when that caller is disabled."""
        value: SecretStr | None = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    @property
    def rasa_token(self) -> str | None:
        """RASA_AUTH_TOKEN's plain value, or None: the backend then never calls Rasa."""
        value = self.RASA_AUTH_TOKEN
        return value.get_secret_value() if value is not None else None

    @property
    def console_cookie_secure(self) -> bool:
        if self.CONSOLE_COOKIE_SECURE is not None:
            return self.CONSOLE_COOKIE_SECURE
        return self.APP_ENV is AppEnv.PRODUCTION

    @property
    def demo_data_allowed(self) -> bool:
        """Demo partners may be seeded without asking in development and test only."""
        return self.APP_ENV in (AppEnv.DEVELOPMENT, AppEnv.TEST) or self.SEED_DEMO


@lru_cache
def get_settings() -> Settings:
    return Settings()


settings = get_settings()
