"""Products and how partners name them (service token: read)."""

from fastapi import APIRouter

router = APIRouter(tags=["catalogue"])
