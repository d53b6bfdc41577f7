from fastapi import APIRouter

from app.api.routes import admin_partners, admin_points, partners, points, tiers

api_router = APIRouter()
api_router.include_router(partners.router)
api_router.include_router(points.router)
api_router.include_router(tiers.router)
api_router.include_router(admin_points.router)
api_router.include_router(admin_partners.router)
