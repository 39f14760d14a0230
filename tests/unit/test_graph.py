"""The graph: planning, the risk gate's interrupt, and every way to resume."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, Optional

import pytest

from human_interrupt_agent.graph import (
    AgentConfig,
    AgentError,
    AgentGraph,
    RunResult,
    decode_checkpoint,
    encode_checkpoint,
)

DELETE = "delete all records for customer 42"


@pytest.mark.parametrize(
    "message, tool, args",
    [
        (DELETE, "delete_records", {"target": DELETE}),
        ("DROP table x", "delete_records", {"target": "DROP table x"}),
        ("please Remove me", "delete_records", {"target": "please Remove me"}),
        ("what is our refund policy", "issue_refund", {"request": "what is our refund policy"}),
        ("email the team", "send_email", {"request": "email the team"}),
        ("send it", "send_email", {"request": "send it"}),
        ("refund then delete", "delete_records", {"target": "refund then delete"}),
        ("send a refund", "issue_refund", {"request": "send a refund"}),
        ("how do I log in", "search_knowledge_base", {"query": "how do I log in"}),
    ],
)
def test_plan_first_matching_rule_wins(message: str, tool: str, args: Dict[str, str]) -> None:
    assert AgentConfig().plan(message) == (tool, args)


def test_low_risk_runs_without_interrupt() -> None:
    result = AgentGraph().invoke("t-1", "how do I log in")
    assert result.status == "completed"
    assert result.risk == "low"
    assert result.interrupt is None
    assert result.result and result.result.startswith("search_knowledge_base:")


def test_high_risk_pauses_with_question_and_checkpoint() -> None:
    result = AgentGraph().invoke("t-1", DELETE)
    assert (result.status, result.tool, result.risk, result.result) == (
        "interrupted",
        "delete_records",
        "high",
        None,
    )
    assert result.interrupt is not None
    assert result.interrupt.question == f"Approve delete_records(target={DELETE})?"
    assert decode_checkpoint(result.interrupt.checkpoint) == {
        "thread_id": "t-1",
        "tool": "delete_records",
        "tool_args": {"target": DELETE},
        "risk": "high",
    }


@pytest.mark.parametrize(
    "decision, edited, status, args, result_prefix",
    [
        ("approve", None, "completed", {"target": DELETE}, "delete_records: simulated"),
        ("reject", None, "rejected", {"target": DELETE}, None),
        ("edit", {"customer_id": "43"}, "completed", {"customer_id": "43"}, "delete_records"),
    ],
)
def test_resume_decisions(
    decision: str,
    edited: Optional[Dict[str, Any]],
    status: str,
    args: Dict[str, Any],
    result_prefix: Optional[str],
) -> None:
    graph = AgentGraph()
    paused = graph.invoke("t-1", DELETE)
    assert paused.interrupt is not None
    resumed = graph.resume(paused.interrupt.checkpoint, decision, edited, "t-1")
    assert resumed.status == status
    assert resumed.tool == "delete_records"
    assert resumed.tool_args == args
    assert resumed.interrupt is None
    if result_prefix is None:
        assert resumed.result is None
    else:
        assert resumed.result and resumed.result.startswith(result_prefix)
    if edited:
        assert "customer_id=43" in (resumed.result or "")


def test_resume_is_stateless_and_accepts_unpadded_checkpoints() -> None:
    paused = AgentGraph().invoke(None, "email the board")
    assert paused.interrupt is not None
    unpadded = paused.interrupt.checkpoint.rstrip("=")
    resumed = AgentGraph().resume(unpadded, "approve")  # a fresh graph: another replica
    assert resumed.status == "completed"
    assert resumed.thread_id is None


def _b64(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


GOOD = {"thread_id": "t", "tool": "send_email", "tool_args": {"a": "b"}, "risk": "high"}


@pytest.mark.parametrize(
    "checkpoint, message",
    [
        (None, "needs the checkpoint"),
        ("   ", "needs the checkpoint"),
        (42, "needs the checkpoint"),
        ("not-a-checkpoint!!", "not valid base64url JSON"),
        ("abcde", "not valid base64url JSON"),
        (base64.urlsafe_b64encode(b"not json").decode(), "not valid base64url JSON"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), "not valid base64url JSON"),
        (_b64([1, 2]), "must encode a JSON object"),
        (_b64({**GOOD, "thread_id": 7}), "thread_id must be a string"),
        (_b64({**GOOD, "tool": "format_disk"}), "unknown tool"),
        (_b64({**GOOD, "tool": ["x"]}), "unknown tool"),
        (_b64({**GOOD, "tool_args": "a=b"}), "tool_args must be an object"),
        (_b64({**GOOD, "risk": "medium"}), "risk must be high or low"),
    ],
)
def test_decode_checkpoint_rejects_bad_input(checkpoint: Any, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        decode_checkpoint(checkpoint)


def test_encode_decode_round_trip() -> None:
    encoded = encode_checkpoint("t", "send_email", {"a": "b"}, "high")
    assert decode_checkpoint(encoded) == GOOD


@pytest.mark.parametrize(
    "decision, edited, thread_id, message",
    [
        ("maybe", None, "t", "unknown resume value 'maybe'"),
        ("approve", None, "other", "belongs to thread 't', not 'other'"),
        ("edit", None, "t", "needs a non-empty edited_args"),
        ("edit", {}, "t", "needs a non-empty edited_args"),
    ],
)
def test_resume_errors(
    decision: str, edited: Optional[Dict[str, Any]], thread_id: str, message: str
) -> None:
    with pytest.raises(AgentError, match=message):
        AgentGraph().resume(
            encode_checkpoint("t", "send_email", {}, "high"), decision, edited, thread_id
        )


def test_empty_message_is_an_error() -> None:
    with pytest.raises(AgentError, match="message is empty"):
        AgentGraph().invoke("t", "  ")


def test_config_decides_risk() -> None:
    config = AgentConfig(high_risk_tools=frozenset({"send_email"}))
    assert AgentGraph(config).invoke("t", DELETE).status == "completed"
    assert AgentGraph(config).invoke("t", "send it").status == "interrupted"


def test_run_result_has_exactly_the_contract_keys() -> None:
    assert set(RunResult("t", "error").to_dict()) == {
        "thread_id",
        "status",
        "tool",
        "tool_args",
        "risk",
        "interrupt",
        "result",
    }
