"""All models, imported here so ``Base.metadata`` knows every table."""

from app.models.audit import AuditLog
from app.models.base import Base
from app.models.catalogue import EarnRule, Product, ProductSynonym
from app.models.claim import Claim, ClaimImage, ClaimLine
from app.models.consent import ConsentRecord
from app.models.console_user import ConsoleSession, ConsoleUser
from app.models.erp import ERPSalesLine
from app.models.handoff import Handoff
from app.models.notification import Notification
from app.models.partner import Partner
from app.models.points import LedgerEntry, LotConsumption, PointsAccount, PointsLot
from app.models.questionnaire import Questionnaire, QuestionnaireAnswer, QuestionnaireAttempt
from app.models.reward import Redemption, Reward, VoucherCode
from app.models.tier import Tier

__all__ = [
    "AuditLog",
    "Base",
    "Claim",
    "ClaimImage",
    "ClaimLine",
    "ConsentRecord",
    "ConsoleSession",
    "ConsoleUser",
    "ERPSalesLine",
    "EarnRule",
    "Handoff",
    "LedgerEntry",
    "LotConsumption",
    "Notification",
    "Partner",
    "PointsAccount",
    "PointsLot",
    "Product",
    "ProductSynonym",
    "Questionnaire",
    "QuestionnaireAnswer",
    "QuestionnaireAttempt",
    "Redemption",
    "Reward",
    "Tier",
    "VoucherCode",
]
