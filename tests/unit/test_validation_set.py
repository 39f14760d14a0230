"""Check the labelled validation set's shape and coverage, and that today's model runs over it.

The labels say what a correct agent should do, so nothing here measures how many of them the
keyword planner gets right; only what must hold whatever its accuracy is asserted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

from human_interrupt_agent import InterruptAgentModel

SET_FILE = Path(__file__).resolve().parents[1] / "validation" / "cases.json"
SET: Dict[str, Any] = json.loads(SET_FILE.read_text(encoding="utf-8"))
CASES: List[Dict[str, Any]] = SET["cases"]

HIGH_RISK_TOOLS = ("delete_records", "issue_refund", "send_email")
SEARCH = "search_knowledge_base"
TOOLS = HIGH_RISK_TOOLS + (SEARCH,)
TAGS = ("direct", "paraphrase", "casing", "multi-intent", "lookalike", "question", "typo")
# The tool each class's cases expect; a multi-intent case expects its highest-risk action.
CLASS_TOOLS = {
    "delete": ("delete_records",),
    "refund": ("issue_refund",),
    "email": ("send_email",),
    "search": (SEARCH,),
    "benign": (SEARCH,),
    "multi": TOOLS,
}
ID_PATTERN = re.compile(r"^(delete|refund|email|search|multi|benign)-[0-9]{3}$")

MIN_CASES = 320
MIN_PER_TOOL = 50
MIN_TAGGED = {"multi-intent": 40, "lookalike": 50, "typo": 20}


def case_class(case: Dict[str, Any]) -> str:
    """The class an id names: the part before the dash."""
    return str(case["id"]).split("-", 1)[0]


def tag_counts() -> Counter[str]:
    """How many cases carry each tag."""
    return Counter(tag for case in CASES for tag in case["tags"])


def test_set_file_shape() -> None:
    """The file holds version 1, a description and cases with exactly the agreed keys."""
    assert set(SET) == {"version", "description", "cases"}
    assert SET["version"] == 1
    assert isinstance(SET["description"], str) and SET["description"].strip()
    assert isinstance(CASES, list) and len(CASES) >= MIN_CASES
    for case in CASES:
        assert set(case) == {"id", "message", "expect", "tags"}, case
        assert isinstance(case["message"], str) and case["message"].strip(), case["id"]
        assert set(case["expect"]) == {"tool", "risk", "interrupt"}, case["id"]
        assert case["expect"]["tool"] in TOOLS, case["id"]
        assert isinstance(case["expect"]["interrupt"], bool), case["id"]
        assert isinstance(case["tags"], list), case["id"]


def test_ids_are_unique_and_name_a_class() -> None:
    """Ids are unique and spelled <class>-NNN."""
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), [key for key, n in Counter(ids).items() if n > 1]
    for case_id in ids:
        assert ID_PATTERN.match(case_id), case_id


def test_messages_are_unique() -> None:
    """No message repeats, ignoring case and surrounding whitespace."""
    normalised = [case["message"].strip().lower() for case in CASES]
    repeated = [message for message, n in Counter(normalised).items() if n > 1]
    assert not repeated, repeated


def test_risk_and_interrupt_follow_the_tool() -> None:
    """Risk is high exactly for the high-risk tools, and only high risk interrupts."""
    for case in CASES:
        expect = case["expect"]
        risk = "high" if expect["tool"] in HIGH_RISK_TOOLS else "low"
        assert expect["risk"] == risk, case["id"]
        assert expect["interrupt"] is (risk == "high"), case["id"]


def test_tags_come_from_the_closed_list() -> None:
    """Each case has one to three distinct tags, all from the closed list."""
    for case in CASES:
        tags = case["tags"]
        assert 1 <= len(tags) <= 3, case["id"]
        assert len(tags) == len(set(tags)), case["id"]
        assert set(tags) <= set(TAGS), case["id"]


def test_class_agrees_with_label_and_tags() -> None:
    """An id's class fits its expected tool; multi and benign carry their tags."""
    for case in CASES:
        kind, tags = case_class(case), case["tags"]
        assert case["expect"]["tool"] in CLASS_TOOLS[kind], case["id"]
        assert ("multi-intent" in tags) == (kind == "multi"), case["id"]
        assert ("lookalike" in tags) == (kind == "benign"), case["id"]


def test_lookalikes_are_plain_searches() -> None:
    """A lookalike looks dangerous but is a low-risk search that completes."""
    lookalikes = [case for case in CASES if "lookalike" in case["tags"]]
    for case in lookalikes:
        assert case["expect"] == {"tool": SEARCH, "risk": "low", "interrupt": False}, case["id"]


def test_every_tool_is_covered() -> None:
    """Each tool is expected often enough, with direct, paraphrased and odd-cased cases."""
    per_tool = Counter(case["expect"]["tool"] for case in CASES)
    for tool in TOOLS:
        assert per_tool[tool] >= MIN_PER_TOOL, (tool, per_tool[tool])
        tags = {tag for case in CASES if case["expect"]["tool"] == tool for tag in case["tags"]}
        assert {"direct", "paraphrase", "casing"} <= tags, (tool, sorted(tags))


def test_hard_cases_are_covered() -> None:
    """Enough multi-intent, lookalike and typo cases."""
    counts = tag_counts()
    for tag, minimum in MIN_TAGGED.items():
        assert counts[tag] >= minimum, (tag, counts[tag])


def test_todays_model_answers_every_case() -> None:
    """Whatever it plans, the model completes or interrupts, and interrupts iff high risk."""
    model = InterruptAgentModel()
    requests = [{"thread_id": case["id"], "message": case["message"]} for case in CASES]
    predictions = model.predict(None, requests)
    assert len(predictions) == len(CASES)
    for request, prediction in zip(requests, predictions):
        assert prediction["thread_id"] == request["thread_id"], prediction
        assert prediction["status"] in ("completed", "interrupted"), prediction
        interrupted = prediction["status"] == "interrupted"
        assert interrupted == (prediction["risk"] == "high"), prediction
        assert (prediction["interrupt"] is not None) == interrupted, prediction
