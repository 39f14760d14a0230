"""Training entry point for the bundle's job.

``python -m human_interrupt_agent.train --model-name NAME --experiment PATH --git-sha SHA
--release vX.Y.Z`` fits the agent's risk policy on the labelled examples below, evaluates it,
and, when mlflow is importable, logs params, metrics and the pyfunc model (registering it under
``--model-name``). A three-level name (catalog.schema.model) registers in Unity Catalog, any other
name in the workspace model registry. With ``--dry-run`` or without mlflow it only prints the
evaluation. The last line on stdout is always the report as JSON: the evaluation, and once
registered the model's full name, the version and the run id it was logged in.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from human_interrupt_agent import __version__
from human_interrupt_agent.graph import DEFAULT_RULES, FALLBACK_RULE, HIGH, AgentConfig
from human_interrupt_agent.model import InterruptAgentModel, log_model
from human_interrupt_agent.promote import UC_REGISTRY_URI, is_uc_name


@dataclass(frozen=True)
class Example:
    """A message labelled with the tool it should reach and that call's risk."""

    message: str
    tool: str
    risk: str


EXAMPLES = (
    Example("how do I reset my password", "search_knowledge_base", "low"),
    Example("what are the support hours on weekends", "search_knowledge_base", "low"),
    Example("which plan includes single sign-on", "search_knowledge_base", "low"),
    Example("what is the return window for hardware orders", "search_knowledge_base", "low"),
    Example("delete all records for customer 42", "delete_records", "high"),
    Example("drop the staging table for invoices", "delete_records", "high"),
    Example("remove user 17 from the billing list", "delete_records", "high"),
    Example("refund order 1001 in full", "issue_refund", "high"),
    Example("issue a refund for the duplicate charge", "issue_refund", "high"),
    Example("email the quarterly report to finance", "send_email", "high"),
    Example("send the signed contract to the supplier", "send_email", "high"),
)
METRICS = ("accuracy", "tool_accuracy", "risk_accuracy")
_RELEASE = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_GIT_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def fit(examples: Iterable[Example], threshold: float = 0.5) -> AgentConfig:
    """Mark a tool high risk when at least ``threshold`` of its examples are labelled high.

    A tool with no examples stays high risk: without evidence, ask a person.
    """
    labels: Dict[str, List[bool]] = {}
    for example in examples:
        labels.setdefault(example.tool, []).append(example.risk == HIGH)
    high = set()
    for tool in [rule.tool for rule in DEFAULT_RULES] + [FALLBACK_RULE.tool]:
        seen = labels.get(tool)
        if not seen or sum(seen) / len(seen) >= threshold:
            high.add(tool)
    return AgentConfig(rules=DEFAULT_RULES, high_risk_tools=frozenset(high))


def evaluate(config: AgentConfig, examples: Sequence[Example]) -> Dict[str, Any]:
    """Score the planner and the risk gate against the labels."""
    if not examples:
        raise ValueError("cannot evaluate on zero examples")
    tool_hits = risk_hits = both = 0
    for example in examples:
        tool, _ = config.plan(example.message)
        tool_ok = tool == example.tool
        risk_ok = config.risk(tool) == example.risk
        tool_hits, risk_hits, both = (
            tool_hits + tool_ok,
            risk_hits + risk_ok,
            both + (tool_ok and risk_ok),
        )
    total = len(examples)
    return {
        "examples": total,
        "accuracy": both / total,
        "tool_accuracy": tool_hits / total,
        "risk_accuracy": risk_hits / total,
        "high_risk_tools": sorted(config.high_risk_tools),
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and validate the command line; bad values exit 2 with a message saying what to fix."""
    parser = argparse.ArgumentParser(prog="python -m human_interrupt_agent.train")
    parser.add_argument("--model-name", required=True, help="registered model name")
    parser.add_argument("--experiment", required=True, help="MLflow experiment path")
    parser.add_argument("--git-sha", required=True, help="commit the model is built from")
    parser.add_argument("--release", required=True, help="release version, e.g. v1.2.3")
    parser.add_argument("--threshold", type=float, default=0.5, help="share of high labels")
    parser.add_argument("--min-accuracy", type=float, default=0.9, help="fail below this")
    parser.add_argument("--dry-run", action="store_true", help="evaluate only, log nothing")
    args = parser.parse_args(argv)
    if not args.model_name.strip():
        parser.error("--model-name must not be empty")
    if "." in args.model_name and not is_uc_name(args.model_name):
        parser.error(
            f"--model-name with dots must be a Unity Catalog name catalog.schema.model, "
            f"got {args.model_name!r}"
        )
    if not args.experiment.strip():
        parser.error("--experiment must not be empty")
    if not _GIT_SHA.match(args.git_sha):
        parser.error(f"--git-sha must be 7-40 hex characters, got {args.git_sha!r}")
    if not _RELEASE.match(args.release):
        parser.error(f"--release must look like v1.2.3 or 1.2.3-rc.1, got {args.release!r}")
    if not 0.0 < args.threshold <= 1.0:
        parser.error(f"--threshold must be in (0, 1], got {args.threshold}")
    if not 0.0 <= args.min_accuracy <= 1.0:
        parser.error(f"--min-accuracy must be in [0, 1], got {args.min_accuracy}")
    return args


def _log_to_mlflow(
    mlflow: Any, args: argparse.Namespace, config: AgentConfig, report: Dict[str, Any]
) -> None:
    if is_uc_name(args.model_name):
        mlflow.set_registry_uri(UC_REGISTRY_URI)
    mlflow.set_experiment(args.experiment)
    with mlflow.start_run(run_name=f"train-{args.release}") as run:
        mlflow.set_tags(
            {"git_sha": args.git_sha, "release": args.release, "package_version": __version__}
        )
        mlflow.log_params(
            {
                "threshold": args.threshold,
                "high_risk_tools": ",".join(report["high_risk_tools"]),
                "rules": len(config.rules),
                "examples": report["examples"],
            }
        )
        mlflow.log_metrics({name: report[name] for name in METRICS})
        info = log_model(InterruptAgentModel(config), registered_model_name=args.model_name)
    report["run_id"] = run.info.run_id
    version = getattr(info, "registered_model_version", None)
    # The report names versions as the registry APIs do: as strings.
    report["model_version"] = None if version is None else str(version)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run training; returns the process exit code."""
    args = parse_args(argv)
    config = fit(EXAMPLES, args.threshold)
    report = evaluate(config, EXAMPLES)
    report.update(
        model_name=args.model_name,
        registry="unity-catalog" if is_uc_name(args.model_name) else "workspace",
        release=args.release,
        git_sha=args.git_sha,
    )
    if report["accuracy"] < args.min_accuracy:
        print(
            f"error: accuracy {report['accuracy']:.3f} is below --min-accuracy "
            f"{args.min_accuracy}; nothing was logged",
            file=sys.stderr,
        )
        print(json.dumps(report, sort_keys=True))
        return 1
    if args.dry_run:
        report["logged"] = False
    else:
        try:
            import mlflow  # pylint: disable=import-outside-toplevel
        except ImportError:
            print("mlflow is not importable: evaluation only, nothing logged", file=sys.stderr)
            report["logged"] = False
        else:
            _log_to_mlflow(mlflow, args, config, report)
            report["logged"] = True
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
