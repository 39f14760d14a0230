"""The fake tools: deterministic strings, no side effects."""

from __future__ import annotations

import pytest

from human_interrupt_agent import tools


def test_render_call_sorts_keys() -> None:
    assert tools.render_call("t", {"b": 2, "a": "x"}) == "t(a=x, b=2)"
    assert tools.render_call("t", {}) == "t()"


@pytest.mark.parametrize("query", ["reset password", "", "ünïcode query"])
def test_search_is_deterministic_and_never_empty(query: str) -> None:
    first = tools.search_knowledge_base({"query": query})
    assert first == tools.search_knowledge_base({"query": query})
    count = int(first.split(": ")[1].split()[0])
    assert 1 <= count <= 5
    assert first.endswith("documents found")


@pytest.mark.parametrize("name", ["delete_records", "issue_refund", "send_email"])
def test_high_risk_tools_only_describe(name: str) -> None:
    result = tools.run_tool(name, {"customer_id": "42"})
    assert result.startswith(f"{name}: simulated")
    assert f"{name}(customer_id=42)" in result


def test_run_tool_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown tool 'format_disk'.*delete_records"):
        tools.run_tool("format_disk", {})
