"""Invoice photo reading (service token)."""

from fastapi import APIRouter

router = APIRouter(tags=["ocr"])
