"""The promotion task: find or make the release's copy, set the alias."""

from __future__ import annotations

import json
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from human_interrupt_agent import promote
from human_interrupt_agent.promote import (
    PromotionError,
    Request,
    SourceNotReadableError,
    is_uc_name,
    main,
    release_alias,
)

ROOT = Path(__file__).resolve().parents[2]
SRC, TGT = "staging.agents.interrupt_agent", "prod.agents.interrupt_agent"
ARGV = [
    "--source-model",
    SRC,
    "--source-version",
    "3",
    "--target-model",
    TGT,
    "--release-alias",
    "release_v1_2_0",
    "--release",
    "v1.2.0",
]
REQ = Request(SRC, "3", TGT, "release_v1_2_0", "v1.2.0")


class FakeMlflowError(Exception):
    """Stands in for MlflowException: a message and an error_code."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


class Version:  # pylint: disable=too-few-public-methods
    """The fields of mlflow's ModelVersion the task reads."""

    def __init__(self, name: str, version: int, source: str, status: str = "READY") -> None:
        self.name, self.version, self.source, self.status = name, version, source, status
        self.status_message = ""
        self.description = ""


class Page(list):  # type: ignore[type-arg]
    """mlflow's PagedList: a list with a continuation token."""

    def __init__(self, items: List[Version], token: Optional[str]) -> None:
        super().__init__(items)
        self.token = token


class FakeClient:
    """A Unity Catalog registry in memory, with the MlflowClient methods the task calls."""

    def __init__(self, page_size: int = 2) -> None:
        self.models: Dict[str, List[Version]] = {SRC: [], TGT: []}
        self.aliases: Dict[Tuple[str, str], int] = {}
        self.readable = True
        self.copy_status = "READY"
        self.page_size = page_size
        self.calls: List[str] = []
        self.numbers: Dict[str, int] = {}

    def add(self, name: str, source: str, status: str = "READY") -> Version:
        # Version numbers are never reused, even after a delete.
        self.numbers[name] = self.numbers.get(name, 0) + 1
        v = Version(name, self.numbers[name], source, status)
        self.models[name].append(v)
        return v

    def get_model_version_by_alias(self, name: str, alias: str) -> Version:
        self.calls.append("get_by_alias")
        if (name, alias) not in self.aliases:
            raise FakeMlflowError(f"alias {alias} not found", "RESOURCE_DOES_NOT_EXIST")
        return next(v for v in self.models[name] if v.version == self.aliases[(name, alias)])

    def search_model_versions(self, filter_string: str, page_token: Optional[str] = None) -> Page:
        self.calls.append("search")
        name = filter_string.split("'")[1]
        start = int(page_token or 0)
        items = self.models[name][start : start + self.page_size]
        more = start + self.page_size < len(self.models[name])
        return Page(items, str(start + self.page_size) if more else None)

    def get_model_version(self, name: str, version: str) -> Version:
        self.calls.append(f"get {name} {version}")
        if name == SRC and not self.readable:
            raise FakeMlflowError(
                "User does not have USE CATALOG on Catalog 'staging'.", "PERMISSION_DENIED"
            )
        return next(v for v in self.models[name] if v.version == int(version))

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> Version:
        # MLflow creates, uploads and finalizes before it returns.
        self.calls.append("copy")
        v = self.add(dst_name, src_model_uri, self.copy_status)
        if v.status == "FAILED_REGISTRATION":
            v.status_message = "artifact upload failed"
        return v

    def delete_model_version(self, name: str, version: str) -> None:
        self.calls.append(f"delete {version}")
        self.models[name] = [v for v in self.models[name] if str(v.version) != version]

    def update_model_version(self, name: str, version: int, description: str) -> None:
        self.calls.append("update")
        next(v for v in self.models[name] if v.version == int(version)).description = description

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        self.calls.append("set_alias")
        self.aliases[(name, alias)] = int(version)


def run(client: FakeClient) -> Dict[str, Any]:
    return promote.promote(client, REQ)


@pytest.fixture
def client() -> FakeClient:
    c = FakeClient()
    for _ in range(3):
        c.add(SRC, "dbfs:/run/artifacts/agent")
    c.add(TGT, "models:/staging.agents.interrupt_agent/1")  # an older release's copy
    return c


def test_copies_and_sets_the_alias(client: FakeClient) -> None:
    report = run(client)
    assert report == {
        "model_name": TGT,
        "model_version": "2",
        "source_model": SRC,
        "source_version": "3",
        "release_alias": "release_v1_2_0",
        "copied": True,
    }
    copy = client.models[TGT][1]
    assert copy.source == "models:/staging.agents.interrupt_agent/3"
    assert copy.status == "READY"
    assert copy.description == "release v1.2.0: copy of staging.agents.interrupt_agent v3"
    assert client.aliases[(TGT, "release_v1_2_0")] == 2


def test_rerun_after_the_alias_finds_the_copy(client: FakeClient) -> None:
    run(client)
    client.calls.clear()
    report = run(client)
    assert (report["model_version"], report["copied"]) == ("2", False)
    assert "copy" not in client.calls and "search" not in client.calls
    assert len(client.models[TGT]) == 2


def test_rerun_after_a_kill_before_the_alias_finds_the_copy_by_source(client: FakeClient) -> None:
    client.page_size = 1  # the copy is on a later page of the search
    client.add(TGT, "models:/staging.agents.interrupt_agent/3")
    report = run(client)
    assert (report["model_version"], report["copied"]) == ("2", False)
    assert "copy" not in client.calls
    assert client.calls.count("search") == 2
    assert client.aliases[(TGT, "release_v1_2_0")] == 2


def test_an_unfinished_copy_is_deleted_and_replaced(client: FakeClient) -> None:
    # A run that died during the upload left v2 PENDING_REGISTRATION: nothing
    # will finalize it, so it is deleted and one new copy is made.
    client.add(TGT, "models:/staging.agents.interrupt_agent/3", "PENDING_REGISTRATION")
    report = run(client)
    assert (report["model_version"], report["copied"], report["discarded"]) == ("3", True, ["2"])
    assert "delete 2" in client.calls
    copies = [v for v in client.models[TGT] if v.source.endswith("/3")]
    assert [(v.version, v.status) for v in copies] == [(3, "READY")]
    assert not any(c.startswith("get " + TGT) for c in client.calls), "nothing is waited on"


def test_a_failed_earlier_copy_is_not_reused(client: FakeClient) -> None:
    client.add(TGT, "models:/staging.agents.interrupt_agent/3", "FAILED_REGISTRATION")
    report = run(client)
    assert (report["model_version"], report["copied"]) == ("3", True)
    assert "discarded" not in report
    assert client.models[TGT][1].status == "FAILED_REGISTRATION", "left as evidence"


def test_unreadable_source_names_the_missing_grants(client: FakeClient) -> None:
    client.readable = False
    with pytest.raises(SourceNotReadableError) as exc:
        run(client)
    message = str(exc.value)
    assert "PERMISSION_DENIED" in message
    assert "USE_CATALOG on catalog staging" in message
    assert "USE_SCHEMA on schema staging.agents" in message
    assert f"EXECUTE on model {SRC}" in message
    assert "copy" not in client.calls and "set_alias" not in client.calls


def test_source_not_ready_is_refused(client: FakeClient) -> None:
    client.models[SRC][2].status = "PENDING_REGISTRATION"
    with pytest.raises(PromotionError, match="is PENDING_REGISTRATION, not READY"):
        run(client)


def test_a_copy_that_fails_registration_reports_its_message(client: FakeClient) -> None:
    client.copy_status = "FAILED_REGISTRATION"
    with pytest.raises(
        PromotionError, match="is FAILED_REGISTRATION after its creation: artifact upload failed"
    ):
        run(client)
    assert "set_alias" not in client.calls


def test_alias_lookup_failure_is_not_taken_for_no_alias(client: FakeClient) -> None:
    def broken(name: str, alias: str) -> Version:
        raise FakeMlflowError("internal error", "INTERNAL_ERROR")

    client.get_model_version_by_alias = broken  # type: ignore[assignment]
    with pytest.raises(PromotionError, match="cannot look up alias release_v1_2_0"):
        run(client)
    assert "copy" not in client.calls


def test_copy_failure_is_reported(client: FakeClient) -> None:
    def refused(src_model_uri: str, dst_name: str) -> Version:
        raise FakeMlflowError("User is not an owner of Registered Model", "PERMISSION_DENIED")

    client.copy_model_version = refused  # type: ignore[assignment]
    with pytest.raises(
        PromotionError, match="cannot copy models:/staging.agents.interrupt_agent/3"
    ):
        run(client)


def test_main_prints_the_report_last(
    client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(ARGV, client=client) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["copied"] is True and report["model_version"] == "2"


def test_main_fails_with_the_reason(client: FakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.readable = False
    assert main(ARGV, client=client) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: cannot read source model version")


@pytest.mark.usefixtures("no_mlflow")
def test_main_without_mlflow_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ARGV) == 1
    assert "mlflow is not importable; the promotion needs it" in capsys.readouterr().err


def test_main_builds_a_unity_catalog_client(
    monkeypatch: pytest.MonkeyPatch, client: FakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: Dict[str, Any] = {}

    def make(registry_uri: str) -> FakeClient:
        seen["registry_uri"] = registry_uri
        return client

    fake = type(sys)("mlflow")
    fake.MlflowClient = make  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    assert main(ARGV) == 0
    assert seen == {"registry_uri": "databricks-uc"}
    assert json.loads(capsys.readouterr().out)["model_name"] == TGT


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--source-model": ""}, "--source-model must be a Unity Catalog name"),
        ({"--target-model": "prod.interrupt_agent"}, "--target-model must be a Unity Catalog name"),
        ({"--source-version": ""}, "--source-version must be a version number"),
        ({"--source-version": "0"}, "--source-version must be a version number"),
        ({"--release-alias": "release-v1"}, "--release-alias may only hold letters"),
        ({"--release": "latest"}, "--release must look like v1.2.3"),
        ({"--target-model": SRC.upper()}, "are the same model"),
    ],
)
def test_bad_arguments_exit_2(
    change: Dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = list(ARGV)
    for flag, value in change.items():
        argv[argv.index(flag) + 1] = value
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "tag, alias",
    [("v1.2.0", "release_v1_2_0"), ("v1.2.0-rc.1", "release_v1_2_0_rc_1")],
)
def test_release_alias(tag: str, alias: str) -> None:
    assert release_alias(tag) == alias


@pytest.mark.parametrize(
    "name, ok",
    [("a.b.c", True), ("a.b", False), ("a.b.c.d", False), ("a..c", False), ("a.b c.d", False)],
)
def test_is_uc_name(name: str, ok: bool) -> None:
    assert is_uc_name(name) is ok


def test_launcher_runs_as_a_script_and_refuses_bad_input() -> None:
    result = subprocess.run(  # nosec B603
        [sys.executable, str(ROOT / "src" / "promote_job.py"), *ARGV[:-1], "not-a-release"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        timeout=60,
    )
    assert result.returncode == 2
    assert "--release must look like v1.2.3" in result.stderr
