"""Promotion entry point: copy a verified model version into this environment's model.

``python -m human_interrupt_agent.promote --source-model dev.s.m --source-version 3
--target-model staging.s.m --release-alias release_v1_2_0 --release v1.2.0`` runs in the target
workspace and reads the source environment's catalog through the shared Unity Catalog metastore.
It is safe to run again: a run finds the copy an earlier run made instead of making another.

1. When the target model already has ``--release-alias``, that version is the copy.
2. Else a version of the target model whose source is ``models:/<source>/<version>`` is the copy
   (an earlier run stopped before it set the alias).
3. Else the source version is copied (``MlflowClient.copy_model_version``, which keeps its run
   id), described as the release's copy, and awaited until READY.
4. The release alias is set on the copy.
5. The last line on stdout is the report as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

UC_REGISTRY_URI = "databricks-uc"
READY, PENDING, FAILED = "READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION"
# Error codes of a lookup that found nothing, as opposed to one that failed.
NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_ALIAS = re.compile(r"^[A-Za-z0-9_]+$")
_RELEASE = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_UC_PART = re.compile(r"^[^./\s\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class Polling:
    """How long, and how often, to wait for a copy to become READY."""

    timeout: float = 600.0
    interval: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class PromotionError(Exception):
    """The promotion cannot complete; the message says why and what to do."""


class SourceNotReadableError(PromotionError):
    """This workspace's principal cannot read the source model version."""


@dataclass(frozen=True)
class Request:
    """What to promote, as the promotion job's parameters give it."""

    source_model: str
    source_version: str
    target_model: str
    release_alias: str
    release: str

    @property
    def source_uri(self) -> str:
        """The models:/ URI of the source version, which the copy keeps as its source."""
        return f"models:/{self.source_model}/{self.source_version}"


def release_alias(tag: str) -> str:
    """``release_`` and the tag with every character outside [A-Za-z0-9_] replaced by ``_``."""
    return "release_" + re.sub(r"[^A-Za-z0-9_]", "_", tag)


def is_uc_name(name: str) -> bool:
    """Whether name is a three-level Unity Catalog name (catalog.schema.model)."""
    parts = name.split(".")
    return len(parts) == 3 and all(_UC_PART.match(part) for part in parts)


def _error_code(err: BaseException) -> str:
    return str(getattr(err, "error_code", "") or "")


def _not_found(err: BaseException) -> bool:
    return _error_code(err) in NOT_FOUND


def _versions(client: Any, model: str) -> Iterable[Any]:
    """Every version of model, across result pages."""
    token: Optional[str] = None
    while True:
        page = client.search_model_versions(f"name='{model}'", page_token=token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def find_copy(client: Any, req: Request) -> Optional[Any]:
    """The target's version that an earlier run made: by the release alias, then by source."""
    try:
        return client.get_model_version_by_alias(req.target_model, req.release_alias)
    except Exception as err:  # pylint: disable=broad-except
        if not _not_found(err):
            raise PromotionError(
                f"cannot look up alias {req.release_alias} of {req.target_model}: {err}"
            ) from err
    copies: List[Any] = [
        v
        for v in _versions(client, req.target_model)
        if v.source == req.source_uri and v.status != FAILED
    ]
    # The newest wins should a killed run have left two.
    return max(copies, key=lambda v: int(v.version)) if copies else None


def check_source(client: Any, req: Request) -> Any:
    """Read the source version, or say which grants this workspace's principal lacks."""
    try:
        version = client.get_model_version(req.source_model, req.source_version)
    except Exception as err:  # pylint: disable=broad-except
        catalog, schema, _ = req.source_model.split(".")
        raise SourceNotReadableError(
            f"cannot read source model version {req.source_model} v{req.source_version} "
            f"from this workspace ({_error_code(err) or type(err).__name__}: {err}). The "
            f"principal running this job needs USE_CATALOG on catalog {catalog}, USE_SCHEMA "
            f"on schema {catalog}.{schema} and EXECUTE on model {req.source_model}, and the "
            f"catalog must be bound to this workspace."
        ) from err
    if version.status != READY:
        raise PromotionError(
            f"source model version {req.source_model} v{req.source_version} is "
            f"{version.status}, not READY: only a registered version can be promoted"
        )
    return version


def wait_ready(client: Any, name: str, version: str, polling: Polling) -> Any:
    """Poll the version until READY; FAILED_REGISTRATION or the timeout is an error."""
    deadline = polling.clock() + polling.timeout
    while True:
        found = client.get_model_version(name, version)
        if found.status == READY:
            return found
        if found.status == FAILED:
            raise PromotionError(
                f"copy {name} v{version} failed to register: "
                f"{found.status_message or 'no message'}"
            )
        if polling.clock() >= deadline:
            raise PromotionError(
                f"copy {name} v{version} is still {found.status} after {polling.timeout:g}s; "
                f"run the job again to wait for it (the re-run finds this copy)"
            )
        polling.sleep(polling.interval)


def promote(client: Any, req: Request, polling: Polling = Polling()) -> Dict[str, Any]:
    """Find or make the release's copy in the target model, set the alias, return the report."""
    copied = False
    copy = find_copy(client, req)
    if copy is None:
        check_source(client, req)
        try:
            copy = client.copy_model_version(
                src_model_uri=req.source_uri, dst_name=req.target_model
            )
        except Exception as err:  # pylint: disable=broad-except
            raise PromotionError(
                f"cannot copy {req.source_uri} into {req.target_model}: {err}"
            ) from err
        copied = True
        client.update_model_version(
            name=req.target_model,
            version=copy.version,
            description=(
                f"release {req.release}: copy of {req.source_model} v{req.source_version}"
            ),
        )
    if copy.status != READY:
        copy = wait_ready(client, req.target_model, str(copy.version), polling)
    client.set_registered_model_alias(req.target_model, req.release_alias, copy.version)
    return {
        "model_name": req.target_model,
        "model_version": str(copy.version),
        "source_model": req.source_model,
        "source_version": req.source_version,
        "release_alias": req.release_alias,
        "copied": copied,
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and validate the command line; bad values exit 2 with a message saying what to fix."""
    parser = argparse.ArgumentParser(prog="python -m human_interrupt_agent.promote")
    parser.add_argument("--source-model", required=True, help="catalog.schema.model to copy from")
    parser.add_argument("--source-version", required=True, help="version to copy")
    parser.add_argument("--target-model", required=True, help="catalog.schema.model to copy into")
    parser.add_argument("--release-alias", required=True, help="alias naming the release's copy")
    parser.add_argument("--release", required=True, help="release version, e.g. v1.2.3")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for READY")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls")
    args = parser.parse_args(argv)
    for flag in ("source_model", "target_model"):
        value = getattr(args, flag)
        if not is_uc_name(value):
            parser.error(
                f"--{flag.replace('_', '-')} must be a Unity Catalog name catalog.schema.model, "
                f"got {value!r}"
            )
    if not args.source_version.isdigit() or int(args.source_version) < 1:
        parser.error(
            f"--source-version must be a version number such as 3, got {args.source_version!r}"
        )
    if not _ALIAS.match(args.release_alias):
        parser.error(
            f"--release-alias may only hold letters, digits and underscores, "
            f"got {args.release_alias!r}"
        )
    if not _RELEASE.match(args.release):
        parser.error(f"--release must look like v1.2.3 or 1.2.3-rc.1, got {args.release!r}")
    if args.source_model.lower() == args.target_model.lower():
        parser.error("--source-model and --target-model are the same model: nothing to promote")
    if args.timeout <= 0 or args.poll_interval <= 0:
        parser.error("--timeout and --poll-interval must be positive")
    return args


def _client() -> Any:
    from mlflow import MlflowClient  # pylint: disable=import-outside-toplevel

    return MlflowClient(registry_uri=UC_REGISTRY_URI)


def main(argv: Optional[Sequence[str]] = None, client: Any = None) -> int:
    """Run the promotion; returns the process exit code."""
    args = parse_args(argv)
    req = Request(
        args.source_model, args.source_version, args.target_model, args.release_alias, args.release
    )
    if client is None:
        try:
            client = _client()
        except ImportError:
            print(
                "error: mlflow is not importable; the promotion needs it "
                "(pip install 'mlflow>=2.9,<3')",
                file=sys.stderr,
            )
            return 1
    try:
        report = promote(client, req, Polling(timeout=args.timeout, interval=args.poll_interval))
    except PromotionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
