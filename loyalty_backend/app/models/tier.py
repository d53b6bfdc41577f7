from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Tier(Base):
    """A tier rule, kept as data: reach ``min_points`` earned within ``window_days``."""

    __tablename__ = "tier"
    __table_args__ = (
        CheckConstraint("min_points >= 0", name="min_points_non_negative"),
        CheckConstraint("window_days > 0", name="window_days_positive"),
        CheckConstraint("multiplier_percent > 0", name="multiplier_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    min_points: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    # Earn multiplier as an integer percent (125 = 1.25x), so points stay integers.
    multiplier_percent: Mapped[int] = mapped_column(Integer, default=100)
    window_days: Mapped[int] = mapped_column(Integer)
