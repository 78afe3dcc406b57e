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
from .health import (
    LATENCY_BOUNDS_MS,
    LATENCY_FIELDS,
    AlertState,
    DailyCounter,
    Metric,
    Threshold,
)
from .leads import Lead, LeadStatus, time_ordered_uuid

__all__ = [
    "LATENCY_BOUNDS_MS",
    "LATENCY_FIELDS",
    "RECIPIENT_CRM",
    "Account",
    "AccountStatus",
    "Action",
    "AlertState",
    "Attempt",
    "AuthType",
    "CrmKind",
    "DailyCounter",
    "Delivery",
    "DeliveryStatus",
    "DuplicateMatch",
    "FieldMapping",
    "Flow",
    "Lead",
    "LeadStatus",
    "Metric",
    "OnError",
    "Outcome",
    "Recipient",
    "Source",
    "Step",
    "StepKind",
    "Threshold",
    "time_ordered_uuid",
]
