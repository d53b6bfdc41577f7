"""A partner's sales and display claims (service token)."""

from fastapi import APIRouter

router = APIRouter(tags=["claims"])
