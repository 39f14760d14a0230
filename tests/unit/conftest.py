"""Shared fixtures: a stand-in mlflow module, because mlflow itself is not installed here."""

from __future__ import annotations

import sys
import types
from typing import Any, Dict, Iterator, List, Optional, Tuple, cast

import pytest

# What MLflow's Unity Catalog registry says when it refuses a model version, before anything is
# uploaded: mlflow/mlflow, mlflow/store/_unity_catalog/registry/rest_store.py,
# _validate_model_signature (added by "Require signature for model versions in UC",
# mlflow/mlflow#7909). The message goes on with a link to MLflow's signature docs.
UC_SIGNATURE_NEEDED = (
    "All models in the Unity Catalog must be logged with a model signature containing both "
    "input and output type specifications."
)
UC_NO_SIGNATURE = "Model passed for registration did not contain any signature metadata. "
UC_INPUTS_ONLY = "Model passed for registration contained a signature that includes only inputs. "
UC_REGISTRY_URI = "databricks-uc"


class FakeRun:
    """What ``mlflow.start_run`` yields: only ``info.run_id`` is read."""

    def __init__(self) -> None:
        self.info = types.SimpleNamespace(run_id="run-123")

    def __enter__(self) -> "FakeRun":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class MlflowException(Exception):
    """Stands in for mlflow.MlflowException."""


class ModelSignature:  # pylint: disable=too-few-public-methods
    """mlflow.models.ModelSignature: an input and an output schema."""

    def __init__(self, inputs: Any, outputs: Any = None) -> None:
        self.inputs, self.outputs = inputs, outputs


class Schema:  # pylint: disable=too-few-public-methods
    """mlflow.types.schema.Schema: a list of column specs."""

    def __init__(self, inputs: List[Any]) -> None:
        self.inputs = inputs

    def input_names(self) -> List[str]:
        """The columns' names, in order."""
        return [spec.name for spec in self.inputs]


class AnyType:  # pylint: disable=too-few-public-methods
    """mlflow.types.schema.AnyType, which newer mlflow has."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyType)

    def __hash__(self) -> int:
        return hash("any")


class NewColSpec:  # pylint: disable=too-few-public-methods
    """ColSpec as newer mlflow spells it: required=."""

    def __init__(self, type: Any, name: Optional[str] = None, required: bool = True) -> None:
        # pylint: disable=redefined-builtin
        self.type, self.name, self.required = type, name, required


class OldColSpec:  # pylint: disable=too-few-public-methods
    """ColSpec as older mlflow spells it: optional=."""

    def __init__(self, type: Any, name: Optional[str] = None, optional: bool = False) -> None:
        # pylint: disable=redefined-builtin
        self.type, self.name, self.optional = type, name, optional

    @property
    def required(self) -> bool:
        """Read the same way as the newer spelling."""
        return not self.optional


def check_uc_signature(signature: Any) -> None:
    """Refuse a model version as MLflow's Unity Catalog registry does."""
    if signature is None:
        raise MlflowException(UC_NO_SIGNATURE + UC_SIGNATURE_NEEDED)
    if signature.outputs is None:
        raise MlflowException(UC_INPUTS_ONLY + UC_SIGNATURE_NEEDED)


def signature_modules(newer: bool) -> Tuple[types.ModuleType, types.ModuleType]:
    """mlflow.models and mlflow.types (with its schema module) of one mlflow era."""
    models = types.ModuleType("mlflow.models")
    models.ModelSignature = ModelSignature  # type: ignore[attr-defined]
    schema = types.ModuleType("mlflow.types.schema")
    schema.Schema = Schema  # type: ignore[attr-defined]
    schema.ColSpec = NewColSpec if newer else OldColSpec  # type: ignore[attr-defined]
    if newer:
        schema.AnyType = AnyType  # type: ignore[attr-defined]
    mlflow_types = types.ModuleType("mlflow.types")
    mlflow_types.schema = schema  # type: ignore[attr-defined]
    return models, mlflow_types


def make_fake_mlflow(code_arg: str = "code_paths") -> types.ModuleType:
    """Build a module with the slice of mlflow's API the package calls, recording each call.

    ``code_arg`` picks the era: "code_paths" is newer mlflow (ColSpec's required=, AnyType),
    "code_path" older (ColSpec's optional=, no AnyType).
    """
    calls: List[Dict[str, Any]] = []
    mlflow = types.ModuleType("mlflow")
    pyfunc = types.ModuleType("mlflow.pyfunc")
    newer = code_arg == "code_paths"
    registry = {"uri": "databricks"}

    class PythonModel:  # pylint: disable=too-few-public-methods
        """The base class mlflow insists a logged model has."""

    def record_model(artifact_path: str, python_model: Any, **kwargs: Any) -> Any:
        calls.append({"call": "log_model", "artifact_path": artifact_path, "model": python_model})
        calls[-1].update(kwargs)
        # Only the Unity Catalog registry asks for a signature; the workspace registry does not.
        if kwargs["registered_model_name"] and registry["uri"] == UC_REGISTRY_URI:
            check_uc_signature(kwargs["signature"])
        # mlflow's ModelInfo carries the version as an int.
        return types.SimpleNamespace(registered_model_version=7)

    # Newer mlflow 2.x spells the keyword code_paths, older code_path; offer exactly one.
    # Each takes mlflow's own keywords, so the package's calls are checked against them.
    def log_model_new(  # pylint: disable=too-many-arguments
        artifact_path: str,
        python_model: Any,
        pip_requirements: Any = None,
        registered_model_name: Any = None,
        signature: Any = None,
        input_example: Any = None,
        code_paths: Any = None,
    ) -> Any:
        return record_model(
            artifact_path,
            python_model,
            pip_requirements=pip_requirements,
            registered_model_name=registered_model_name,
            signature=signature,
            input_example=input_example,
            code_paths=code_paths,
        )

    def log_model_old(  # pylint: disable=too-many-arguments
        artifact_path: str,
        python_model: Any,
        pip_requirements: Any = None,
        registered_model_name: Any = None,
        signature: Any = None,
        input_example: Any = None,
        code_path: Any = None,
    ) -> Any:
        return record_model(
            artifact_path,
            python_model,
            pip_requirements=pip_requirements,
            registered_model_name=registered_model_name,
            signature=signature,
            input_example=input_example,
            code_path=code_path,
        )

    pyfunc.PythonModel = PythonModel  # type: ignore[attr-defined]
    pyfunc.log_model = log_model_new if newer else log_model_old  # type: ignore[attr-defined]
    mlflow.pyfunc = pyfunc  # type: ignore[attr-defined]
    mlflow.models, mlflow.types = signature_modules(newer)  # type: ignore[attr-defined]
    mlflow.MlflowException = MlflowException  # type: ignore[attr-defined]
    mlflow.calls = calls  # type: ignore[attr-defined]

    def record(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> None:
            calls.append({"call": name, "args": args, "kwargs": kwargs})

        return call

    for name in ("set_experiment", "set_tags", "log_params", "log_metrics"):
        setattr(mlflow, name, record(name))

    def set_registry_uri(uri: str) -> None:
        calls.append({"call": "set_registry_uri", "args": (uri,), "kwargs": {}})
        registry["uri"] = uri

    mlflow.set_registry_uri = set_registry_uri  # type: ignore[attr-defined]
    mlflow.start_run = lambda **kwargs: FakeRun()  # type: ignore[attr-defined]
    return mlflow


MLFLOW_SUBMODULES = ("mlflow.pyfunc", "mlflow.models", "mlflow.types", "mlflow.types.schema")


def _submodule(mlflow: Any, dotted: str) -> Any:
    module = mlflow
    for part in dotted.split(".")[1:]:
        module = getattr(module, part)
    return module


@pytest.fixture(params=["code_paths", "code_path"])
def fake_mlflow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install a fake mlflow in sys.modules, once per era (see make_fake_mlflow)."""
    mlflow = make_fake_mlflow(request.param)
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    for name in MLFLOW_SUBMODULES:
        monkeypatch.setitem(sys.modules, name, _submodule(mlflow, name))
    yield mlflow


@pytest.fixture
def no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import mlflow`` fail as it does on a machine without it."""
    modules = cast(Dict[str, Any], sys.modules)  # None in sys.modules makes import raise
    for name in ("mlflow",) + MLFLOW_SUBMODULES:
        monkeypatch.setitem(modules, name, None)
