"""The training entry point: fitting, evaluation, argument checks and mlflow logging."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any, List

import pytest

from human_interrupt_agent import train
from human_interrupt_agent.graph import DEFAULT_HIGH_RISK, AgentConfig
from human_interrupt_agent.train import EXAMPLES, Example, evaluate, fit, main

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--model-name", "m", "--experiment", "/Shared/e", "--git-sha", "abc1234", "--release"]


def test_fit_on_package_examples_matches_the_contract() -> None:
    assert fit(EXAMPLES).high_risk_tools == DEFAULT_HIGH_RISK


def test_fit_threshold_and_missing_evidence() -> None:
    examples = [
        Example("delete a", "delete_records", "high"),
        Example("delete b", "delete_records", "low"),
        Example("delete c", "delete_records", "low"),
        Example("hello", "search_knowledge_base", "low"),
    ]
    assert "delete_records" not in fit(examples, 0.5).high_risk_tools
    assert "delete_records" in fit(examples, 0.3).high_risk_tools
    # issue_refund and send_email have no examples: they stay behind a human.
    assert {"issue_refund", "send_email"} <= fit(examples).high_risk_tools
    assert "search_knowledge_base" not in fit(examples).high_risk_tools


def test_evaluate_scores_tool_and_risk_separately() -> None:
    examples = [
        Example("delete a", "delete_records", "high"),
        Example("hello", "issue_refund", "high"),
        Example("hi", "search_knowledge_base", "high"),
        Example("ho", "search_knowledge_base", "low"),
    ]
    report = evaluate(AgentConfig(), examples)
    assert report["tool_accuracy"] == 0.75
    assert report["risk_accuracy"] == 0.5
    assert report["accuracy"] == 0.5
    assert report["examples"] == 4


def test_evaluate_needs_examples() -> None:
    with pytest.raises(ValueError, match="zero examples"):
        evaluate(AgentConfig(), [])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--experiment", "e", "--git-sha", "abc1234", "--release", "v1.0.0"], "--model-name"),
        (ARGS[:1] + [" "] + ARGS[2:] + ["v1.0.0"], "--model-name must not be empty"),
        (ARGS[:3] + [""] + ARGS[4:] + ["v1.0.0"], "--experiment must not be empty"),
        (ARGS[:5] + ["HEAD"] + ARGS[6:] + ["v1.0.0"], "--git-sha must be 7-40 hex"),
        (ARGS + ["latest"], "--release must look like v1.2.3"),
        (ARGS + ["v1.0.0", "--threshold", "0"], "--threshold must be in (0, 1]"),
        (ARGS + ["v1.0.0", "--min-accuracy", "2"], "--min-accuracy must be in [0, 1]"),
        (ARGS + ["v1.0.0", "--threshold", "half"], "invalid float value"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(
    argv: List[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("release", ["v1.2.3", "1.2.3", "v0.1.0-rc.1", "1.0.0+build.5"])
def test_dry_run_prints_the_evaluation(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ARGS + [release, "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["accuracy"] == 1.0
    assert report["logged"] is False
    assert report["release"] == release
    assert report["high_risk_tools"] == sorted(DEFAULT_HIGH_RISK)


@pytest.mark.usefixtures("no_mlflow")
def test_without_mlflow_it_evaluates_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ARGS + ["v1.0.0"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["logged"] is False
    assert "mlflow is not importable" in err


def test_low_accuracy_fails_before_logging(
    fake_mlflow: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(train, "EXAMPLES", EXAMPLES + (Example("hi", "send_email", "high"),))
    assert main(ARGS + ["v1.0.0", "--min-accuracy", "1"]) == 1
    out, err = capsys.readouterr()
    assert "below --min-accuracy" in err
    assert json.loads(out)["accuracy"] < 1
    assert fake_mlflow.calls == []


def test_logs_params_metrics_and_model(
    fake_mlflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(ARGS + ["v2.0.0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["logged"], report["run_id"], report["model_version"]) == (True, "run-123", "7")
    calls = {c["call"]: c for c in fake_mlflow.calls}
    assert calls["set_experiment"]["args"] == ("/Shared/e",)
    assert calls["set_tags"]["args"][0]["release"] == "v2.0.0"
    assert calls["log_params"]["args"][0]["high_risk_tools"] == ",".join(sorted(DEFAULT_HIGH_RISK))
    assert calls["log_metrics"]["args"][0] == {
        "accuracy": 1.0,
        "tool_accuracy": 1.0,
        "risk_accuracy": 1.0,
    }
    assert calls["log_model"]["registered_model_name"] == "m"


def test_three_level_name_registers_in_unity_catalog(
    fake_mlflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "prod.human_interrupt_agent.interrupt_agent"
    assert main(["--model-name", name] + ARGS[2:] + ["v1.2.0"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (report["model_name"], report["registry"]) == (name, "unity-catalog")
    assert (report["model_version"], report["run_id"]) == ("7", "run-123")
    names = [c["call"] for c in fake_mlflow.calls]
    # The registry is chosen before anything is logged or registered.
    assert names.index("set_registry_uri") < names.index("log_model")
    (uri,) = [c for c in fake_mlflow.calls if c["call"] == "set_registry_uri"]
    assert uri["args"] == ("databricks-uc",)
    (logged,) = [c for c in fake_mlflow.calls if c["call"] == "log_model"]
    assert logged["registered_model_name"] == name
    assert logged["signature"] is not None  # the fake refuses Unity Catalog without one


def test_plain_name_stays_in_the_workspace_registry(
    fake_mlflow: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(ARGS + ["v1.2.0"]) == 0
    assert json.loads(capsys.readouterr().out)["registry"] == "workspace"
    assert "set_registry_uri" not in [c["call"] for c in fake_mlflow.calls]


@pytest.mark.parametrize("name", ["dev.agents", "a.b.c.d", "dev..model", "dev.my schema.model"])
def test_dotted_name_must_be_three_level(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--model-name", name] + ARGS[2:] + ["v1.0.0"])
    assert exc.value.code == 2
    assert "must be a Unity Catalog name catalog.schema.model" in capsys.readouterr().err


def test_module_runs_as_a_script() -> None:
    out = subprocess.run(  # nosec B603
        [sys.executable, "-m", "human_interrupt_agent.train", *ARGS, "v1.0.0", "--dry-run"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model_name"] == "m"
