"""Ray Jobs: submit the pipeline to a cluster, list, watch, stop. The submitter owns retries:
a resubmitted job restores its experiment (the entrypoint runs restore-or-start)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ray.job_submission import JobStatus, JobSubmissionClient

from rayboost._env import CONFIG_ENV
from rayboost._errors import RayboostError

__all__ = [
    "job_client",
    "job_logs",
    "job_status",
    "list_jobs",
    "source_root",
    "stop_job",
    "submit_job",
    "wait_job",
]

EXCLUDES = [
    ".venv",
    ".git",
    "rayboost_results",
    "benchmarks/results",
    "**/__pycache__",
    "*.egg-info",
]


def source_root() -> Path | None:
    """The source checkout rayboost runs from (it is uploaded as the job's working dir)."""
    root = Path(__file__).resolve().parents[2]
    return (
        root if (root / "jobs" / "run.py").exists() and (root / "pyproject.toml").exists() else None
    )


def job_client(address: str | None) -> JobSubmissionClient:
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - connection/auth problems are the user's to fix
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if "401" in first or "403" in first or "auth" in first.lower():
            hint = "; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH to the cluster's token file"
        raise RayboostError(
            f"cannot reach the Ray Jobs API at {address or '$RAY_ADDRESS'}: {first}{hint}"
        ) from None


def submit_job(
    address: str | None,
    name: str,
    config_yaml: str,
    working_dir: Path | None,
    entrypoint_args: list[str],
) -> str:
    """Submit ``jobs/run.py`` (or the installed CLI) with the resolved config; returns the job id."""
    client = job_client(address)
    runtime_env: dict[str, Any] = {"env_vars": {CONFIG_ENV: config_yaml}}
    if working_dir is not None:
        runtime_env.update(working_dir=str(working_dir), excludes=EXCLUDES)
        entrypoint = "python jobs/run.py"
    else:
        entrypoint = "python -m rayboost run --resume"
    submission_id = f"rayboost-{name}-{uuid.uuid4().hex[:6]}"
    try:
        return client.submit_job(
            entrypoint=" ".join([entrypoint, *entrypoint_args]),
            submission_id=submission_id,
            runtime_env=runtime_env,
            metadata={"rayboost_experiment": name},
        )
    except Exception as exc:  # noqa: BLE001
        raise RayboostError(f"job submission failed: {str(exc).strip().splitlines()[0]}") from None


def list_jobs(address: str | None) -> list[dict[str, Any]]:
    rows = []
    for job in job_client(address).list_jobs():
        rows.append(
            {
                "job_id": job.submission_id,
                "status": str(job.status),
                "experiment": (job.metadata or {}).get("rayboost_experiment"),
                "start_time": job.start_time,
                "end_time": job.end_time,
                "entrypoint": job.entrypoint,
                "message": job.message,
            }
        )
    return rows


def _known(client: JobSubmissionClient, job_id: str) -> None:
    try:
        client.get_job_info(job_id)
    except Exception:  # noqa: BLE001
        raise RayboostError(
            f"no job {job_id!r} on this cluster; list them with `rayboost jobs list`"
        ) from None


def job_status(address: str | None, job_id: str) -> dict[str, Any]:
    client = job_client(address)
    _known(client, job_id)
    info = client.get_job_info(job_id)
    return {"job_id": job_id, "status": str(info.status), "message": info.message}


def job_logs(address: str | None, job_id: str, follow: bool = False) -> None:
    client = job_client(address)
    _known(client, job_id)
    if not follow:
        sys.stdout.write(client.get_job_logs(job_id))
        return

    async def tail() -> None:
        async for lines in client.tail_job_logs(job_id):
            sys.stdout.write(lines)
            sys.stdout.flush()

    asyncio.run(tail())


def stop_job(address: str | None, job_id: str) -> bool:
    client = job_client(address)
    _known(client, job_id)
    return bool(client.stop_job(job_id))


def wait_job(address: str | None, job_id: str, timeout_s: float = 3600.0) -> str:
    """Block until the job ends; returns its final status."""
    client = job_client(address)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        status = client.get_job_status(job_id)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            return str(status)
        time.sleep(1.0)
    raise RayboostError(f"job {job_id} did not finish within {timeout_s:.0f} s")
