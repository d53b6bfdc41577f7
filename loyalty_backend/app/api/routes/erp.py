"""ERP/DMS integration: sales lines pushed by the brand's ERP (ERP key)."""

from fastapi import APIRouter

router = APIRouter(tags=["erp"])
