"""The agent as a small graph with interrupt/resume semantics.

Nodes run in order ``plan -> risk_gate -> execute``. The risk gate pauses a high-risk call: the
run ends with status "interrupted" and an :class:`Interrupt` carrying a question for a person and
a checkpoint. :meth:`AgentGraph.resume` re-enters the gate with that person's decision (approve,
reject or edit). The checkpoint is the whole paused state as base64url JSON, so nothing is kept
in memory between calls and any serving replica can resume any thread.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Tuple

from human_interrupt_agent.tools import TOOLS, render_call, run_tool

HIGH = "high"
LOW = "low"
APPROVE = "approve"
REJECT = "reject"
EDIT = "edit"
DECISIONS = (APPROVE, REJECT, EDIT)
END = "__end__"

State = Dict[str, Any]


class AgentError(ValueError):
    """A request the agent cannot run; the model reports it as status "error"."""


@dataclass(frozen=True)
class Rule:
    """Route a message containing any keyword (case-insensitive) to ``tool(arg=message)``."""

    keywords: Tuple[str, ...]
    tool: str
    arg: str


# Order matters: the first rule with a matching keyword wins.
DEFAULT_RULES: Tuple[Rule, ...] = (
    Rule(("delete", "drop", "remove"), "delete_records", "target"),
    Rule(("refund",), "issue_refund", "request"),
    Rule(("email", "send"), "send_email", "request"),
)
FALLBACK_RULE = Rule((), "search_knowledge_base", "query")
DEFAULT_HIGH_RISK: FrozenSet[str] = frozenset(rule.tool for rule in DEFAULT_RULES)


@dataclass(frozen=True)
class AgentConfig:
    """What the agent learned: how to route messages and which tools need a human."""

    rules: Tuple[Rule, ...] = DEFAULT_RULES
    high_risk_tools: FrozenSet[str] = field(default=DEFAULT_HIGH_RISK)

    def plan(self, message: str) -> Tuple[str, Dict[str, Any]]:
        """Pick the tool call for a message (keyword substring match, first rule wins)."""
        lowered = message.lower()
        for rule in self.rules:
            if any(keyword in lowered for keyword in rule.keywords):
                return rule.tool, {rule.arg: message}
        return FALLBACK_RULE.tool, {FALLBACK_RULE.arg: message}

    def risk(self, tool: str) -> str:
        """Return "high" when the tool must wait for a human decision."""
        return HIGH if tool in self.high_risk_tools else LOW


@dataclass(frozen=True)
class Interrupt:
    """A paused run: the question for a person and the checkpoint to resume from."""

    question: str
    checkpoint: str


@dataclass
class RunResult:
    """One prediction, shaped as the serving contract's response object."""

    thread_id: Optional[str]
    status: str
    tool: Optional[str] = None
    tool_args: Optional[Dict[str, Any]] = None
    risk: Optional[str] = None
    interrupt: Optional[Interrupt] = None
    result: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """Return the JSON-ready response object."""
        interrupt = None
        if self.interrupt is not None:
            interrupt = {
                "question": self.interrupt.question,
                "checkpoint": self.interrupt.checkpoint,
            }
        return {
            "thread_id": self.thread_id,
            "status": self.status,
            "tool": self.tool,
            "tool_args": self.tool_args,
            "risk": self.risk,
            "interrupt": interrupt,
            "result": self.result,
        }


def encode_checkpoint(
    thread_id: Optional[str], tool: str, tool_args: Mapping[str, Any], risk: str
) -> str:
    """Serialise a paused call as base64url JSON (padded)."""
    payload = {"thread_id": thread_id, "tool": tool, "tool_args": dict(tool_args), "risk": risk}
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_checkpoint(checkpoint: Any) -> State:
    """Parse and validate a checkpoint; any defect is an AgentError that says what is wrong."""
    if not isinstance(checkpoint, str) or not checkpoint.strip():
        raise AgentError("resume needs the checkpoint returned with the interrupt")
    # Accept padded and unpadded base64url alike; reject any other character.
    text = checkpoint.strip().rstrip("=")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as err:
        raise AgentError(f"checkpoint is not valid base64url JSON: {err}") from err
    if not isinstance(payload, dict):
        raise AgentError("checkpoint must encode a JSON object")
    thread_id, tool = payload.get("thread_id"), payload.get("tool")
    tool_args, risk = payload.get("tool_args"), payload.get("risk")
    if thread_id is not None and not isinstance(thread_id, str):
        raise AgentError("checkpoint thread_id must be a string")
    if not isinstance(tool, str) or tool not in TOOLS:
        raise AgentError(f"checkpoint names an unknown tool: {tool!r}")
    if not isinstance(tool_args, dict):
        raise AgentError("checkpoint tool_args must be an object")
    if risk not in (HIGH, LOW):
        raise AgentError(f"checkpoint risk must be high or low, got {risk!r}")
    return {"thread_id": thread_id, "tool": tool, "tool_args": tool_args, "risk": risk}


class AgentGraph:
    """Run messages through plan -> risk_gate -> execute, pausing before high-risk tools."""

    def __init__(self, config: Optional[AgentConfig] = None) -> None:
        self.config = config or AgentConfig()
        self._nodes: Dict[str, Callable[[State], str]] = {
            "plan": self._plan,
            "risk_gate": self._risk_gate,
            "execute": self._execute,
        }

    def invoke(self, thread_id: Optional[str], message: str) -> RunResult:
        """Start a new run for a message."""
        if not message.strip():
            raise AgentError("message is empty")
        return self._run({"thread_id": thread_id, "message": message}, "plan")

    def resume(
        self,
        checkpoint: Any,
        decision: Any,
        edited_args: Optional[Mapping[str, Any]] = None,
        thread_id: Optional[str] = None,
    ) -> RunResult:
        """Continue a paused run at the risk gate with a person's decision."""
        if decision not in DECISIONS:
            raise AgentError(f"unknown resume value {decision!r}; use approve, reject or edit")
        state = decode_checkpoint(checkpoint)
        if thread_id is not None and state["thread_id"] not in (None, thread_id):
            raise AgentError(
                f"checkpoint belongs to thread {state['thread_id']!r}, not {thread_id!r}"
            )
        if decision == EDIT and not edited_args:
            raise AgentError("resume edit needs a non-empty edited_args object")
        state.update(decision=decision, edited_args=dict(edited_args or {}))
        return self._run(state, "risk_gate")

    def _run(self, state: State, node: str) -> RunResult:
        while node != END:
            node = self._nodes[node](state)
        return RunResult(
            thread_id=state["thread_id"],
            status=state["status"],
            tool=state["tool"],
            tool_args=state["tool_args"],
            risk=state["risk"],
            interrupt=state.get("interrupt"),
            result=state.get("result"),
        )

    def _plan(self, state: State) -> str:
        state["tool"], state["tool_args"] = self.config.plan(state["message"])
        state["risk"] = self.config.risk(state["tool"])
        return "risk_gate"

    def _risk_gate(self, state: State) -> str:
        decision = state.get("decision")
        if decision is None:
            if state["risk"] == LOW:
                return "execute"
            question = f"Approve {render_call(state['tool'], state['tool_args'])}?"
            checkpoint = encode_checkpoint(
                state["thread_id"], state["tool"], state["tool_args"], state["risk"]
            )
            state["status"], state["interrupt"] = "interrupted", Interrupt(question, checkpoint)
            return END
        if decision == REJECT:
            state["status"] = "rejected"
            return END
        if decision == EDIT:
            state["tool_args"] = state["edited_args"]
        return "execute"

    def _execute(self, state: State) -> str:
        state["result"] = run_tool(state["tool"], state["tool_args"])
        state["status"] = "completed"
        return END
