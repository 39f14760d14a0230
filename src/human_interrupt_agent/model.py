"""The MLflow pyfunc wrapper that Databricks Model Serving runs.

``InterruptAgentModel`` has the ``PythonModel`` interface (``load_context`` and
``predict(context, model_input, params=None)``) without importing mlflow, so the package stays
importable anywhere; :func:`log_model` imports mlflow only when a model is actually logged.
The columns of a request record and of an answer are declared once here (``INPUT_COLUMNS``,
``OUTPUT_COLUMNS``) and become the logged model's MLflow signature.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from human_interrupt_agent.graph import AgentConfig, AgentError, AgentGraph, RunResult

# What the serving container installs; kept equal to requirements.txt (a unit test checks).
PIP_REQUIREMENTS = ("mlflow>=2.9,<3", "pandas>=1.5,<3")
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Column:
    """A named field of a request record or an answer, with the JSON type of its values."""

    name: str
    kind: str  # "string" or "object"
    required: bool = False  # present and not null in every record


# What predict_record reads: a new request has "message", a resumed one "resume" and
# "checkpoint". A numeric thread_id is echoed as text, but the contract asks for text.
INPUT_COLUMNS: Tuple[Column, ...] = (
    Column("thread_id", "string"),
    Column("message", "string"),
    Column("resume", "string"),
    Column("checkpoint", "string"),
    Column("edited_args", "object"),  # or the object's JSON text
)
# What RunResult.to_dict returns, every key in every answer; only status is never null.
OUTPUT_COLUMNS: Tuple[Column, ...] = (
    Column("thread_id", "string"),
    Column("status", "string", required=True),
    Column("tool", "string"),
    Column("tool_args", "object"),
    Column("risk", "string"),
    Column("interrupt", "object"),
    Column("result", "string"),
)
# Logged beside the model: a request a reader can copy, answered without a human.
INPUT_EXAMPLE: Dict[str, str] = {
    "thread_id": "example-1",
    "message": "what are the support hours on weekends",
}


def _missing(value: Any) -> bool:
    # A DataFrame built from mixed records fills absent columns with NaN.
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text_field(record: Mapping[str, Any], name: str) -> Optional[str]:
    value = record.get(name)
    if _missing(value):
        return None
    if not isinstance(value, str):
        raise AgentError(f'"{name}" must be a string, got {type(value).__name__}')
    return value if value.strip() else None


def _edited_args(value: Any) -> Optional[Dict[str, Any]]:
    if _missing(value):
        return None
    if isinstance(value, str):  # some clients send the object as a JSON string
        try:
            value = json.loads(value)
        except ValueError as err:
            raise AgentError(f'"edited_args" is not valid JSON: {err}') from err
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise AgentError('"edited_args" must be an object with string keys')
    return value


def to_records(model_input: Any) -> List[Any]:
    """Turn a pandas DataFrame, a list of dicts or one dict into a list of records."""
    if hasattr(model_input, "to_dict") and hasattr(model_input, "columns"):
        return list(model_input.to_dict(orient="records"))
    if isinstance(model_input, Mapping):
        return [model_input]
    if isinstance(model_input, (list, tuple)):
        return list(model_input)
    raise TypeError(
        f"model input must be a DataFrame, a list of records or a record, "
        f"got {type(model_input).__name__}"
    )


class InterruptAgentModel:
    """Serve the agent: one prediction object per input record, never an exception per record."""

    def __init__(self, config: Optional[AgentConfig] = None) -> None:
        self.config = config or AgentConfig()
        self.graph = AgentGraph(self.config)

    def load_context(self, context: Any) -> None:  # pylint: disable=unused-argument
        """Rebuild the graph after unpickling; the config travels inside the pickle."""
        self.graph = AgentGraph(self.config)

    def predict(
        self,
        context: Any,  # pylint: disable=unused-argument
        model_input: Any,
        params: Optional[Dict[str, Any]] = None,  # pylint: disable=unused-argument
    ) -> List[Dict[str, Any]]:
        """Answer every record (see the serving contract for the shapes)."""
        return [self.predict_record(record) for record in to_records(model_input)]

    def predict_record(self, record: Any) -> Dict[str, Any]:
        """Answer one record; bad input becomes status "error" with a message in "result"."""
        if not isinstance(record, Mapping):
            return RunResult(None, "error", result="each record must be an object").to_dict()
        thread_id = None if _missing(record.get("thread_id")) else str(record.get("thread_id"))
        try:
            message = _text_field(record, "message")
            resume = _text_field(record, "resume")
            if message is not None and resume is not None:
                raise AgentError('a record has either "message" or "resume", not both')
            if resume is not None:
                return self.graph.resume(
                    _text_field(record, "checkpoint"),
                    resume.strip().lower(),
                    _edited_args(record.get("edited_args")),
                    thread_id,
                ).to_dict()
            if message is not None:
                return self.graph.invoke(thread_id, message).to_dict()
            raise AgentError('a record needs a "message" (new request) or a "resume" decision')
        except AgentError as err:
            return RunResult(thread_id, "error", result=str(err)).to_dict()


def _colspec(schema: Any, column: Column, as_input: bool) -> Any:
    """One column as an mlflow ColSpec, in the spelling and types this mlflow version has."""
    kind: Any = "string"
    # MLflow checks inputs against the signature, and a column declared "string" reaches predict
    # unchanged even when it holds objects: edited_args keeps both spellings in every version.
    # Outputs are not checked; an object there is AnyType where this mlflow has it (newer 2.x).
    if column.kind == "object" and not as_input and hasattr(schema, "AnyType"):
        kind = schema.AnyType()
    # Older mlflow spells the flag optional=, newer required= (optional= is gone there).
    accepted = inspect.signature(schema.ColSpec).parameters
    if "required" in accepted:
        return schema.ColSpec(kind, column.name, required=column.required)
    return schema.ColSpec(kind, column.name, optional=not column.required)


def model_signature() -> Any:
    """The mlflow ModelSignature of :meth:`InterruptAgentModel.predict` (imports mlflow)."""
    # pylint: disable=import-outside-toplevel
    from mlflow.models import ModelSignature
    from mlflow.types import schema

    return ModelSignature(
        inputs=schema.Schema([_colspec(schema, c, as_input=True) for c in INPUT_COLUMNS]),
        outputs=schema.Schema([_colspec(schema, c, as_input=False) for c in OUTPUT_COLUMNS]),
    )


def log_model(
    model: InterruptAgentModel,
    artifact_path: str = "agent",
    registered_model_name: Optional[str] = None,
) -> Any:
    """Log (and optionally register) the model with mlflow; returns mlflow's ModelInfo."""
    # pylint: disable=import-outside-toplevel
    import mlflow.pyfunc
    from mlflow.pyfunc import PythonModel

    # mlflow only logs PythonModel instances; mixing the base in here keeps imports lazy.
    class InterruptAgentPyfunc(InterruptAgentModel, PythonModel):  # type: ignore[misc]
        """The agent as an mlflow.pyfunc.PythonModel."""

    # mlflow 2.x renamed code_path to code_paths; pass whichever this version takes.
    accepted = inspect.signature(mlflow.pyfunc.log_model).parameters
    code_key = "code_paths" if "code_paths" in accepted else "code_path"
    return mlflow.pyfunc.log_model(
        artifact_path=artifact_path,
        python_model=InterruptAgentPyfunc(model.config),
        pip_requirements=list(PIP_REQUIREMENTS),
        registered_model_name=registered_model_name,
        # Unity Catalog registers no model logged without a signature of inputs and outputs;
        # both keywords have kept their names across mlflow 2.x.
        signature=model_signature(),
        input_example=dict(INPUT_EXAMPLE),
        **{code_key: [PACKAGE_DIR]},
    )
