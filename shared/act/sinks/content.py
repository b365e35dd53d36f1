"""What a sink says about an insight (:class:`TicketContent`), as plain text and Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from shared.act.synthesis import InsightSummary, scope_phrase, theme_label
from shared.insights import EvidenceQuote, Insight


class FactsSnapshot(BaseModel):
    """What a destination was last told about an insight (the baseline of an update)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume: int
    previous_volume: int
    velocity: float
    negative_share: float
    severity: str
    urgency_high: int
    confidence: float
    evidence_ids: tuple[str, ...]
    run_id: str

    @classmethod
    def of(cls, insight: Insight, run_id: str) -> FactsSnapshot:
        return cls(
            volume=insight.volume,
            previous_volume=insight.previous_volume,
            velocity=insight.finite_velocity,
            negative_share=insight.negative_share,
            severity=insight.severity,
            urgency_high=insight.urgency_high,
            confidence=insight.confidence,
            evidence_ids=tuple(q.record_id for q in insight.evidence),
            run_id=run_id,
        )


@dataclass(frozen=True, slots=True)
class TicketContent:
    """Everything a sink renders for one insight."""

    insight: Insight
    summary: InsightSummary
    owner: str
    rule: str | None  # None: no rule matched, the default route
    run_id: str
    export_location: str
    insight_url: str | None = None
    related: tuple[tuple[str, str], ...] = ()  # (label, url) of this insight's tickets
    previous: FactsSnapshot | None = None  # set for an update
    teams: tuple[str, ...] = ()  # owner teams offered by Reassign

    @property
    def key(self) -> str:
        return self.insight.insight_key

    @property
    def refs(self) -> dict[str, str]:
        """record id -> ``E<n>``, the evidence numbering every rendering uses."""
        return {q.record_id: f"E{n}" for n, q in enumerate(self.insight.evidence, 1)}

    def fresh_evidence(self, limit: int = 3) -> list[EvidenceQuote]:
        """Quotes this destination has not been shown yet (else the first few)."""
        seen = set(self.previous.evidence_ids) if self.previous else set()
        fresh = [q for q in self.insight.evidence if q.record_id not in seen]
        return (fresh or list(self.insight.evidence))[:limit]

    def links(self) -> list[tuple[str, str]]:
        found = list(self.related)
        if self.insight_url:
            found.append(("Insight", self.insight_url))
        found.append((f"Export {self.run_id}", self.export_location))
        return found


def ticket_title(content: TicketContent) -> str:
    insight = content.insight
    return (
        f"[insightloop] {theme_label(insight.theme)}{scope_phrase(insight)} "
        f"({insight.window_start.isoformat()} to {insight.window_end.isoformat()})"
    )


def trend_short(insight: Insight | FactsSnapshot) -> str:
    if insight.previous_volume == 0:
        return "new"
    velocity = insight.velocity
    return f"{velocity if velocity is not None and math.isfinite(velocity) else 0.0:+.0%}"


def fact_rows(insight: Insight) -> list[tuple[str, str]]:
    return [
        ("Volume", f"{insight.volume} (previous window {insight.previous_volume})"),
        ("Trend", trend_short(insight)),
        ("Negative share", f"{insight.negative_share:.0%}"),
        ("Severity", insight.severity),
        ("High urgency", f"{insight.urgency_high} records"),
        ("Confidence", f"{insight.confidence:.2f}"),
        ("Window", f"{insight.window_start.isoformat()} to {insight.window_end.isoformat()}"),
    ]


def change_rows(content: TicketContent) -> list[tuple[str, str]]:
    """Now versus what this destination saw last."""
    now, before = content.insight, content.previous
    if before is None:
        return fact_rows(now)

    def pair(old: str, new: str) -> str:
        return new if old == new else f"{old} → {new}"

    return [
        ("Volume", pair(str(before.volume), str(now.volume))),
        ("Trend", pair(trend_short(before), trend_short(now))),
        ("Negative share", pair(f"{before.negative_share:.0%}", f"{now.negative_share:.0%}")),
        ("Severity", pair(before.severity, now.severity)),
        ("High urgency", pair(str(before.urgency_high), str(now.urgency_high)) + " records"),
    ]


def owner_line(content: TicketContent) -> str:
    if content.rule is None:
        return f"{content.owner} (no routing rule matched: default route, lower priority)"
    return f"{content.owner} (routing rule {content.rule})"


def citation(record_ids: tuple[str, ...], refs: dict[str, str]) -> str:
    return "[" + ", ".join(refs.get(record_id, record_id) for record_id in record_ids) + "]"


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def plain_text(content: TicketContent, *, update: bool = False) -> str:
    """ServiceNow description / work note: plain text with the same sections."""
    refs = content.refs
    lines: list[str] = []
    if update:
        lines += [f"Update from export {content.run_id}", ""]
        lines += [f"- {name}: {value}" for name, value in change_rows(content)]
    else:
        lines += [f"- {name}: {value}" for name, value in fact_rows(content.insight)]
    lines += ["", "Summary:"]
    lines += [f"{s.text} {citation(s.record_ids, refs)}" for s in content.summary.sentences]
    quotes = content.fresh_evidence() if update else list(content.insight.evidence)
    lines += ["", "New evidence:" if update else "Evidence:"]
    lines += [f'{refs[q.record_id]} "{q.quote}" (record {q.record_id})' for q in quotes]
    if not update:
        lines += ["", f"Suggested owner: {owner_line(content)}", "", "Links:"]
        lines += [f"- {label}: {target}" for label, target in content.links()]
        lines += ["", f"insightloop insight key {content.key}"]
    return "\n".join(lines)


def markdown(content: TicketContent, destination: str, where: str, note: str) -> str:
    """The outbox's readable copy of a ticket or message."""
    refs = content.refs
    out = [
        f"# {ticket_title(content)}",
        "",
        f"**Destination:** {destination} ({where}). {note}",
        "",
        "## Summary",
        "",
    ]
    out += [f"- {s.text} `{citation(s.record_ids, refs)}`" for s in content.summary.sentences]
    out += ["", "## Trend", "", "| | |", "| --- | --- |"]
    out += [f"| {name} | {value} |" for name, value in fact_rows(content.insight)]
    out += ["", "## Evidence", ""]
    out += [
        f"- **{refs[q.record_id]}** “{q.quote}” (record `{q.record_id}`)"
        for q in content.insight.evidence
    ]
    out += ["", "## Suggested owner", "", owner_line(content), "", "## Links", ""]
    out += [f"- {label}: {target}" for label, target in content.links()]
    out += ["", f"Insight key `{content.key}`", ""]
    return "\n".join(out)
