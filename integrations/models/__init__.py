from .accounts import Account, AccountStatus, AuthType, CrmKind
from .deliveries import Attempt, Delivery, DeliveryStatus, Outcome
from .flows import (
    RECIPIENT_CRM,
    Action,
    DuplicateMatch,
    FieldMapping,
    Flow,
    OnError,
    Recipient,
    Source,
    Step,
    StepKind,
)
from .leads import Lead, LeadStatus, time_ordered_uuid
from .ratelimits import RateLimitState

__all__ = [
    "RECIPIENT_CRM",
    "Account",
    "AccountStatus",
    "Action",
    "Attempt",
    "AuthType",
    "CrmKind",
    "Delivery",
    "DeliveryStatus",
    "DuplicateMatch",
    "FieldMapping",
    "Flow",
    "Lead",
    "LeadStatus",
    "OnError",
    "Outcome",
    "RateLimitState",
    "Recipient",
    "Source",
    "Step",
    "StepKind",
    "time_ordered_uuid",
]
