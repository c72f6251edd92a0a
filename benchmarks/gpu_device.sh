#!/usr/bin/env bash
# Run benchmarks/gpu.py on a lent GPU machine that has torch but no Ray and no network.
#
# From the repo root, with the ignored folder .gpu/ carried along (device tool: carry [".gpu"]):
#     bash benchmarks/gpu_device.sh
# .gpu/ holds a stripped Ray 2.60.0 cp312 wheel as ray_*.tar.xz (no rllib/serve/llm/jars/
# dashboard web build) and the cp312 wheels of the runtime deps the GPU image lacks. Everything is
# installed into $SITE (not the image's venv) and put first on PYTHONPATH.
#
# .gpu/ is not committed (about 38 MB; the device's working tree may hold 64 MiB). To rebuild it
# (echo /.gpu/ >> .git/info/exclude), download with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .gpu jsonschema==4.26.0 \
#     jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 hyperopt==0.3.0 \
#     tensorboardX==2.6.5 xgboost-cpu==3.2.0 pydantic==2.14.4 pydantic-core==2.50.5 \
#     annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
# and strip ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl: unzip it, delete ray/jars ray/rllib
# ray/serve ray/llm ray/dashboard/client/build and every *.js.map, then
#   tar cf - ray ray-2.60.0.dist-info | xz -T2 -6 > .gpu/ray_2.60.0_cp312_stripped.tar.xz
# (pydantic is needed because ray.train, which ray.tune imports, refuses to load without it.)
#
# Writes into $OUT (the device tool's folder; benchmarks/results when unset): gpu.json,
# gpu_log.txt, and, also on failure, env.txt and ray_logs.txt (tails of Ray's session logs).
#
# Knobs: GPU_DIR (.gpu), SITE (/tmp/site), GPU_BENCH_TIMEOUT (420 s), GPU_BENCH_ARGS (e.g.
# "--quick", or "--dry-run-cpu --quick" to try the script on a CPU machine).
set -euo pipefail

GPU_DIR=${GPU_DIR:-.gpu}
SITE=${SITE:-/tmp/site}
RESULTS=${OUT:-benchmarks/results}
LOGDIR=${OUT:-/tmp}
RAY_LOGS=/tmp/ray/session_latest/logs
mkdir -p "$RESULTS" "$LOGDIR"

collect() {
    rc=$?
    set +e
    {
        echo "exit code: $rc"
        echo "== date"; date -u
        echo "== nvidia-smi"; nvidia-smi 2>&1
        echo "== uname"; uname -a
        echo "== cpus"; nproc
        echo "== memory"; free -m 2>&1
        echo "== disk, /dev/shm"; df -h /tmp /dev/shm 2>&1
        echo "== ulimit -n"; ulimit -n
        echo "== python"; command -v python3; python3 -VV
        echo "== $SITE"; ls "$SITE" 2>&1
        echo "== processes"; ps -eo pid,ppid,etime,rss,args --sort=-rss 2>&1 | head -40
    } >"$LOGDIR/env.txt" 2>&1
    if [ -d "$RAY_LOGS" ]; then
        {
            echo "== ls $RAY_LOGS"; ls -la "$RAY_LOGS"
            for f in "$RAY_LOGS"/raylet.err "$RAY_LOGS"/raylet.out "$RAY_LOGS"/gcs_server.err \
                "$RAY_LOGS"/gcs_server.out "$RAY_LOGS"/monitor.log "$RAY_LOGS"/dashboard_agent.log \
                "$RAY_LOGS"/runtime_env_agent.log "$RAY_LOGS"/python-core-driver-*.log \
                "$RAY_LOGS"/worker-*.err; do
                [ -s "$f" ] || continue
                echo; echo "===== $f (last 60 lines)"; tail -n 60 "$f"
            done
        } 2>&1 | head -c 8000000 >"$LOGDIR/ray_logs.txt"
    fi
    exit "$rc"
}
trap collect EXIT

echo "== install into $SITE"
rm -rf "$SITE"
mkdir -p "$SITE"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
    "$GPU_DIR"/*.whl
for a in "$GPU_DIR"/ray_*.tar.xz; do
    tar xJf "$a" -C "$SITE"
done
chmod +x "$SITE"/ray/core/src/ray/raylet/raylet "$SITE"/ray/core/src/ray/gcs/gcs_server

export PYTHONPATH="$SITE:$PWD"
export PYTHONUNBUFFERED=1
export RAY_AUTH_MODE=disabled
export RAY_USAGE_STATS_ENABLED=0
# Ray's object store defaults to 30% of RAM (capped at 10 GB when /dev/shm is smaller); the
# benchmark moves a few MB, so keep it small. Ray falls back to /tmp if /dev/shm is tiny.
export RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES=${RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES:-2000000000}
# The benchmark uses little host memory; don't let a sandbox's odd memory readings kill workers.
export RAY_memory_monitor_refresh_ms=${RAY_memory_monitor_refresh_ms:-0}

echo "== machine"
nvidia-smi -L || echo "(no nvidia-smi)"
python3 -VV
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
df -h /dev/shm || true

echo "== import check"
python3 -c "import ray, ray.tune, hyperopt, xgboost, rayboost.tuning, rayboost.models, torch; \
print('ray', ray.__version__, 'xgboost', xgboost.__version__, 'cuda available', torch.cuda.is_available())"

echo "== benchmarks.gpu ${GPU_BENCH_ARGS:-}"
# shellcheck disable=SC2086  # GPU_BENCH_ARGS is a list of flags
timeout "${GPU_BENCH_TIMEOUT:-420}" python3 -m benchmarks.gpu ${GPU_BENCH_ARGS:-} --out "$RESULTS" 2>&1 \
    | tee "$LOGDIR/gpu_log.txt"
