from fastapi import APIRouter

from app.api.routes import (
    admin_claims,
    admin_partners,
    admin_points,
    admin_quizzes,
    admin_rewards,
    catalogue,
    claims,
    erp,
    handoffs,
    notifications,
    ocr,
    partners,
    payouts,
    points,
    quizzes,
    rewards,
    tiers,
)

api_router = APIRouter()
api_router.include_router(partners.router)
api_router.include_router(points.router)
api_router.include_router(tiers.router)
api_router.include_router(admin_points.router)
api_router.include_router(admin_partners.router)
api_router.include_router(catalogue.router)
api_router.include_router(erp.router)
api_router.include_router(ocr.router)
api_router.include_router(claims.router)
api_router.include_router(admin_claims.router)
api_router.include_router(rewards.router)
api_router.include_router(admin_rewards.router)
api_router.include_router(payouts.router)
api_router.include_router(quizzes.router)
api_router.include_router(admin_quizzes.router)
api_router.include_router(handoffs.router)
api_router.include_router(notifications.router)
