"""Settings from environment variables, with defaults that make a local run work."""

from functools import lru_cache

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    PROJECT_NAME: str = "Mitra loyalty backend"
    API_V1_STR: str = "/api/v1"

    DATABASE_URL: str = "sqlite:///./mitra.db"
    # Shared secret with the action server. The default is the committed demo value
    # (.env.example); a real deployment sets its own.
    SERVICE_TOKEN: str = "demo-service-token"  # noqa: S105 (public demo value)

    # Earned points expire this many days after they were earned (per lot).
    EXPIRY_DAYS: int = 365
    # Rolling window used for the default tiers when they are seeded.
    TIER_WINDOW_DAYS: int = 365
    # "Expiring soon" on the balance endpoint.
    EXPIRING_SOON_DAYS: int = 30

    LOG_LEVEL: str = "INFO"
    # "json" (one JSON object per line) or "kv" (key=value).
    LOG_FORMAT: str = "json"

    @field_validator("DATABASE_URL")
    @classmethod
    def _psycopg3_driver(cls, value: str) -> str:
        # Accept the usual spellings and always talk to PostgreSQL through psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()


settings = get_settings()
