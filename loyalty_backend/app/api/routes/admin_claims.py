"""Claim review for admins (admin key)."""

from fastapi import APIRouter

router = APIRouter(tags=["admin-claims"])
