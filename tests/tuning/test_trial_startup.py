"""What a trial process imports, and an embedded Ray that imports it ahead of the trials."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_the_trial_module_imports_no_ensemble_or_search_libraries():
    code = (
        "import sys, rayboost.tuning._trainable\n"
        "print(','.join(m for m in ('sklearn', 'xgboost', 'hyperopt', 'scipy.stats') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_package_names_still_resolve_lazily():
    import rayboost
    import rayboost.models as models
    import rayboost.tuning as tuning

    assert callable(rayboost.load) and callable(tuning.tune_nets)
    assert set(models.MEMBER_KINDS) == {"net", "xgboost", "linear"}
    assert "NetTrainer" in dir(models)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = tuning.nope


@pytest.mark.parametrize(
    "package", ["rayboost.data", "rayboost.models", "rayboost.results", "rayboost.tuning"]
)
def test_each_lazy_export_is_listed_once_and_is_the_name_in_its_module(package):
    import importlib

    module = importlib.import_module(package)
    exports = module._EXPORTS
    assert sorted(module.__all__) == sorted(exports)  # the two lists name the same things
    for name, source in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name)


@pytest.mark.usefixtures("local_ray")
def test_the_embedded_ray_preloads_the_trial_module_in_its_workers():
    import ray

    @ray.remote(num_cpus=1)
    def loaded() -> bool:
        return "rayboost.tuning._trainable" in sys.modules

    assert ray.get(loaded.remote())


PRESTART_SCRIPT = r"""
import os, sys, time
from pathlib import Path
from rayboost.config import RayConfig
from rayboost.tuning import connect, disconnect

from ray import tune

def warm_workers():  # idle Ray workers of this driver with torch loaded (Linux /proc)
    parent, out = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parent[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    mine, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier and pid not in mine]
        mine.update(frontier)
    for pid in mine:
        try:
            idle = Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::IDLE")
            if idle and "libtorch" in Path(f"/proc/{pid}/maps").read_text():
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                out[pid] = int(fields[11]) + int(fields[12])  # CPU ticks so far
        except OSError:
            pass
    return out

def trial(config):
    tune.report({"pid": os.getpid(), "objective": 1.0})

os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
# Ray kills idle workers (after 1 s by default) once the trials' placement groups have taken
# every CPU, and that came before the trial actors asked for workers in about half the runs:
# the embedded Ray keeps idle workers longer, so every run below uses the preloaded workers.
for attempt in range(2):
    connect(RayConfig(num_cpus=2))
    deadline, last = time.monotonic() + 120, {}
    while time.monotonic() < deadline:  # until two workers have torch loaded and sit idle
        now = warm_workers()
        if sum(1 for pid, ticks in now.items() if last.get(pid) == ticks) >= 2:
            break
        last = now
        time.sleep(1.0)
    time.sleep(1.5)  # idle for longer than Ray's default threshold before the trials start
    before = set(warm_workers())
    results = tune.Tuner(
        trial, param_space={"a": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="objective", mode="max", reuse_actors=True),
        run_config=tune.RunConfig(storage_path=sys.argv[1], name=f"try-{attempt}", verbose=0),
    ).fit()
    pids = {r.metrics["pid"] for r in results}
    disconnect()
    print(attempt, len(before), int(pids <= before), sorted(pids), sorted(before), file=sys.stderr)
    if not pids <= before:
        break
print(len(before), int(pids <= before))
"""


def test_trials_on_a_fresh_embedded_ray_start_in_its_preloaded_workers(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", PRESTART_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    n_warm, inside = out.stdout.split()[-2:]
    assert int(n_warm) >= 2 and inside == "1", out.stdout + out.stderr[-2000:]
