"""What each notice is and when it may go, from ``content/notifications.yml`` (issue 21).

The file is data: per kind its category (``service``/``marketing``), the WhatsApp
template used outside the 24-hour window and the order of its parameters; quiet hours
and the marketing cap; the days for dormant nudges and expiry reminders; the region ->
time zone map (WIB/WITA/WIT); the anniversary voucher and event-attendance rules. It is
read and checked once per process (``load_rules``); a mistake is reported as
``NotificationRulesError`` naming the file and the field, e.g.
``content/notifications.yml: kinds.tier_up.template.parameters: unknown parameter 'level'``.

The kinds and their params are the contract's (docs/contracts.md, "Notices the program
sends first"), so they are fixed here (``KIND_PARAMS``); only the contract's service kinds
may be ``service`` (a marketing notice may never reach a partner who opted out).
"""

import re
from datetime import datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.clock import WIB
from app.core.content_files import parse_content, read_content

RULES_FILE = Path(__file__).resolve().parents[3] / "content" / "notifications.yml"

# Kind -> its params, in the contract's order (all plain JSON values; points are ints).
KIND_PARAMS: dict[str, tuple[str, ...]] = {
    "claim_approved": ("claim_no", "points"),
    "claim_rejected": ("claim_no", "reason_id", "reason_en"),
    "points_credited": ("points", "balance", "source_id", "source_en"),
    "tier_up": ("tier",),
    "points_expiring": ("points", "date"),
    "redemption_fulfilled": ("redemption_no", "reward_id", "reward_en"),
    "redemption_shipped": ("redemption_no", "reward_id", "reward_en", "tracking"),
    "redemption_delivered": ("redemption_no", "reward_id", "reward_en"),
    "redemption_cancelled": ("redemption_no", "points"),
    "quiz_new": ("quiz_code", "title_id", "title_en", "points"),
    "weekly_summary": ("points", "rank", "region"),
    "dormant_nudge": ("days",),
    "birthday_voucher": ("voucher_code", "reward_id", "reward_en"),
    "event_points": ("event_id", "event_en", "points"),
}
SERVICE_KINDS = frozenset(
    {
        "claim_approved",
        "claim_rejected",
        "points_credited",
        "tier_up",
        "points_expiring",
        "redemption_fulfilled",
        "redemption_shipped",
        "redemption_delivered",
        "redemption_cancelled",
    }
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TEMPLATE_NAME = r"^[a-z0-9_]{1,512}$"  # WhatsApp template names


class NotificationRulesError(ValueError):
    """content/notifications.yml cannot be used; the message names the file and the fields."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Template(_Strict):
    name: str = Field(pattern=_TEMPLATE_NAME)
    parameters: tuple[str, ...] = ()


class KindRule(_Strict):
    category: Literal["service", "marketing"]
    template: Template


class QuietHours(_Strict):
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _HHMM.fullmatch(value.strip())
            if not match:
                raise ValueError(f"{value!r} is not HH:MM")
            return time(int(match[1]), int(match[2]))
        return value

    def contains(self, local: time) -> bool:
        """Whether a local time of day is quiet (the period may run over midnight)."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class MarketingCap(_Strict):
    messages: int = Field(ge=1, le=50)
    hours: int = Field(ge=1, le=24 * 7)


class WeeklySummary(_Strict):
    min_points: int = Field(default=1, ge=0)


class Zone(_Strict):
    utc_offset_hours: int = Field(ge=-12, le=14)
    regions: tuple[str, ...] = ()


class TimeZones(_Strict):
    default: str
    zones: dict[str, Zone]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.default not in self.zones:
            raise ValueError(f"default zone {self.default!r} is not one of the zones")
        seen: dict[str, str] = {}
        for name, zone in self.zones.items():
            for region in zone.regions:
                if not region.strip():
                    raise ValueError(f"zone {name} has an empty region")
                if region in seen:
                    raise ValueError(f"region {region!r} is in both {seen[region]} and {name}")
                seen[region] = name
        return self


class Gift(_Strict):
    id: str = Field(min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=120)


class Anniversary(_Strict):
    enabled: bool = False
    voucher_code: str | None = Field(default=None, pattern=r"^[A-Z0-9-]{3,32}$")
    gift: Gift | None = None
    min_years: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.enabled and (self.voucher_code is None or self.gift is None):
            raise ValueError("an enabled anniversary needs voucher_code and gift")
        return self


class Events(_Strict):
    dir: str = "events"
    max_points: int = Field(default=1000, ge=1)


class NotificationRules(_Strict):
    kinds: dict[str, KindRule]
    quiet_hours: QuietHours
    marketing_cap: MarketingCap
    dormant_days: int = Field(ge=1, le=3650)
    expiring_days: tuple[int, ...] = Field(min_length=1)
    weekly_summary: WeeklySummary = WeeklySummary()
    time_zones: TimeZones
    anniversary: Anniversary = Anniversary()
    events: Events = Events()

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: dict[str, KindRule]) -> dict[str, KindRule]:
        problems = []
        unknown = sorted(set(value) - set(KIND_PARAMS))
        if unknown:
            problems.append(f"unknown kind(s) {', '.join(unknown)}")
        missing = [kind for kind in KIND_PARAMS if kind not in value]
        if missing:
            problems.append(f"missing kind(s) {', '.join(missing)}")
        for kind, rule in value.items():
            if kind not in KIND_PARAMS:
                continue
            if rule.category == "service" and kind not in SERVICE_KINDS:
                problems.append(f"{kind}: only the contract's service kinds may be service")
            names = rule.template.parameters
            for name in names:
                if name not in KIND_PARAMS[kind]:
                    problems.append(f"{kind}.template.parameters: unknown parameter {name!r}")
            if len(set(names)) != len(names):
                problems.append(f"{kind}.template.parameters: a parameter is listed twice")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("expiring_days")
    @classmethod
    def _expiring(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= days <= 365 for days in value):
            raise ValueError("days must be between 1 and 365")
        if len(set(value)) != len(value):
            raise ValueError("a day count is listed twice")
        return tuple(sorted(value, reverse=True))

    # --- reading the rules ---------------------------------------------------------------

    def category(self, kind: str) -> str:
        return self.kinds[kind].category

    def zone_for(self, region: str | None) -> tzinfo:
        """The partner's time zone by region (the default zone for an unknown region)."""
        name = self.zone_name(region)
        hours = self.time_zones.zones[name].utc_offset_hours
        return WIB if (name, hours) == ("WIB", 7) else timezone(timedelta(hours=hours), name)

    def zone_name(self, region: str | None) -> str:
        for name, zone in self.time_zones.zones.items():
            if region in zone.regions:
                return name
        return self.time_zones.default

    def quiet_until(self, region: str | None, now: datetime) -> datetime | None:
        """When quiet hours end in the partner's zone, if ``now`` is inside them."""
        zone = self.zone_for(region)
        local = now.astimezone(zone)
        if not self.quiet_hours.contains(local.time()):
            return None
        end = datetime.combine(local.date(), self.quiet_hours.end, tzinfo=zone)
        if end <= local:
            end += timedelta(days=1)
        return end

    def template_parameters(self, kind: str, params: dict[str, Any]) -> list[str]:
        """The template's body parameters, as text, in the file's order."""
        return [_text(params.get(name)) for name in self.kinds[kind].template.parameters]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")  # Indonesian thousands: 1.250
    return str(value)


def parse_rules(raw: Any, source: str = "content/notifications.yml") -> NotificationRules:
    """Check the file's content; NotificationRulesError lists every problem."""
    return parse_content(raw, NotificationRules, NotificationRulesError, source)


@lru_cache
def load_rules(path: Path = RULES_FILE) -> NotificationRules:
    """The file, read and checked once per process (per path)."""
    return read_content(path, NotificationRules, NotificationRulesError)
