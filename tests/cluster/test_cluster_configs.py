"""Cluster configs under cluster/: Ray's launcher validator, Ray version pins, KubeRay
manifests, and a real local multi-node cluster (cluster/local.sh) with token auth."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
import _cluster_fixture as cf  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
LOCAL_SH = CLUSTER / "local.sh"
LAUNCHER_CONFIGS = ["aws.yaml", "gcp.yaml"]
KUBERAY = CLUSTER / "kuberay"


# --------------------------------------------------------------------------- helpers


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _ray_pin() -> str:
    """The version in pyproject's ``ray[...]==X`` dependency, e.g. ``2.60.*``."""
    for dep in _pyproject()["project"]["dependencies"]:
        m = re.fullmatch(r"\s*ray\s*(?:\[[^\]]*\])?\s*==\s*([0-9][0-9A-Za-z.*]*)\s*(?:;.*)?", dep)
        if m:
            return m.group(1)
    pytest.fail("pyproject.toml has no ray==... dependency")


def _matches_pin(version: str, pin: str) -> bool:
    from packaging.specifiers import SpecifierSet

    if version.endswith(".*"):
        return version == pin
    return SpecifierSet(f"=={pin}").contains(version, prereleases=True)


def _load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _kind(path: Path, kind: str) -> dict:
    found = [d for d in _docs(path) if d.get("kind") == kind]
    assert len(found) == 1, f"{path.name}: expected one {kind}, found {len(found)}"
    return found[0]


# --------------------------------------------------------------------------- (a) launcher


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_passes_ray_validator(name):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = _load_yaml(CLUSTER / name)
    validate_config(copy.deepcopy(config))
    # What `ray up` validates: the config merged with the provider's defaults.
    validate_config(prepare_config(copy.deepcopy(config)))


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
@pytest.mark.parametrize("where", ["top", "node_type", "docker"])
def test_launcher_validator_rejects_unknown_keys(name, where):
    import jsonschema
    from ray.autoscaler._private.util import validate_config

    config = _load_yaml(CLUSTER / name)
    if where == "top":
        config["not_a_ray_key"] = 1
    elif where == "node_type":
        config["available_node_types"][config["head_node_type"]]["not_a_ray_key"] = 1
    else:
        config["docker"]["not_a_ray_key"] = 1
    with pytest.raises(jsonschema.ValidationError, match="not_a_ray_key"):
        validate_config(config)


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_layout(name):
    config = _load_yaml(CLUSTER / name)
    types = config["available_node_types"]
    head = config["head_node_type"]
    workers = {k: v for k, v in types.items() if k != head}
    gpu = [k for k in workers if "gpu" in k]
    assert gpu, "no GPU worker type"
    for k in workers:
        assert workers[k].get("min_workers", 0) == 0 and workers[k]["max_workers"] >= 1, k
    assert config["docker"]["head_image"].endswith("-py311")
    assert config["docker"]["worker_image"].endswith("-py311-gpu")

    setup = " ".join(config["setup_commands"])
    assert re.search(r"ray\[default,tune\]==\d", setup)
    assert "pip install -q -e ~/rayboost" in config["head_setup_commands"]
    assert "pip install -q -e ~/rayboost" in config["worker_setup_commands"]
    assert config["file_mounts"]["~/rayboost"] == "."
    # token: copied to Ray's default path, and auth on for every Ray process
    assert "~/.ray/auth_token" in config["file_mounts"]
    assert "--env RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        assert any("RAY_AUTH_MODE=token ray start" in c for c in config[key]), key
    # shared storage on /mnt/shared, mounted on the host and into the containers
    assert any("/mnt/shared" in c and "mount" in c for c in config["initialization_commands"])
    assert "--volume /mnt/shared:/mnt/shared" in config["docker"]["run_options"]


# --------------------------------------------------------------------------- (b) versions

_V = r"(\d+\.\d+(?:\.\d+)?(?:\.\*)?)"
_VERSION_PATTERNS = {
    "pip requirement": re.compile(r"\bray(?:\[[^\]]*\])?\s*(?:===|==|~=|>=|<=|!=|>|<)\s*" + _V),
    "image tag": re.compile(r"rayproject/ray(?:-ml|-llm)?:" + _V),
    "rayVersion": re.compile(r"rayVersion:\s*[\"']?" + _V),
    "wheel": re.compile(r"\bray-" + _V + r"-cp"),
    "prose": re.compile(r"(?<![\w/.-])ray\s+v?" + _V + r"(?![\w.])", re.IGNORECASE),
}


def _ray_versions(text: str) -> list[tuple[str, str]]:
    return [(what, m.group(1)) for what, rx in _VERSION_PATTERNS.items() for m in rx.finditer(text)]


def test_version_scanner_finds_versions():
    text = (
        'pip install "ray[default,tune]==2.59.1" ray==2.60.0\nimage: rayproject/ray:2.58.0-py311-gpu\n'
        'rayVersion: "2.57.0"\nNeeds Ray 2.56 or newer; KubeRay 1.5.1\n'
    )
    assert sorted(v for _, v in _ray_versions(text)) == [
        "2.56",
        "2.57.0",
        "2.58.0",
        "2.59.1",
        "2.60.0",
    ]
    assert _matches_pin("2.60.0", "2.60.*") and _matches_pin("2.60", "2.60.*")
    assert not _matches_pin("2.59.1", "2.60.*") and not _matches_pin("2.6.0", "2.60.*")


def test_every_ray_version_under_cluster_matches_pyproject_pin():
    pin = _ray_pin()
    mismatches, counts = [], {}
    for path in sorted(p for p in CLUSTER.rglob("*") if p.is_file()):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        rel = str(path.relative_to(REPO))
        for what, version in _ray_versions(text):
            counts[rel] = counts.get(rel, 0) + 1
            if not _matches_pin(version, pin):
                mismatches.append(f"{rel}: {what} {version}")
    assert not mismatches, f"Ray versions that differ from pyproject's ray=={pin}: {mismatches}"
    expected = ["aws.yaml", "gcp.yaml", "kuberay/raycluster.yaml", "kuberay/rayjob.yaml"]
    for rel in (f"cluster/{name}" for name in expected):
        assert counts.get(rel, 0) >= 2, (
            f"{rel}: expected Ray version mentions, found {counts.get(rel, 0)}"
        )


# --------------------------------------------------------------------------- KubeRay


def _pod_specs(cluster_spec: dict) -> dict[str, dict]:
    pods = {"head": cluster_spec["headGroupSpec"]["template"]["spec"]}
    for group in cluster_spec["workerGroupSpecs"]:
        pods[group["groupName"]] = group["template"]["spec"]
    return pods


@pytest.mark.parametrize("manifest", ["raycluster.yaml", "rayjob.yaml"])
def test_kuberay_manifests(manifest):
    path = KUBERAY / manifest
    pin = _ray_pin()
    if manifest == "raycluster.yaml":
        spec = _kind(path, "RayCluster")["spec"]
    else:
        job = _kind(path, "RayJob")["spec"]
        spec = job["rayClusterSpec"]
        assert re.match(
            r"python jobs/run\.py \S+\.yaml .*--set storage=/mnt/shared/", job["entrypoint"]
        )
        assert job.get("shutdownAfterJobFinishes") is True

    assert _matches_pin(spec["rayVersion"], pin) and spec["rayVersion"].count(".") == 2
    assert spec["authOptions"] == {"mode": "token"}
    assert spec["enableInTreeAutoscaling"] is True

    claim = _kind(path, "PersistentVolumeClaim")
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    version = spec["rayVersion"]
    images = {}
    for name, pod in _pod_specs(spec).items():
        (container,) = pod["containers"]
        images[name] = container["image"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        shared = volumes[mounts["/mnt/shared"]]
        assert shared["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"], name
    assert images["head"] == f"rayproject/ray:{version}-py311"
    assert images["gpu"] == f"rayproject/ray:{version}-py311-gpu"
    gpu_group = next(g for g in spec["workerGroupSpecs"] if g["groupName"] == "gpu")
    assert gpu_group["minReplicas"] == 0 and gpu_group["maxReplicas"] >= 1
    assert (
        gpu_group["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] >= 1
    )


def _runtime_envs() -> dict[str, dict]:
    job = _kind(KUBERAY / "rayjob.yaml", "RayJob")["spec"]
    return {
        "runtime-env.yaml": _load_yaml(KUBERAY / "runtime-env.yaml"),
        "rayjob.yaml runtimeEnvYAML": yaml.safe_load(job["runtimeEnvYAML"]),
    }


@pytest.mark.parametrize("which", ["runtime-env.yaml", "rayjob.yaml runtimeEnvYAML"])
def test_kuberay_runtime_env_is_valid_and_has_project_dependencies(which):
    from ray.runtime_env import RuntimeEnv

    env = _runtime_envs()[which]
    RuntimeEnv(**env)  # Ray's own validation of the runtime_env fields
    packages = env["pip"]["packages"]
    wanted = [d for d in _pyproject()["project"]["dependencies"] if not re.match(r"\s*torch\b", d)]
    missing = [d for d in wanted if d not in packages]
    assert not missing, f"{which}: add pyproject dependencies {missing}"
    assert "torch==2.13.0" in packages


# --------------------------------------------------------------------------- (c) local.sh


def test_local_sh_syntax():
    subprocess.run(["bash", "-n", str(LOCAL_SH)], check=True)


def test_local_sh_rejects_long_state_dir_and_unknown_command():
    env = {**os.environ, "RAYBOOST_CLUSTER_DIR": "/tmp/" + "x" * 60}
    r = subprocess.run(
        ["bash", str(LOCAL_SH), "up"], env=env, capture_output=True, text=True, timeout=30
    )
    assert r.returncode != 0 and "at most 32" in r.stderr
    r = subprocess.run(
        ["bash", str(LOCAL_SH), "frobnicate"], capture_output=True, text=True, timeout=30
    )
    assert r.returncode != 0 and "unknown command" in r.stderr


# --------------------------------------------------------------------------- (d) real cluster


def _free_port_block(size: int) -> int:
    base = cf.free_port_block(size)
    if base is None:
        pytest.skip("no free block of ports")
    return base


def _listen_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(addr_hex)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
            found.add(socket.inet_ntop(family, raw))
    return found


def _procs_mentioning(text: str) -> list[str]:
    hits = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            hits.append(f"{d.name}: {cmd[:120]}")
    return hits


def _get(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            json.load(r)
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="cluster/local.sh needs Linux /proc"
)
def test_local_cluster_up_down():
    ray_bin = cf.ray_bin()
    if ray_bin is None:
        pytest.skip("no ray executable")

    state_dir = tempfile.mkdtemp(prefix="rbc", dir="/tmp")
    base = _free_port_block(300)
    gcs, dashboard, client = base, base + 1, base + 2
    env = cf.clean_env()
    env.update(
        RAY_BIN=str(ray_bin),
        RAYBOOST_CLUSTER_DIR=state_dir,
        RAYBOOST_GCS_PORT=str(gcs),
        RAYBOOST_DASHBOARD_PORT=str(dashboard),
        RAYBOOST_CLIENT_PORT=str(client),
        RAYBOOST_PORT_BASE=str(base + 10),
        RAYBOOST_WORKER_PORT_BASE=str(base + 100),
        RAYBOOST_STOP_TIMEOUT="10",
    )

    def sh(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = ["bash", str(LOCAL_SH), *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)

    try:
        up = sh("up", "--workers", "1")
        assert up.returncode == 0, up.stdout + up.stderr
        token_file = Path(state_dir) / "auth_token"
        assert f"http://127.0.0.1:{dashboard}" in up.stdout
        assert f"export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={token_file}" in up.stdout

        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32

        # the dashboard / Jobs API listens on loopback only ...
        assert _listen_addresses(dashboard) == {"127.0.0.1"}
        # ... so the node's own (non-loopback) address refuses connections
        m = re.search(r"GCS address\s*:\s*([0-9.]+):(\d+)", up.stdout)
        assert m and int(m.group(2)) == gcs, up.stdout
        node_ip = m.group(1)
        if not node_ip.startswith("127."):
            with pytest.raises(OSError):
                socket.create_connection((node_ip, dashboard), timeout=3).close()

        jobs = f"http://127.0.0.1:{dashboard}/api/jobs/"
        assert _get(jobs, None) == 401
        assert _get(jobs, "0" * len(token)) == 403
        assert _get(jobs, token) == 200

        status = sh("status", timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "nodes: 2 alive, 0 dead" in status.stdout, status.stdout

        again = sh("up", "--workers", "1", timeout=60)
        assert again.returncode == 0 and "already running" in again.stderr
        assert token_file.read_text().strip() == token

        down = sh("down", timeout=90)
        assert down.returncode == 0, down.stdout + down.stderr
        assert _procs_mentioning(state_dir) == []
        if shutil.which("pgrep"):
            assert subprocess.run(["pgrep", "-f", state_dir], capture_output=True).returncode == 1
        assert _listen_addresses(gcs) == set() and _listen_addresses(dashboard) == set()
    finally:
        sh("down", timeout=90)
        shutil.rmtree(state_dir, ignore_errors=True)
