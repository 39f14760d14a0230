"""The agent's tools.

Every tool here is a deterministic, side-effect-free fake: it describes what the real tool would
do and returns that description as a string. Nothing is searched, deleted, refunded or sent, so
the model can be served and tested anywhere without credentials.
"""

from __future__ import annotations

from typing import Callable, Dict, Mapping

ToolArgs = Mapping[str, object]


def render_call(tool: str, args: ToolArgs) -> str:
    """Render a call as ``tool(key=value, ...)`` with keys sorted, for questions and results."""
    rendered = ", ".join(f"{key}={args[key]}" for key in sorted(args))
    return f"{tool}({rendered})"


def search_knowledge_base(args: ToolArgs) -> str:
    """Pretend to search; the document count is derived from the query so it is stable."""
    text = " ".join(str(args[key]) for key in sorted(args))
    found = 1 + sum(text.encode("utf-8")) % 5
    return f"search_knowledge_base: {found} documents found"


def delete_records(args: ToolArgs) -> str:
    """Describe a deletion without deleting anything."""
    return f"delete_records: simulated, would run {render_call('delete_records', args)}"


def issue_refund(args: ToolArgs) -> str:
    """Describe a refund without moving money."""
    return f"issue_refund: simulated, would run {render_call('issue_refund', args)}"


def send_email(args: ToolArgs) -> str:
    """Describe an email without sending it."""
    return f"send_email: simulated, would run {render_call('send_email', args)}"


TOOLS: Dict[str, Callable[[ToolArgs], str]] = {
    "search_knowledge_base": search_knowledge_base,
    "delete_records": delete_records,
    "issue_refund": issue_refund,
    "send_email": send_email,
}


def run_tool(name: str, args: ToolArgs) -> str:
    """Run the named tool; an unknown name is a ValueError naming the known tools."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ValueError(f"unknown tool {name!r}; known tools: {', '.join(sorted(TOOLS))}")
    return tool(args)
