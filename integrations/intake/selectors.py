"""What the status endpoint (and `?wait=`) answers about a lead."""

from __future__ import annotations

from typing import Any

from integrations.models import Lead, LeadStatus


def lead_document(lead: Lead) -> dict[str, Any]:
    deliveries = list(lead.deliveries.select_related("step").order_by("step__position", "pk"))
    status = lead.status
    if status == LeadStatus.QUEUED and any(d.attempt_count for d in deliveries):
        status = LeadStatus.PROCESSING
    return {
        "id": str(lead.id),
        "flow": lead.flow_id,
        "status": status,
        "received_at": lead.received_at.isoformat(),
        "steps": [
            {
                "step": d.step.name,
                "status": d.status,
                "outcome": d.outcome or None,
                "reason": d.reason or None,
                "contact_id": d.contact_id or None,
                "duplicate": d.duplicate,
                "attempts": d.attempt_count,
                "response_ms": d.response_ms,
            }
            for d in deliveries
        ],
    }
