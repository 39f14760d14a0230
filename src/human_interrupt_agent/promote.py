"""Promotion entry point: copy a verified model version into this environment's model.

``python -m human_interrupt_agent.promote --source-model dev.s.m --source-version 3
--target-model staging.s.m --release-alias release_v1_2_0 --release v1.2.0`` runs in the target
workspace and reads the source environment's catalog through the shared Unity Catalog metastore.
It is safe to run again: a run finds the copy an earlier run made instead of making another.

1. When the target model already has ``--release-alias``, that version is the copy.
2. Else the newest READY version of the target model whose source is
   ``models:/<source>/<version>`` is the copy (an earlier run stopped before it set the alias).
   Versions with that source still PENDING_REGISTRATION were left by a run that died during
   the upload: MLflow finalizes a version before ``create_model_version`` returns and nothing
   else finalizes one, so they are deleted. FAILED_REGISTRATION ones are left as evidence.
3. Else the source version is copied (``MlflowClient.copy_model_version``: create, temporary
   credentials, upload, finalize; it keeps the run id) and described as the release's copy. A
   copy that is not READY when it returns is an error; nothing is waited for.
4. The release alias is set on the copy.
5. The last line on stdout is the report as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

UC_REGISTRY_URI = "databricks-uc"
READY, PENDING, FAILED = "READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION"
# Error codes of a lookup that found nothing, as opposed to one that failed.
NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_ALIAS = re.compile(r"^[A-Za-z0-9_]+$")
_RELEASE = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_UC_PART = re.compile(r"^[^./\s\x00-\x1f\x7f]+$")


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


def by_alias(client: Any, req: Request) -> Optional[Any]:
    """The target's version that carries the release alias, or None."""
    try:
        return client.get_model_version_by_alias(req.target_model, req.release_alias)
    except Exception as err:  # pylint: disable=broad-except
        if not _not_found(err):
            raise PromotionError(
                f"cannot look up alias {req.release_alias} of {req.target_model}: {err}"
            ) from err
    return None


def find_copy(client: Any, req: Request) -> Tuple[Optional[Any], List[str]]:
    """The READY copy an earlier run made (by alias, then by source), and the unfinished
    copies deleted on the way."""
    found = by_alias(client, req)
    if found is not None:
        return found, []
    copies = [v for v in _versions(client, req.target_model) if v.source == req.source_uri]
    discarded: List[str] = []
    for version in copies:
        if version.status == PENDING:
            client.delete_model_version(req.target_model, str(version.version))
            discarded.append(str(version.version))
    ready = [v for v in copies if v.status == READY]
    # The newest wins should a killed run have left two.
    return (max(ready, key=lambda v: int(v.version)) if ready else None), discarded


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


def promote(client: Any, req: Request) -> Dict[str, Any]:
    """Find or make the release's copy in the target model, set the alias, return the report."""
    copied = False
    copy, discarded = find_copy(client, req)
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
        if copy.status != READY:
            raise PromotionError(
                f"copy {req.target_model} v{copy.version} is {copy.status} after its creation: "
                f"{copy.status_message or 'no message'}"
            )
        client.update_model_version(
            name=req.target_model,
            version=copy.version,
            description=(
                f"release {req.release}: copy of {req.source_model} v{req.source_version}"
            ),
        )
    client.set_registered_model_alias(req.target_model, req.release_alias, copy.version)
    report: Dict[str, Any] = {
        "model_name": req.target_model,
        "model_version": str(copy.version),
        "source_model": req.source_model,
        "source_version": req.source_version,
        "release_alias": req.release_alias,
        "copied": copied,
    }
    if discarded:
        report["discarded"] = discarded
    return report


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and validate the command line; bad values exit 2 with a message saying what to fix."""
    parser = argparse.ArgumentParser(prog="python -m human_interrupt_agent.promote")
    parser.add_argument("--source-model", required=True, help="catalog.schema.model to copy from")
    parser.add_argument("--source-version", required=True, help="version to copy")
    parser.add_argument("--target-model", required=True, help="catalog.schema.model to copy into")
    parser.add_argument("--release-alias", required=True, help="alias naming the release's copy")
    parser.add_argument("--release", required=True, help="release version, e.g. v1.2.3")
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
        report = promote(client, req)
    except PromotionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
