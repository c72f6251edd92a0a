"""Connect to Ray (embedded local by default) and check resource requests up front."""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from rayboost._env import ray_address
from rayboost._errors import ResourceError
from rayboost.config import RayConfig, ResourcesConfig

__all__ = [
    "ClusterShape",
    "check_resources",
    "check_shared_storage",
    "cluster_shape",
    "connect",
    "disconnect",
]


TRIAL_MODULES = ("torch", "ray.tune", "rayboost.tuning._trainable", "torch._dynamo")
"""What a trial process imports (about 3.5 s on one core): preloaded by an embedded local Ray.
torch._dynamo is what the first optimizer a process builds imports (about 1 s)."""

IDLE_WORKER_KEEP_MS = 300_000
"""How long the embedded Ray keeps an idle worker it would otherwise kill (Ray's default: 1 s)."""


def connect(cfg: RayConfig) -> bool:
    """Start or join Ray; returns True when this call started it (so the caller shuts it down)."""
    if ray.is_initialized():
        return False
    address = cfg.address or ray_address()
    if address:
        _check_reachable(address)
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        _trial_actors_take_prestarted_workers()
        ray.init(
            num_cpus=cfg.num_cpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=True,
            # Ray starts a worker per CPU at once; these import the trial's modules while the
            # driver loads and splits the data, so the first trials start without import delay.
            # Ray kills a worker idle for 1 s once no CPU is free, and the trials' placement
            # groups take every CPU a moment before the trial actors ask for workers: with
            # the default, the preloaded workers were often killed in that gap.
            _system_config={
                "preload_python_modules": list(TRIAL_MODULES),
                "idle_worker_killing_time_threshold_ms": IDLE_WORKER_KEEP_MS,
            },
        )
    return True


REACH_TIMEOUT_S = 5.0


def _check_reachable(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) that nothing answers on is an error now, not
    minutes of Ray retrying in silence. ``auto`` and other forms are left to Ray."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ResourceError(
            f"ray.address {address}: cannot connect ({exc.strerror or exc}); check that the cluster is up "
            "(`ray status` on its head node) and the address and port, or leave ray.address unset for a local Ray"
        ) from None


def _trial_actors_take_prestarted_workers() -> None:
    """Let Tune's trial actors start in the workers the embedded Ray prestarted (and preloaded).

    Tune gives every trial actor ``runtime_env={"env_vars": {"PL_DISABLE_FORK": "1"}}`` (a
    PyTorch Lightning workaround); Ray only hands an actor an idle worker with the same runtime
    env, and prestarted workers have none, so each trial would start a new process and import
    torch again (2-4 s on a small machine). Here the variable goes into the environment the
    embedded Ray and all its workers inherit, and Tune's per-actor copy is dropped. Variables
    Tune forwards from the driver (cloud credentials, Train settings) still give the actors a
    runtime env of their own: then they start new workers, as before.
    """
    try:
        from ray.tune.execution import class_cache
    except ImportError:  # another Ray layout: keep Tune's behaviour
        return
    defaults = getattr(class_cache, "DEFAULT_ENV_VARS", None)
    if not isinstance(defaults, dict):
        return
    for key, value in defaults.items():
        os.environ.setdefault(key, str(value))
    defaults.clear()


def disconnect() -> None:
    ray.shutdown()


def _sees(path: str) -> bool:
    return os.path.exists(path)


def check_shared_storage(storage: Path) -> None:
    """On a multi-node cluster, every node must see the storage folder (trials write their
    checkpoints and records there): refuse up front instead of losing results later."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    if len(nodes) < 2:
        return
    storage.mkdir(parents=True, exist_ok=True)
    marker = storage / f".rayboost-storage-check-{uuid.uuid4().hex}"
    marker.write_text("")
    try:
        probe = ray.remote(num_cpus=0)(_sees)
        refs = {
            n["NodeID"]: probe.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(marker))
            for n in nodes
        }
        blind = [node for node, ref in refs.items() if not ray.get(ref, timeout=60)]
    finally:
        marker.unlink(missing_ok=True)
    if blind:
        raise ResourceError(
            f"storage {storage} is not shared: {len(blind)} of {len(nodes)} nodes cannot see it; "
            "set storage to a folder every node mounts (NFS, EFS, Filestore)"
        )


@dataclass
class ClusterShape:
    node_cpus: list[float]  # nodes alive now
    node_gpus: list[float]
    # node types an autoscaler may still start: (cpus, gpus, max nodes; -1 = unbounded)
    scalable: list[tuple[float, float, int]] = field(default_factory=list)


def _autoscaler_node_types() -> list[tuple[float, float, int]]:
    """Node types from the autoscaler's config (cloud launcher, KubeRay); none on fixed clusters."""
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # noqa: BLE001 - a private API: no autoscaler information is not an error
        return []
    if config is None:
        return []
    return [
        (float(g.resources.get("CPU", 0)), float(g.resources.get("GPU", 0)), int(g.max_count))
        for g in config.node_group_configs
        if g.max_count != 0
    ]


def cluster_shape() -> ClusterShape:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return ClusterShape(
        [float(n["Resources"].get("CPU", 0)) for n in nodes],
        [float(n["Resources"].get("GPU", 0)) for n in nodes],
        _autoscaler_node_types(),
    )


def check_resources(res: ResourcesConfig, shape: ClusterShape) -> int:
    """Refuse requests no node can satisfy (Ray would wait forever); return the trial slots."""
    all_cpus = shape.node_cpus + [c for c, _, _ in shape.scalable]
    all_gpus = shape.node_gpus + [g for _, g, _ in shape.scalable]
    max_cpus = max(all_cpus, default=0.0)
    if res.cpus_per_trial > max_cpus:
        raise ResourceError(
            f"resources.cpus_per_trial={res.cpus_per_trial:g} but the largest node has {max_cpus:g} CPUs; "
            f"set resources.cpus_per_trial to {max_cpus:g} or less"
        )
    if res.gpus_per_trial > 0:
        max_gpus = max(all_gpus, default=0.0)
        if max_gpus == 0:
            raise ResourceError(
                f"resources.gpus_per_trial={res.gpus_per_trial:g} but no node has a GPU; "
                "set resources.gpus_per_trial=0 or add GPU nodes"
            )
        if res.gpus_per_trial > max_gpus:
            raise ResourceError(
                f"resources.gpus_per_trial={res.gpus_per_trial:g} but the largest node has {max_gpus:g} GPUs; "
                f"use {max_gpus:g} or less (fractions such as 0.25 pack several trials per GPU)"
            )

    def fit(cpus: float, gpus: float) -> int:
        n = math.floor(cpus / res.cpus_per_trial + 1e-9)
        return min(n, math.floor(gpus / res.gpus_per_trial + 1e-9)) if res.gpus_per_trial > 0 else n

    slots = sum(fit(c, g) for c, g in zip(shape.node_cpus, shape.node_gpus, strict=True))
    slots += sum(fit(c, g) * (64 if count < 0 else count) for c, g, count in shape.scalable)
    return max(1, slots)
