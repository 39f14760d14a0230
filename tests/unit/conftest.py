"""Shared fixtures: a stand-in mlflow module, because mlflow itself is not installed here."""

from __future__ import annotations

import sys
import types
from typing import Any, Dict, Iterator, List, cast

import pytest


class FakeRun:
    """What ``mlflow.start_run`` yields: only ``info.run_id`` is read."""

    def __init__(self) -> None:
        self.info = types.SimpleNamespace(run_id="run-123")

    def __enter__(self) -> "FakeRun":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def make_fake_mlflow(code_arg: str = "code_paths") -> types.ModuleType:
    """Build a module with the slice of mlflow's API the package calls, recording each call."""
    calls: List[Dict[str, Any]] = []
    mlflow = types.ModuleType("mlflow")
    pyfunc = types.ModuleType("mlflow.pyfunc")

    class PythonModel:  # pylint: disable=too-few-public-methods
        """The base class mlflow insists a logged model has."""

    def record_model(artifact_path: str, python_model: Any, **kwargs: Any) -> Any:
        calls.append({"call": "log_model", "artifact_path": artifact_path, "model": python_model})
        calls[-1].update(kwargs)
        # mlflow's ModelInfo carries the version as an int.
        return types.SimpleNamespace(registered_model_version=7)

    # Newer mlflow 2.x spells the keyword code_paths, older code_path; offer exactly one.
    def log_model_new(
        artifact_path: str,
        python_model: Any,
        pip_requirements: Any = None,
        registered_model_name: Any = None,
        code_paths: Any = None,
    ) -> Any:
        return record_model(
            artifact_path,
            python_model,
            pip_requirements=pip_requirements,
            registered_model_name=registered_model_name,
            code_paths=code_paths,
        )

    def log_model_old(
        artifact_path: str,
        python_model: Any,
        pip_requirements: Any = None,
        registered_model_name: Any = None,
        code_path: Any = None,
    ) -> Any:
        return record_model(
            artifact_path,
            python_model,
            pip_requirements=pip_requirements,
            registered_model_name=registered_model_name,
            code_path=code_path,
        )

    pyfunc.PythonModel = PythonModel  # type: ignore[attr-defined]
    chosen = log_model_new if code_arg == "code_paths" else log_model_old
    pyfunc.log_model = chosen  # type: ignore[attr-defined]
    mlflow.pyfunc = pyfunc  # type: ignore[attr-defined]
    mlflow.calls = calls  # type: ignore[attr-defined]

    def record(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> None:
            calls.append({"call": name, "args": args, "kwargs": kwargs})

        return call

    for name in ("set_registry_uri", "set_experiment", "set_tags", "log_params", "log_metrics"):
        setattr(mlflow, name, record(name))
    mlflow.start_run = lambda **kwargs: FakeRun()  # type: ignore[attr-defined]
    return mlflow


@pytest.fixture(params=["code_paths", "code_path"])
def fake_mlflow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install a fake mlflow in sys.modules, once per spelling of the code-path keyword."""
    mlflow = make_fake_mlflow(request.param)
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", mlflow.pyfunc)
    yield mlflow


@pytest.fixture
def no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import mlflow`` fail as it does on a machine without it."""
    modules = cast(Dict[str, Any], sys.modules)  # None in sys.modules makes import raise
    monkeypatch.setitem(modules, "mlflow", None)
    monkeypatch.setitem(modules, "mlflow.pyfunc", None)
