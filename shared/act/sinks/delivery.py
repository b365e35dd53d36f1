"""What every sink does (:class:`Sink`) and what it answers (:class:`Delivery`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.act.sinks.content import TicketContent
from shared.act.sinks.targets import DestinationKind


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an insight landed at a sink."""

    external_id: str | None
    external_url: str | None = None
    ref: dict[str, str] = field(default_factory=dict)  # what an update needs (sys_id, channel)
    adopted: bool = False  # found by its marker: created earlier, its state write was lost


class Sink(Protocol):
    kind: DestinationKind
    name: str  # the kind for a live sink, "outbox" for the outbox

    def create(self, content: TicketContent, target: Any) -> Delivery: ...

    def update(self, content: TicketContent, target: Any, delivered: Delivery) -> Delivery: ...
