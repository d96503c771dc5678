"""Every audit event, forwarded to RTCOPS_AUDIT_WEBHOOK through the outbox: a webhook notice is written in the
same flush as the event, so an event is never forwarded without having happened, nor lost between the two.

The rule sits at the session rather than at each place an event is written (the store's moves, grants, the
CLI, the watcher's future incidents): whatever adds an `AuditEvent` to a session of a forwarding factory gets
its notice. `session_factory(engine, audit_feed=True)` makes one (bot.store.engine).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.domain import NoticeKind
from bot.store.models import AuditEvent, Notice
from bot.store.outbox import PENDING, WEBHOOK_LANE


class ForwardingSession(Session):
    """A session whose new audit events each bring a webhook notice."""


@event.listens_for(ForwardingSession, "before_flush")
def _forward(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.new):
        if isinstance(obj, AuditEvent) and not obj.__dict__.get("_forwarded"):
            obj.__dict__["_forwarded"] = True
            session.add(
                Notice(
                    team_id=obj.team_id,
                    lane=WEBHOOK_LANE,
                    kind=NoticeKind.AUDIT_WEBHOOK.value,
                    change_request_id=None,
                    payload={},
                    state=PENDING,
                    attempts=0,
                    created_at=obj.at,
                    next_at=obj.at,
                    audit_event=obj,
                )
            )
