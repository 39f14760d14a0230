"""Run the integration cases (the ones verify sends to the serving endpoint) on the real model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from human_interrupt_agent import InterruptAgentModel

CASES_FILE = Path(__file__).resolve().parents[1] / "integration" / "cases.json"
CASES: List[Dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


def check(prediction: Dict[str, Any], expect: Dict[str, Any], request: Dict[str, Any]) -> None:
    """Assert the keys an expectation names; absent keys are not checked."""
    assert prediction["status"] == expect["status"], prediction
    for key in ("tool", "risk"):
        if key in expect:
            assert prediction[key] == expect[key], prediction
    if "interrupt" in expect:
        assert (prediction["interrupt"] is not None) == expect["interrupt"], prediction
    assert prediction["thread_id"] == request.get("thread_id")
    if prediction["status"] in ("completed", "error"):
        assert isinstance(prediction["result"], str) and prediction["result"]
    else:
        assert prediction["result"] is None


def test_cases_file_shape() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert sum(case["smoke"] for case in CASES) == 3
    for case in CASES:
        assert set(case) == {"name", "smoke", "request", "expect", "resume"}, case["name"]
        if case["resume"] is not None:
            assert set(case["resume"]) == {"decision", "edited_args", "expect"}, case["name"]
            assert case["expect"]["interrupt"] is True, case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: Dict[str, Any]) -> None:
    model = InterruptAgentModel()
    request = case["request"]
    (first,) = model.predict(None, [request])
    check(first, case["expect"], request)
    resume = case["resume"]
    if resume is None:
        return
    record = {
        "thread_id": request["thread_id"],
        "resume": resume["decision"],
        "checkpoint": first["interrupt"]["checkpoint"],
        "edited_args": resume["edited_args"],
    }
    # A fresh model instance stands in for another serving replica.
    (second,) = InterruptAgentModel().predict(None, [record])
    check(second, resume["expect"], request)
    if second["status"] == "completed":
        assert first["tool"] in second["result"]
        assert second["tool_args"] == (resume["edited_args"] or first["tool_args"])
