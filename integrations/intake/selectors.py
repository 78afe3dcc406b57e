"""What the status endpoint (and `?wait=`) answers about a lead."""

from __future__ import annotations

from typing import Any

from integrations.models import FilterAction, Lead, LeadStatus, StepKind


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
        **lead_journey(lead),
    }


def lead_journey(lead: Lead) -> dict[str, Any]:
    """Where the lead's flow stopped and why, and the leads a filter routed it to/from."""
    stopped = None
    if lead.stopped_at_id is not None and lead.stopped_at is not None:
        step = lead.stopped_at
        routed = step.kind == StepKind.FILTER and step.filter_action == FilterAction.ROUTE
        stopped = {
            "step": step.name,
            "kind": step.kind,
            "reason": lead.stop_reason,
            "routed_to_flow": step.route_flow_id if routed else None,
        }
    return {
        "stopped": stopped,
        "routed_to": [
            str(pk) for pk in Lead.objects.filter(routed_from=lead).values_list("pk", flat=True)
        ],
        "routed_from": str(lead.routed_from_id) if lead.routed_from_id else None,
    }
