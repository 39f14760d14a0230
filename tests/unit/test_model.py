"""The pyfunc wrapper: input shapes, per-record errors, pickling and logging."""

from __future__ import annotations

import json
import math
import pickle  # nosec B403 - round-trips our own object, as mlflow's cloudpickle does
import re
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Set

import pytest

from human_interrupt_agent import InterruptAgentModel, __version__, model
from human_interrupt_agent.graph import AgentConfig, encode_checkpoint
from human_interrupt_agent.model import (
    INPUT_COLUMNS,
    INPUT_EXAMPLE,
    OUTPUT_COLUMNS,
    PACKAGE_DIR,
    PIP_REQUIREMENTS,
    log_model,
    model_signature,
    to_records,
)

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
    assert call["signature"].inputs.input_names() == names(INPUT_COLUMNS)
    assert call["signature"].outputs.input_names() == names(OUTPUT_COLUMNS)
    assert call["input_example"] == INPUT_EXAMPLE


# Samples that reach every branch of predict_record and every status of an answer.
SAMPLE_REQUESTS: List[Dict[str, Any]] = [
    {"thread_id": "s-1", "message": "what are the support hours on weekends"},
    {"thread_id": "s-2", "message": "delete all records for customer 42"},
    {"thread_id": "t-1", "resume": "approve", "checkpoint": CHECKPOINT},
    {"thread_id": "t-1", "resume": "reject", "checkpoint": CHECKPOINT},
    {
        "thread_id": "t-1",
        "resume": "edit",
        "checkpoint": CHECKPOINT,
        "edited_args": {"target": "y"},
    },
    {"resume": "edit", "checkpoint": CHECKPOINT, "edited_args": '{"target": "y"}'},
    {"thread_id": "s-3", "message": 5},
]
# The Python type of each JSON kind a Column names.
KIND_TYPES = {"string": str, "object": dict}


def names(columns: Any) -> List[str]:
    return [column.name for column in columns]


class ReadRecord(Mapping[str, Any]):
    """A request record that notes each field predict looks up."""

    def __init__(self, fields: Dict[str, Any], read: Set[str]) -> None:
        self._fields, self._read = fields, read

    def __getitem__(self, key: str) -> Any:
        self._read.add(key)
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def test_input_columns_are_the_fields_predict_reads() -> None:
    read: Set[str] = set()
    InterruptAgentModel().predict(None, [ReadRecord(r, read) for r in SAMPLE_REQUESTS])
    assert read == set(names(INPUT_COLUMNS))
    kinds = {column.name: column.kind for column in INPUT_COLUMNS}
    for request in SAMPLE_REQUESTS[:-1]:  # the last one is the wrong type on purpose
        for key, value in request.items():
            if key == "edited_args" and isinstance(value, str):
                value = json.loads(value)  # the object's JSON text is accepted too
            assert isinstance(value, KIND_TYPES[kinds[key]]), (key, value)


def test_output_columns_are_the_keys_and_types_predict_returns() -> None:
    answers = InterruptAgentModel().predict(None, SAMPLE_REQUESTS)
    statuses = [answer["status"] for answer in answers]
    assert statuses == [
        "completed",
        "interrupted",
        "completed",
        "rejected",
        "completed",
        "completed",
        "error",
    ]
    for answer in answers:
        assert list(answer) == names(OUTPUT_COLUMNS)
        for column in OUTPUT_COLUMNS:
            value = answer[column.name]
            if value is None:
                assert not column.required, (column.name, answer)
            else:
                assert isinstance(value, KIND_TYPES[column.kind]), (column.name, value)
    # Every column's type was seen on a real value, not only as null.
    seen = {name for answer in answers for name, value in answer.items() if value is not None}
    assert seen == set(names(OUTPUT_COLUMNS))


def test_mlflow_signature_declares_the_columns(fake_mlflow: Any) -> None:
    signature = model_signature()
    assert isinstance(signature, fake_mlflow.models.ModelSignature)
    inputs, outputs = signature.inputs.inputs, signature.outputs.inputs
    assert [(s.name, s.type, s.required) for s in inputs] == [
        (c.name, "string", False) for c in INPUT_COLUMNS
    ]
    # Newer mlflow types an object output as AnyType; older has nothing closer than string.
    any_type = getattr(fake_mlflow.types.schema, "AnyType", None)
    obj = any_type() if any_type else "string"
    assert [(s.name, s.type, s.required) for s in outputs] == [
        (c.name, obj if c.kind == "object" else "string", c.required) for c in OUTPUT_COLUMNS
    ]


def test_input_example_is_a_request_answered_without_a_person() -> None:
    assert set(INPUT_EXAMPLE) <= set(names(INPUT_COLUMNS))
    (answer,) = InterruptAgentModel().predict(None, dict(INPUT_EXAMPLE))
    assert (answer["thread_id"], answer["status"]) == (INPUT_EXAMPLE["thread_id"], "completed")


# Unity Catalog registers no model version without a signature of inputs and outputs. MLflow's
# docs ("Model Signatures and Input Examples", mlflow.org/docs/latest/ml/model/signatures): they
# "are REQUIRED for registering models in Databricks Unity Catalog". MLflow's client refuses with
# these words (mlflow/mlflow, mlflow/store/_unity_catalog/registry/rest_store.py,
# _validate_model_signature; mlflow/mlflow#7909), which the fake in conftest.py repeats.
UC_REFUSALS = {
    "no signature": "Model passed for registration did not contain any signature metadata. "
    "All models in the Unity Catalog must be logged with a model signature containing both "
    "input and output type specifications.",
    "inputs only": "Model passed for registration contained a signature that includes only "
    "inputs. All models in the Unity Catalog must be logged with a model signature containing "
    "both input and output type specifications.",
}


def test_unity_catalog_registers_the_model_with_its_signature(fake_mlflow: Any) -> None:
    fake_mlflow.set_registry_uri("databricks-uc")
    info = log_model(InterruptAgentModel(), registered_model_name="main.agents.hitl")
    assert info.registered_model_version == 7


@pytest.mark.parametrize("refusal", sorted(UC_REFUSALS))
def test_unity_catalog_refuses_a_model_without_a_full_signature(
    fake_mlflow: Any, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    signature = None
    if refusal == "inputs only":
        signature = fake_mlflow.models.ModelSignature(inputs=model_signature().inputs)
    monkeypatch.setattr(model, "model_signature", lambda: signature)
    fake_mlflow.set_registry_uri("databricks-uc")
    with pytest.raises(fake_mlflow.MlflowException, match=re.escape(UC_REFUSALS[refusal])):
        log_model(InterruptAgentModel(), registered_model_name="main.agents.hitl")
    # The workspace registry asks for no signature, which is why this went unnoticed there.
    fake_mlflow.set_registry_uri("databricks")
    assert log_model(InterruptAgentModel(), registered_model_name="m").registered_model_version


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
