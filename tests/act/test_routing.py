"""Routing: rules, synthesis, and real HTTP to loopback Jira, ServiceNow, Slack and Teams."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import orjson
import pytest
from azure.functions.blob import InputStream
from pydantic import SecretStr

from functions import routing as routing_functions
from shared.act.routing import (
    Router,
    RoutingConfig,
    RoutingState,
    get_router,
    get_routing_config,
    load_routing_config,
)
from shared.act.sinks import retry_after_seconds
from shared.act.synthesis import Synthesizer, extractive_summary
from shared.decide.taxonomy import get_taxonomy
from shared.errors import ConfigError, TransientError
from shared.insights import EvidenceQuote, Insight, InsightExport
from shared.settings import PROJECT_ROOT, Settings, get_settings
from shared.storage import LocalStorage
from tests.openai_server import OpenAIServer
from tests.openai_server import Reply as ModelReply
from tests.sink_servers import (
    JiraServer,
    Reply,
    ServiceNowServer,
    SlackServer,
    TeamsServer,
    adf_problems,
)

JIRA_EMAIL = "routing@example.test"
JIRA_TOKEN = "jira-test-token"  # noqa: S105 - the fake Jira's fake token
SNOW_USER = "insightloop"
SNOW_PASSWORD = "snow-test-password"  # noqa: S105 - the fake instance's fake password
SLACK_TOKEN = "xoxb-test-token"  # noqa: S105 - the fake workspace's fake token
TEAMS_SIG = "teams-test-signature"
WEEK = (date(2026, 11, 23), date(2026, 11, 29))
QUOTES = [
    ("Payment failed three times at checkout and then I was charged twice.", "negative"),
    ("Card declined at the payment step although my bank says it is fine.", "negative"),
    ("Checkout spins forever after I press pay, had to give up.", "negative"),
    ("The payment page throws an error code, <PERSON> from support could not help.", "negative"),
    ("Charged twice for one order and still waiting for the refund.", "negative"),
    ("Paid with PayPal in the end, that worked fine.", "positive"),
]

ALL_FOUR = """
version: test
review: {min_confidence: 0.6, min_volume: 5}
default:
  owner: customer_insights
  destinations:
    jira: {project: INS, issue_type: Task, priority: Low}
rules:
  - name: payments
    match: {themes: [checkout_payment]}
    owner: payments_engineering
    destinations:
      jira: {project: PAY, issue_type: Bug, priority: High}
      servicenow: {assignment_group: Payments Engineering, urgency: 1, impact: 2}
      slack: {channel: "#payments-alerts"}
      teams: {webhook_setting: INSIGHTLOOP_TEAMS_WEBHOOK_PAYMENTS}
synthesis: {prompt_version: test-v1, instructions: "Summarize with citations."}
"""


def record_id(n: int) -> str:
    return hashlib.sha256(f"record-{n}".encode()).hexdigest()[:32]


def evidence(*numbers: int) -> list[EvidenceQuote]:
    start = datetime(2026, 11, 24, 9, tzinfo=UTC)
    return [
        EvidenceQuote(
            record_id=record_id(n),
            quote=QUOTES[n % len(QUOTES)][0],
            sentiment=QUOTES[n % len(QUOTES)][1],
            created_at=start + timedelta(hours=n),
        )
        for n in numbers
    ]


def make_insight(**changes: Any) -> Insight:
    fields: dict[str, Any] = {
        "theme": "checkout_payment",
        "product": "*",
        "segment": "web",
        "window_start": WEEK[0],
        "window_end": WEEK[1],
        "volume": 40,
        "previous_volume": 20,
        "velocity": 1.0,
        "negative_share": 0.85,
        "severity": "medium",
        "confidence": 0.82,
        "urgency_high": 4,
        "suggested_owner": "payments",
        "evidence": evidence(0, 1, 2, 3),
    }
    fields.update(changes)
    return Insight(**fields)


def make_export(run_id: str, *insights: Insight) -> InsightExport:
    return InsightExport(
        run_id=run_id, generated_at=datetime(2026, 11, 27, 10, tzinfo=UTC), insights=list(insights)
    )


def config_from(tmp_path: Path, text: str) -> RoutingConfig:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return load_routing_config(path, get_taxonomy(PROJECT_ROOT / "prompts").theme_ids)


@dataclass
class Sinks:
    jira: JiraServer
    servicenow: ServiceNowServer
    slack: SlackServer
    teams: TeamsServer

    def environ(self) -> dict[str, str]:
        return {
            "INSIGHTLOOP_TEAMS_WEBHOOK_PAYMENTS": self.teams.webhook_url("payments"),
            "INSIGHTLOOP_TEAMS_WEBHOOK_MERCHANDISING": self.teams.webhook_url("merch"),
        }


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    servers = Sinks(
        JiraServer(JIRA_EMAIL, JIRA_TOKEN).start(),  # type: ignore[arg-type]
        ServiceNowServer(SNOW_USER, SNOW_PASSWORD).start(),  # type: ignore[arg-type]
        SlackServer(SLACK_TOKEN).start(),  # type: ignore[arg-type]
        TeamsServer(TEAMS_SIG).start(),  # type: ignore[arg-type]
    )
    yield servers
    for server in (servers.jira, servers.servicenow, servers.slack, servers.teams):
        server.stop()


def sink_settings(sinks: Sinks, root: Path, **changes: Any) -> dict[str, Any]:
    # Three attempts within 3 s: room for one Retry-After: 1, short enough for tests.
    return {
        "local_storage_root": root,
        "jira_base_url": sinks.jira.url,
        "jira_email": JIRA_EMAIL,
        "jira_api_token": JIRA_TOKEN,
        "servicenow_instance_url": sinks.servicenow.url,
        "servicenow_username": SNOW_USER,
        "servicenow_password": SNOW_PASSWORD,
        "slack_bot_token": SLACK_TOKEN,
        "slack_api_url": f"{sinks.slack.url}/api",
        "routing_http_timeout_seconds": 5,
        "routing_max_attempts": 3,
        "routing_retry_budget_seconds": 3,
        "routing_link_base_url": "https://insights.example.test/insights",
        **changes,
    }


@pytest.fixture
def settings(sinks: Sinks, tmp_path: Path) -> Settings:
    return Settings(**sink_settings(sinks, tmp_path / "storage"))


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.local_storage_root)


@pytest.fixture
def router_for(settings: Settings, storage: LocalStorage, sinks: Sinks, tmp_path: Path):
    built: list[Router] = []

    def build(config: str | RoutingConfig | None = ALL_FOUR, **kwargs: Any) -> Router:
        if isinstance(config, str):
            config = config_from(tmp_path, config)
        router = Router.from_settings(
            kwargs.pop("settings", settings),
            kwargs.pop("storage", storage),
            environ=kwargs.pop("environ", sinks.environ()),
            config=config,
        )
        built.append(router)
        return router

    yield build
    for router in built:
        router.close()


def events(storage: LocalStorage) -> list[dict[str, Any]]:
    rows = []
    for path in storage.list("landing", "routing_events/"):
        rows += [orjson.loads(line) for line in storage.read("landing", path)[0].splitlines()]  # type: ignore[index]
    return sorted(rows, key=lambda row: row["at"])


def actions(storage: LocalStorage, destination: str) -> list[str]:
    return [e["action"] for e in events(storage) if e["destination"] == destination]


def adf_text(node: Any) -> str:
    """The visible text of an ADF document, paragraphs on separate lines."""
    if isinstance(node, list):
        return "".join(adf_text(child) for child in node)
    if node.get("type") == "text":
        return node["text"]
    inner = adf_text(node.get("content", []))
    return f"{inner}\n" if node.get("type") in ("paragraph", "heading") else inner


def ledger(storage: LocalStorage, insight: Insight) -> RoutingState:
    data = storage.read("ledger", f"routing/{insight.insight_key}.json")
    assert data is not None
    return RoutingState.model_validate_json(data[0])


# ------------------------------------------------------------------ rules


def test_the_shipped_rules_load_and_every_theme_but_other_has_a_rule() -> None:
    config = get_routing_config(PROJECT_ROOT / "prompts")
    themes = {t for rule in config.rules for t in rule.match.themes}
    taxonomy = get_taxonomy(PROJECT_ROOT / "prompts")
    assert set(taxonomy.theme_ids) - themes == {"other"}
    assert "payments_engineering" in config.teams


@pytest.mark.parametrize(
    ("changes", "rule", "owner", "jira"),
    [
        (
            {"severity": "high", "velocity": 0.8},
            "payment_outage",
            "payments_engineering",
            "PAY/Highest",
        ),
        ({"severity": "medium"}, "payment_failures", "payments_engineering", "PAY/High"),
        (
            {"severity": "high", "velocity": 0.1},
            "payment_failures",
            "payments_engineering",
            "PAY/High",
        ),
        ({"theme": "sizing_fit"}, "sizing_fit", "merchandising", "MERCH/Medium"),
        (
            {"theme": "account_login", "urgency_high": 6},
            "account_lockouts",
            "identity_platform",
            "IAM/High",
        ),
        (
            {"theme": "account_login", "urgency_high": 1},
            "account_login",
            "identity_platform",
            "IAM/Medium",
        ),
        ({"theme": "shipping"}, "shipping", "logistics", None),
        ({"theme": "other", "suggested_owner": None}, None, "customer_insights", "INS/Low"),
        ({"theme": "other", "suggested_owner": "billing"}, None, "billing", "INS/Low"),
    ],
)
def test_the_first_matching_rule_wins_and_no_match_takes_the_low_priority_default(
    changes: dict[str, Any], rule: str | None, owner: str, jira: str | None
) -> None:
    decision = get_routing_config(PROJECT_ROOT / "prompts").decide(make_insight(**changes))
    assert (decision.rule, decision.owner, decision.review_reason) == (rule, owner, None)
    target = decision.destinations.jira
    assert (f"{target.project}/{target.priority}" if target else None) == jira


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"confidence": 0.41}, "low_confidence: 0.41 < 0.60"),
        ({"theme": "sizing_fit", "volume": 4}, "low_volume: 4 < 5"),
        ({"volume": 3}, None),  # the payments rules accept 3 records
        ({"volume": 2}, "low_volume: 2 < 3"),
        ({"evidence": []}, "no_evidence: an insight without evidence quotes makes no claim"),
    ],
)
def test_review_thresholds_come_from_the_file_and_a_rule_may_override_them(
    changes: dict[str, Any], reason: str | None
) -> None:
    decision = get_routing_config(PROJECT_ROOT / "prompts").decide(make_insight(**changes))
    assert decision.review_reason == reason


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("themes: [checkout_payment]", None),
        ("themes: [refunds_typo]", "themes the taxonomy lacks: ['refunds_typo']"),
        ("min_severity: urgent", "rules.0.match.min_severity"),
        ("colour: red", "rules.0.match.colour"),
    ],
)
def test_a_broken_routing_file_is_a_config_error(
    tmp_path: Path, broken: str, message: str | None
) -> None:
    text = ALL_FOUR.replace("match: {themes: [checkout_payment]}", f"match: {{{broken}}}")
    if message is None:
        config_from(tmp_path, text)
        return
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from(tmp_path, text)


def test_a_rule_without_destinations_is_refused(tmp_path: Path) -> None:
    text = (
        ALL_FOUR.split("    destinations:\n      jira: {project: PAY")[0] + "    destinations: {}\n"
    )
    text += 'synthesis: {prompt_version: v, instructions: "x"}\n'
    with pytest.raises(ConfigError, match="at least one destination"):
        config_from(tmp_path, text)


# ------------------------------------------------------------------ synthesis


def test_the_extractive_summary_cites_only_evidence_records_facts_first() -> None:
    insight = make_insight(evidence=evidence(0, 1, 2, 3, 5))
    summary = extractive_summary(insight)
    assert summary is not None and summary.method == "extractive"
    known = {q.record_id for q in insight.evidence}
    assert 2 <= len(summary.sentences) <= 4
    assert all(s.record_ids and set(s.record_ids) <= known for s in summary.sentences)
    facts = summary.sentences[0].text
    assert facts.startswith("40 records about checkout payment in the web segment between")
    assert "up 100% from 20 in the previous window; 85% negative." in facts
    for sentence in summary.sentences[1:]:
        (cited,) = sentence.record_ids
        quote = next(q.quote for q in insight.evidence if q.record_id == cited)
        assert quote in sentence.text  # verbatim, not paraphrased
    # Mostly negative: the positive quote is not picked as representative.
    assert record_id(5) not in {i for s in summary.sentences[1:] for i in s.record_ids}


def test_without_evidence_there_is_no_summary() -> None:
    assert extractive_summary(make_insight(evidence=[])) is None


@pytest.fixture
def model_server() -> Iterator[OpenAIServer]:
    running = OpenAIServer().start()
    yield running
    running.stop()


def llm_synthesizer(server: OpenAIServer) -> Synthesizer:
    from shared.decide.llm import ChatModel

    model = ChatModel.openai_compatible(
        base_url=f"{server.url}/v1", model="test-model", max_retries=0, timeout=5
    )
    return Synthesizer(model, instructions="Summarize with citations.", prompt_version="t-v1")


def test_an_llm_sentence_citing_no_or_an_unknown_record_is_dropped(
    model_server: OpenAIServer,
) -> None:
    answer = {
        "results": [
            {
                "text": "40 records about failed payments, double last week.",
                "evidence": ["E1", "E3"],
            },
            {"text": "The bank is clearly at fault.", "evidence": []},
            {"text": "A processor outage caused it.", "evidence": ["E9"]},
            {"text": "Customers report double charges.", "evidence": [record_id(0), "E2"]},
            {"text": "Some mention a made-up record.", "evidence": ["E1", "0" * 32]},
        ]
    }
    model_server.queue(ModelReply(content=json.dumps(answer)))
    insight = make_insight()

    summary = llm_synthesizer(model_server).summarize(insight)

    assert summary is not None and summary.method == "llm" and summary.model == "test-model"
    assert [s.text for s in summary.sentences] == [
        "40 records about failed payments, double last week.",
        "Customers report double charges.",
    ]
    assert summary.sentences[0].record_ids == (record_id(0), record_id(2))
    assert summary.sentences[1].record_ids == (record_id(0), record_id(1))
    assert summary.dropped_sentences == 3
    (request,) = model_server.requests
    assert request.body["response_format"]["json_schema"]["strict"] is True
    sent = json.loads(request.body["messages"][-1]["content"])
    assert [e["ref"] for e in sent["evidence"]] == ["E1", "E2", "E3", "E4"]
    assert record_id(0) not in request.body["messages"][-1]["content"]  # refs, not ids


@pytest.mark.parametrize(
    "reply",
    [
        ModelReply(content=json.dumps({"results": [{"text": "Unbacked.", "evidence": ["E7"]}]})),
        ModelReply(status=500),
        ModelReply(content="{not json"),
    ],
)
def test_an_unusable_llm_answer_falls_back_to_the_extractive_summary(
    model_server: OpenAIServer, reply: ModelReply
) -> None:
    model_server.queue(reply)
    insight = make_insight()
    summary = llm_synthesizer(model_server).summarize(insight)
    assert summary is not None and summary.method == "extractive" and summary.fallback_reason
    assert summary.sentences == extractive_summary(insight).sentences  # type: ignore[union-attr]


# ------------------------------------------------------------------ routing to the sinks


def test_payloads_have_the_shapes_each_service_expects(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    insight = make_insight()
    report = router_for().route(make_export("run-1", insight), "/exports/insights/run-1.json")
    assert (report.created, report.pending, report.failed) == (4, 0, 0)
    key = insight.insight_key

    (issue,) = sinks.jira.issues.values()
    fields = issue["fields"]
    assert fields["project"] == {"key": "PAY"} and fields["priority"] == {"name": "High"}
    assert fields["issuetype"] == {"name": "Bug"}
    assert f"insightloop-{key}" in fields["labels"]
    description = fields["description"]
    assert adf_problems(description) == []
    headings = [n["content"][0]["text"] for n in description["content"] if n["type"] == "heading"]
    assert headings == ["Summary", "Trend", "Evidence", "Suggested owner", "Links"]
    text = adf_text(description)
    for quote in insight.evidence:
        assert quote.record_id in text and quote.quote in text
    assert f"https://insights.example.test/insights/{key}" in json.dumps(description)
    assert "payments_engineering (routing rule payments)" in text

    (incident,) = sinks.servicenow.incidents.values()
    assert incident["correlation_id"] == f"insightloop-{key}"
    assert (incident["urgency"], incident["impact"]) == ("1", "2")
    assert incident["assignment_group"] == "Payments Engineering"

    ((channel, _), message), *_ = sinks.slack.messages.items()
    assert channel == SlackServer.channel_id("#payments-alerts")
    (actions_block,) = [b for b in message["blocks"] if b["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions_block["elements"] if e["type"] == "button"}
    assert set(buttons) == {"insightloop_confirm", "insightloop_reject", "insightloop_reassign"}
    assert {b["value"] for b in buttons.values()} == {key}
    (select,) = [e for e in actions_block["elements"] if e["type"] == "static_select"]
    assert "owner" in select["action_id"]
    assert [o["value"] for o in select["options"]] == ["customer_insights"]
    # The Jira issue was created first, so the message links to it.
    assert f"{sinks.jira.url}/browse/PAY-1" in json.dumps(message["blocks"])

    (card,) = sinks.teams.cards["payments"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    (request,) = sinks.teams.seen("webhook")
    assert (
        request.body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    )
    assert any(a["url"] == f"{sinks.jira.url}/browse/PAY-1" for a in card["actions"])

    summary = ledger(storage, insight).summary
    assert summary is not None and summary.method == "extractive"
    for sentence in summary.sentences:
        assert sentence.text in text  # the shipped summary is the cited one


def test_three_exports_create_once_then_update_twice_per_destination(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    router = router_for()
    runs = [
        make_insight(volume=40, evidence=evidence(0, 1, 2)),
        make_insight(volume=55, velocity=1.75, evidence=evidence(0, 1, 2, 3)),
        make_insight(volume=71, velocity=2.55, severity="high", evidence=evidence(1, 2, 3, 4)),
    ]
    reports = [
        router.route(make_export(f"run-{n}", insight), f"/exports/insights/run-{n}.json")
        for n, insight in enumerate(runs, 1)
    ]

    assert [(r.created, r.updated) for r in reports] == [(4, 0), (0, 4), (0, 4)]
    assert len(sinks.jira.issues) == 1 and len(sinks.jira.seen("create")) == 1
    (issue,) = sinks.jira.issues.values()
    assert len(issue["comments"]) == 2
    last = adf_text(issue["comments"][-1]["body"])
    assert "Update from export run-3" in last and "55 → 71" in last and "medium → high" in last
    assert record_id(4) in last  # the fresh evidence of run 3
    (incident,) = sinks.servicenow.incidents.values()
    assert len(incident["work_notes"]) == 2 and "40 → 55" in incident["work_notes"][0]
    assert len(sinks.slack.seen("chat.postMessage")) == 1
    ((_, history),) = sinks.slack.history.items()
    assert len(history) == 3 and {u["ts"] for u in history[1:]} == {history[1]["ts"]}
    assert "Updated from export run-3" in json.dumps(history[-1]["blocks"])
    cards = sinks.teams.cards["payments"]
    assert [c["body"][0]["text"] for c in cards] == ["New insight", "Update", "Update"]
    for destination in ("jira", "servicenow", "slack", "teams"):
        assert actions(storage, destination) == ["created", "updated", "updated"]
    state = ledger(storage, runs[0])
    assert {d.status for d in state.destinations.values()} == {"delivered"}
    assert state.lease is None and state.last_run_id == "run-3"


def test_replaying_an_export_sends_nothing_and_lands_no_event(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    router = router_for()
    export = make_export("run-1", make_insight())
    router.route(export, "/exports/insights/run-1.json")
    seen = sum(len(s.requests) for s in (sinks.jira, sinks.servicenow, sinks.slack, sinks.teams))
    landed = len(events(storage))

    again = router.route(export, "/exports/insights/run-1.json")  # the blob trigger fired twice
    later = router.route(make_export("run-2", make_insight()), "/exports/insights/run-2.json")

    assert (again.unchanged, later.unchanged, again.events + later.events) == (1, 1, 0)
    after = sum(len(s.requests) for s in (sinks.jira, sinks.servicenow, sinks.slack, sinks.teams))
    assert (after, len(events(storage))) == (seen, landed)


def test_small_drifts_wait_until_they_add_up_to_an_update(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    router = router_for()
    volumes = [40, 45, 49, 52, 52]  # +12%, +22%, +30% of 40: the third is worth a comment
    for n, volume in enumerate(volumes, 1):
        router.route(make_export(f"run-{n}", make_insight(volume=volume)), f"/x/run-{n}.json")
    severity = make_insight(volume=53, severity="high")
    router.route(make_export("run-9", severity), "/x/run-9.json")  # severity always counts

    (issue,) = sinks.jira.issues.values()
    texts = [adf_text(c["body"]) for c in issue["comments"]]
    assert len(texts) == 2 and "40 → 52" in texts[0] and "medium → high" in texts[1]
    assert actions(storage, "slack") == ["created", "updated", "updated"]


@pytest.mark.parametrize(("server", "route"), [("jira", "create"), ("slack", "chat.postMessage")])
def test_a_429_is_retried_after_its_retry_after(
    router_for, sinks: Sinks, storage: LocalStorage, server: str, route: str
) -> None:
    fake = getattr(sinks, server)
    fake.queue(route, Reply(429, headers={"Retry-After": "1"}))
    started = time.monotonic()

    report = router_for().route(make_export("run-1", make_insight()), "/x/run-1.json")

    assert time.monotonic() - started >= 1.0
    assert (report.created, report.pending) == (4, 0)
    assert len(fake.seen(route)) == 2
    assert actions(storage, server) == ["created"]


def test_an_outage_leaves_the_destination_pending_and_the_next_export_creates_it_once(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    router = router_for()
    sinks.jira.always("create", Reply(500))
    first = router.route(make_export("run-1", make_insight()), "/x/run-1.json")

    assert (first.created, first.pending) == (3, 1)
    assert len(sinks.jira.seen("create")) == 3  # the retry budget: three attempts
    state = ledger(storage, make_insight()).destinations["jira"]
    assert (state.status, state.pending_action, state.created, state.attempts) == (
        "pending",
        "create",
        False,
        1,
    )
    assert "HTTP 500" in (state.last_error or "")

    sinks.jira.clear("create")
    second = router.route(make_export("run-2", make_insight(volume=52)), "/x/run-2.json")

    assert (second.created, second.updated, second.pending) == (1, 3, 0)
    assert len(sinks.jira.issues) == 1
    assert actions(storage, "jira") == ["pending", "created"]
    (issue,) = sinks.jira.issues.values()
    assert issue["comments"] == []  # created with run 2's facts: nothing to update yet
    assert ledger(storage, make_insight()).destinations["jira"].status == "delivered"


class LosesOneLedgerWrite(LocalStorage):
    """Local storage whose ledger write after the first sink call fails once."""

    def __init__(self, root: Path, fail_at: int) -> None:
        super().__init__(root)
        self.ledger_writes = 0
        self.fail_at = fail_at

    def write(self, container: str, path: str, data: bytes, **kwargs: Any) -> str:
        if container == "ledger" and path.startswith("routing/"):
            self.ledger_writes += 1
            if self.ledger_writes == self.fail_at:
                raise TransientError("storage busy (test)")
        return super().write(container, path, data, **kwargs)


@pytest.mark.parametrize(
    ("destination", "server", "created"),
    [
        ("jira: {project: PAY, issue_type: Bug}", "jira", "issues"),
        ("servicenow: {assignment_group: Payments}", "servicenow", "incidents"),
    ],
)
def test_a_ticket_whose_ledger_write_was_lost_is_found_by_its_marker_not_duplicated(
    router_for,
    sinks: Sinks,
    settings: Settings,
    destination: str,
    server: str,
    created: str,
) -> None:
    storage = LosesOneLedgerWrite(settings.local_storage_root, fail_at=2)  # 1 is the lease
    config = ALL_FOUR.split("    destinations:")[0] + f"    destinations:\n      {destination}\n"
    config += 'synthesis: {prompt_version: v, instructions: "x"}\n'
    router = router_for(config, storage=storage)
    export = make_export("run-1", make_insight())

    with pytest.raises(TransientError):
        router.route(export, "/x/run-1.json")  # created at the sink, the ledger missed it
    report = router.route(export, "/x/run-1.json")  # the runtime retries the blob

    fake = getattr(sinks, server)
    assert len(getattr(fake, created)) == 1 and len(fake.seen("create")) == 1
    assert report.created == 1
    (event,) = [e for e in events(storage) if e["destination"] == server]  # landed once
    assert event["action"] == "created"
    state = ledger(storage, make_insight()).destinations[server]
    assert state.status == "delivered" and state.external_id in (
        "PAY-1",
        next(iter(sinks.servicenow.incidents.values()), {}).get("number"),
    )


def test_a_low_confidence_insight_goes_to_the_review_queue_once_then_routes_when_sure(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    router = router_for()
    unsure = make_insight(confidence=0.42)
    first = router.route(make_export("run-1", unsure), "/x/run-1.json")
    second = router.route(make_export("run-2", unsure.model_copy(update={"volume": 44})), "/x")

    assert (first.in_review, second.in_review, second.unchanged) == (1, 0, 1)
    assert (
        sum(len(s.requests) for s in (sinks.jira, sinks.servicenow, sinks.slack, sinks.teams)) == 0
    )
    (path,) = storage.list("landing", "routing_review/")
    assert path.startswith("routing_review/ingest_date=") and unsure.insight_key in path
    (row,) = [orjson.loads(line) for line in storage.read("landing", path)[0].splitlines()]  # type: ignore[index]
    assert row["reason"] == "low_confidence: 0.42 < 0.60"
    assert row["suggested_owner"] == "payments_engineering"
    assert row["summary"]["sentences"] and row["insight"]["confidence"] == 0.42
    assert actions(storage, "review") == ["review"]

    sure = router.route(make_export("run-3", make_insight()), "/x/run-3.json")
    assert sure.created == 4 and len(sinks.jira.issues) == 1


def test_no_matching_rule_files_at_the_default_lower_priority(
    router_for, sinks: Sinks, storage: LocalStorage
) -> None:
    router = router_for(get_routing_config(PROJECT_ROOT / "prompts"))
    insight = make_insight(theme="other", suggested_owner=None)
    router.route(make_export("run-1", insight), "/x/run-1.json")

    (issue,) = sinks.jira.issues.values()
    assert issue["fields"]["project"] == {"key": "INS"}
    assert issue["fields"]["priority"] == {"name": "Low"}
    assert "no routing rule matched" in json.dumps(issue["fields"]["description"])
    ((channel, _),) = sinks.slack.messages
    assert channel == SlackServer.channel_id("#insights-triage")
    (event,) = [e for e in events(storage) if e["destination"] == "jira"]
    assert (event["rule"], event["owner"]) == (None, "customer_insights")


@pytest.mark.parametrize(
    ("destination", "change", "reason"),
    [
        ("slack", {"slack_bot_token": SecretStr("xoxb-revoked")}, "invalid_auth"),
        ("jira", {"jira_api_token": SecretStr("wrong")}, "refused (HTTP 401)"),
        ("jira", {"jira_api_token": None}, "INSIGHTLOOP_JIRA_API_TOKEN is not"),
    ],
)
def test_refused_credentials_fail_that_destination_and_the_others_still_deliver(
    router_for,
    storage: LocalStorage,
    settings: Settings,
    destination: str,
    change: dict[str, Any],
    reason: str,
) -> None:
    router = router_for(settings=settings.model_copy(update=change))
    report = router.route(make_export("run-1", make_insight()), "/x/run-1.json")

    assert (report.created, report.failed) == (3, 1)
    (event,) = [e for e in events(storage) if e["destination"] == destination]
    assert event["action"] == "failed" and reason in event["reason"]
    assert ledger(storage, make_insight()).destinations[destination].status == "failed"


def test_with_an_llm_provider_tickets_carry_only_cited_sentences_and_replays_cost_no_tokens(
    router_for, sinks: Sinks, settings: Settings, model_server: OpenAIServer
) -> None:
    answer = {
        "results": [
            {"text": "Forty payment failures this week, double the last.", "evidence": ["E1"]},
            {"text": "Several customers were charged twice.", "evidence": ["E1", "E4"]},
            {"text": "The new payment provider is to blame.", "evidence": []},
        ]
    }
    model_server.queue(ModelReply(content=json.dumps(answer)))
    llm = settings.model_copy(
        update={
            "llm_provider": "openai_compatible",
            "llm_base_url": f"{model_server.url}/v1",
            "llm_model": "test-model",
            "llm_max_retries": 0,
        }
    )
    router = router_for(settings=llm)
    first = router.route(make_export("run-1", make_insight()), "/x/run-1.json")
    again = router.route(make_export("run-2", make_insight()), "/x/run-2.json")

    assert (first.llm_summaries, first.dropped_sentences, again.llm_summaries) == (1, 1, 0)
    assert len(model_server.requests) == 1  # the summary is cached in the ledger
    (issue,) = sinks.jira.issues.values()
    text = adf_text(issue["fields"]["description"])
    assert "Several customers were charged twice. [E1, E4]" in text
    assert "to blame" not in text
    ((_, message),) = sinks.slack.messages.items()
    assert "to blame" not in json.dumps(message)


def test_without_endpoints_every_destination_goes_to_a_readable_outbox(
    tmp_path: Path, router_for
) -> None:
    settings = Settings(local_storage_root=tmp_path / "demo")
    storage = LocalStorage(settings.local_storage_root)
    router = router_for(settings=settings, storage=storage, environ={})
    insight = make_insight()
    router.route(make_export("run-1", insight), "/x/run-1.json")
    router.route(make_export("run-2", make_insight(volume=60)), "/x/run-2.json")

    key = insight.insight_key
    assert sorted(storage.list("outbox")) == sorted(
        f"{kind}/{key}.{ext}"
        for kind in ("jira", "servicenow", "slack", "teams")
        for ext in ("json", "md")
    )
    document = orjson.loads(storage.read("outbox", f"jira/{key}.json")[0])  # type: ignore[index]
    assert document["not_sent"] == "INSIGHTLOOP_JIRA_BASE_URL is not set"
    assert document["request"]["fields"]["project"] == {"key": "PAY"}
    assert (
        len(document["updates"]) == 1 and document["updates"][0]["changes"]["Volume"] == "40 → 60"
    )
    text = storage.read("outbox", f"teams/{key}.md")[0].decode()  # type: ignore[index]
    assert "INSIGHTLOOP_TEAMS_WEBHOOK_PAYMENTS is not set" in text
    assert "## Summary" in text and "## Evidence" in text and "## Updates" in text
    assert QUOTES[0][0] in text
    assert actions(storage, "jira") == ["created", "updated"]


def test_a_destination_delivered_to_the_outbox_is_created_live_once_configured(
    router_for, sinks: Sinks, settings: Settings, storage: LocalStorage
) -> None:
    bare = Settings(local_storage_root=settings.local_storage_root)
    router_for(settings=bare, environ={}).route(make_export("run-1", make_insight()), "/x/1")
    assert sinks.jira.requests == []

    report = router_for().route(make_export("run-2", make_insight()), "/x/run-2.json")

    assert report.created == 4 and len(sinks.jira.issues) == 1
    assert [e["sink"] for e in events(storage) if e["destination"] == "jira"] == [
        "outbox",
        "jira",
    ]


def test_an_insight_another_invocation_is_routing_is_left_for_the_retry(
    router_for, storage: LocalStorage
) -> None:
    insight = make_insight()
    router = router_for()
    held = router.ledger.acquire(
        insight.insight_key,
        lambda: RoutingState.new(insight, "run-0", datetime.now(UTC)),
        "another-invocation",
    )
    assert held is not None

    report = router.route(make_export("run-1", insight), "/x/run-1.json")
    assert (report.busy, report.created) == (1, 0)
    held.release()
    assert router.route(make_export("run-1", insight), "/x/run-1.json").created == 4


def test_an_unreadable_export_is_quarantined_with_the_reason(
    router_for, storage: LocalStorage
) -> None:
    report = router_for().route_bytes(b'{"run_id": "x"}', "exports/insights/broken.json")
    assert report.rejected and report.rejected.startswith("not an insight export (")
    quarantined = list(storage.list("quarantine", "files/routing/"))
    assert [p.rsplit("/", 1)[-1] for p in quarantined] == ["insights_broken.json", "reason.json"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    value: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(value) == seconds


# ------------------------------------------------------------------ the blob trigger


def test_route_insights_is_an_event_grid_blob_trigger_on_the_exports_setting() -> None:
    app = func.FunctionApp()
    app.register_functions(routing_functions.bp)
    (function,) = app.get_functions()
    (binding,) = [b.get_dict_repr() for b in function.get_bindings()]
    assert function.get_function_name() == "route_insights"
    assert binding["type"] == "blobTrigger"
    assert binding["path"] == "%INSIGHTLOOP_EXPORTS_CONTAINER%/insights/{name}"
    assert binding["connection"] == "ExportsStorage"  # identity-based prefix, no secret
    assert binding["source"] == "EventGrid"


@pytest.fixture
def app_settings(
    sinks: Sinks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """App settings as the Functions host would pass them, pointing at the loopback sinks."""
    for name, value in sink_settings(sinks, tmp_path / "app-storage").items():
        monkeypatch.setenv(f"INSIGHTLOOP_{name.upper()}", str(value))
    for name, value in sinks.environ().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_router.cache_clear()
    yield get_settings()
    get_router().close()
    get_settings.cache_clear()
    get_router.cache_clear()


def test_the_blob_trigger_routes_an_export_file_from_local_storage(
    app_settings: Settings, sinks: Sinks
) -> None:
    storage = LocalStorage(app_settings.local_storage_root)
    export = make_export("gold-20261127T1000Z", make_insight(), make_insight(theme="sizing_fit"))
    data = export.model_dump_json().encode()
    storage.write("exports", "insights/gold-20261127T1000Z.json", data)
    blob = InputStream(data=data, name="exports/insights/gold-20261127T1000Z.json")

    routing_functions.route_insights(blob)
    routing_functions.route_insights(blob)  # Event Grid delivers at least once

    assert sorted(sinks.jira.issues) == ["MERCH-1", "PAY-1"]
    assert len(sinks.slack.messages) == 1 and len(sinks.teams.cards["merch"]) == 1
    assert len(sinks.servicenow.incidents) == 0  # payment_failures: Jira + Slack only
    landed = events(storage)
    assert len(landed) == 4 and {e["run_id"] for e in landed} == {"gold-20261127T1000Z"}
    description = json.dumps(sinks.jira.issues["PAY-1"]["fields"]["description"])
    assert str(storage.root / "exports" / "insights" / "gold-20261127T1000Z.json") in description


def test_the_blob_trigger_raises_while_another_invocation_holds_an_insight(
    app_settings: Settings,
) -> None:
    insight = make_insight()
    router = get_router()
    assert router.ledger.acquire(
        insight.insight_key, lambda: RoutingState.new(insight, "r0", datetime.now(UTC)), "other"
    )
    data = make_export("run-1", insight).model_dump_json().encode()
    with pytest.raises(TransientError, match="being routed by another invocation"):
        routing_functions.route_insights(InputStream(data=data, name="exports/insights/run-1.json"))


def test_cli_route_sends_an_export_to_the_outbox_and_a_rerun_creates_nothing_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.act.routing import get_router
    from shared.cli import main
    from shared.settings import get_settings

    root = tmp_path / "storage"
    monkeypatch.setenv("INSIGHTLOOP_LOCAL_STORAGE_ROOT", str(root))
    for name in ("JIRA_BASE_URL", "SERVICENOW_INSTANCE_URL", "SLACK_BOT_TOKEN", "LLM_PROVIDER"):
        monkeypatch.delenv(f"INSIGHTLOOP_{name}", raising=False)
    export = tmp_path / "run-7.json"
    export.write_bytes(make_export("run-7", make_insight()).model_dump_json().encode())
    for cache in (get_settings, get_router):
        getattr(cache, "cache_clear", lambda: None)()
    try:
        assert main(["route", str(export)]) == 0
        first = capsys.readouterr().out
        assert main(["route", str(export)]) == 0
        second = capsys.readouterr().out
    finally:
        for cache in (get_settings, get_router):
            getattr(cache, "cache_clear", lambda: None)()
    outbox = sorted(
        p.relative_to(root / "outbox").parts[0] for p in (root / "outbox").rglob("*.json")
    )
    assert "jira" in outbox and "slack" in outbox
    assert "run-7.json" in first and "run-7.json" in second
    # the second run is a replay of the same export: nothing created twice
    assert len(list((root / "outbox" / "jira").glob("*.json"))) == 1
