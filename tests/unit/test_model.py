"""The pyfunc wrapper: input shapes, per-record errors, pickling and logging."""

from __future__ import annotations

import json
import math
import pickle  # nosec B403 - round-trips our own object, as mlflow's cloudpickle does
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from human_interrupt_agent import InterruptAgentModel, __version__
from human_interrupt_agent.graph import AgentConfig, encode_checkpoint
from human_interrupt_agent.model import PACKAGE_DIR, PIP_REQUIREMENTS, log_model, to_records

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = encode_checkpoint("t-1", "delete_records", {"target": "x"}, "high")


class FrameLike:
    """Quacks like the pandas DataFrame mlflow builds from dataframe_records (NaN for gaps)."""

    def __init__(self, records: List[Dict[str, Any]]) -> None:
        self.columns = sorted({key for record in records for key in record})
        self._rows = [
            {col: record.get(col, math.nan) for col in self.columns} for record in records
        ]

    def to_dict(self, orient: str) -> List[Dict[str, Any]]:
        assert orient == "records"
        return self._rows


def predict_one(record: Any) -> Dict[str, Any]:
    predictions = InterruptAgentModel().predict(None, [record])
    assert len(predictions) == 1
    return predictions[0]


def test_frame_with_mixed_records_answers_each_in_order() -> None:
    frame = FrameLike(
        [
            {"thread_id": "a", "message": "how do I log in"},
            {"thread_id": "b", "message": "delete x"},
            {"thread_id": "t-1", "resume": "approve", "checkpoint": CHECKPOINT},
            {"thread_id": "d", "resume": "edit", "checkpoint": CHECKPOINT, "edited_args": {"k": 1}},
        ]
    )
    statuses = [(p["thread_id"], p["status"]) for p in InterruptAgentModel().predict(None, frame)]
    assert statuses == [
        ("a", "completed"),
        ("b", "interrupted"),
        ("t-1", "completed"),
        ("d", "error"),
    ]


def test_single_record_and_tuple_inputs() -> None:
    model = InterruptAgentModel()
    assert model.predict(None, {"message": "hi"})[0]["status"] == "completed"
    assert len(model.predict(None, ({"message": "hi"}, {"message": "ho"}))) == 2


def test_unsupported_input_type_raises() -> None:
    with pytest.raises(TypeError, match="got str"):
        to_records("delete everything")


@pytest.mark.parametrize(
    "record, message",
    [
        ("not an object", "each record must be an object"),
        ({}, 'needs a "message"'),
        ({"message": "  "}, 'needs a "message"'),
        ({"message": 5}, '"message" must be a string, got int'),
        ({"message": "x", "resume": "approve"}, "not both"),
        ({"resume": "approve"}, "needs the checkpoint"),
        ({"resume": "approve", "checkpoint": "%%%"}, "not valid base64url"),
        ({"resume": "sure", "checkpoint": CHECKPOINT}, "unknown resume value 'sure'"),
        ({"resume": "edit", "checkpoint": CHECKPOINT, "edited_args": "{"}, "not valid JSON"),
        ({"resume": "edit", "checkpoint": CHECKPOINT, "edited_args": [1]}, "string keys"),
        ({"resume": "edit", "checkpoint": CHECKPOINT, "edited_args": {1: "a"}}, "string keys"),
        ({"resume": "edit", "checkpoint": CHECKPOINT}, "non-empty edited_args"),
    ],
)
def test_bad_records_become_error_predictions(record: Any, message: str) -> None:
    prediction = predict_one(record)
    assert prediction["status"] == "error"
    assert message in prediction["result"]
    assert prediction["interrupt"] is None


@pytest.mark.parametrize(
    "record, status",
    [
        ({"thread_id": "t-1", "resume": " Approve ", "checkpoint": CHECKPOINT}, "completed"),
        ({"thread_id": math.nan, "resume": "reject", "checkpoint": CHECKPOINT}, "rejected"),
        (
            {"resume": "edit", "checkpoint": CHECKPOINT, "edited_args": '{"target": "y"}'},
            "completed",
        ),
        ({"message": "hi", "resume": math.nan, "edited_args": None}, "completed"),
    ],
)
def test_resume_variants(record: Dict[str, Any], status: str) -> None:
    assert predict_one(record)["status"] == status


def test_numeric_thread_id_is_echoed_as_text() -> None:
    assert predict_one({"thread_id": 12, "message": "hi"})["thread_id"] == "12"


def test_pickle_round_trip_keeps_config() -> None:
    config = AgentConfig(high_risk_tools=frozenset())
    model = pickle.loads(pickle.dumps(InterruptAgentModel(config)))  # nosec B301
    model.load_context(None)
    assert model.config == config
    assert predict_one({"message": "delete x"})["status"] == "interrupted"
    assert model.predict(None, [{"message": "delete x"}])[0]["status"] == "completed"


def test_requirements_file_matches_model_requirements() -> None:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").split()
    assert tuple(lines) == PIP_REQUIREMENTS


def test_pyproject_version_comes_from_package() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = { attr = "human_interrupt_agent.__version__" }' in text
    assert __version__.count(".") == 2


def test_log_model_wraps_a_python_model(fake_mlflow: Any) -> None:
    info = log_model(InterruptAgentModel(), registered_model_name="main.agents.hitl")
    assert info.registered_model_version == 7  # mlflow reports it as an int
    (call,) = [c for c in fake_mlflow.calls if c["call"] == "log_model"]
    assert isinstance(call["model"], fake_mlflow.pyfunc.PythonModel)
    assert isinstance(call["model"], InterruptAgentModel)
    assert call["model"].predict(None, [{"message": "drop it"}])[0]["tool"] == "delete_records"
    assert call["registered_model_name"] == "main.agents.hitl"
    assert call["pip_requirements"] == list(PIP_REQUIREMENTS)
    code = call.get("code_paths") or call.get("code_path")
    assert code == [PACKAGE_DIR]


def test_import_pulls_in_neither_mlflow_nor_pandas() -> None:
    script = (
        "import sys, human_interrupt_agent.train, human_interrupt_agent.model;"
        "print(sorted(m for m in ('mlflow', 'pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(  # nosec B603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert json.loads(out.stdout.replace("'", '"')) == []
