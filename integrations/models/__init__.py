from .accounts import Account, AccountStatus, AuthType, CrmKind
from .audit import AuditAction, AuditEntry
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
from .replay import ItemState, LeadRevision, Replay, ReplayItem, ReplayKind, ReplayState

__all__ = [
    "RECIPIENT_CRM",
    "Account",
    "AccountStatus",
    "Action",
    "Attempt",
    "AuditAction",
    "AuditEntry",
    "AuthType",
    "CrmKind",
    "Delivery",
    "DeliveryStatus",
    "DuplicateMatch",
    "FieldMapping",
    "ItemState",
    "Flow",
    "Lead",
    "LeadRevision",
    "LeadStatus",
    "OnError",
    "Outcome",
    "Recipient",
    "Replay",
    "ReplayItem",
    "ReplayKind",
    "ReplayState",
    "Source",
    "Step",
    "StepKind",
    "time_ordered_uuid",
]
