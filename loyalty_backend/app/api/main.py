from fastapi import APIRouter

from app.api.routes import partners, points, tiers

api_router = APIRouter()
api_router.include_router(partners.router)
api_router.include_router(points.router)
api_router.include_router(tiers.router)
