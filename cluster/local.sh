#!/usr/bin/env bash
# Local multi-node Ray cluster on ONE machine, with token authentication.
#
#   cluster/local.sh up     [--workers N] [--num-cpus N] [--object-store-mb MB]
#   cluster/local.sh status
#   cluster/local.sh down   [--purge]
#
# Every node (head + N workers) is a separate `ray start` with its own --temp-dir
# under the state dir and its own ports, so several clusters (and other Ray users)
# can share the host. `down` stops only this cluster's processes (command line or
# log files under its temp dirs, and their descendants); it never runs `ray stop`,
# which would kill every Ray process on the machine.
#
# Environment (defaults in brackets):
#   RAYBOOST_CLUSTER_DIR        state dir: token, temp dirs, logs      [/tmp/rb-cluster]
#                               (absolute, at most 32 characters)
#   RAY_BIN                     ray executable      [.venv/bin/ray, else `ray` on PATH]
#   RAYBOOST_WORKERS            worker nodes                                        [2]
#   RAYBOOST_NUM_CPUS           CPUs advertised by each node                        [1]
#   RAYBOOST_OBJECT_STORE_MB    object store per node in MiB (Ray minimum 75)     [100]
#   RAYBOOST_NODE_IP            --node-ip-address of every node   [Ray's choice: the host's
#                               primary IP; Ray 2.60 replaces 127.0.0.1 by it anyway]
#   RAYBOOST_GCS_PORT           head GCS port                                   [26379]
#   RAYBOOST_DASHBOARD_PORT     dashboard + Jobs API (binds 127.0.0.1)          [28265]
#   RAYBOOST_CLIENT_PORT        Ray Client server port (head)                   [20001]
#   RAYBOOST_PORT_BASE          per-node ports: node i uses PORT_BASE+10*i+0..5 [27000]
#                               (node manager, object manager, dashboard agent http,
#                                dashboard agent grpc, runtime env agent, metrics export)
#   RAYBOOST_WORKER_PORT_BASE   worker processes: node i uses
#                               WORKER_PORT_BASE+100*i .. +99                   [30000]
#   RAYBOOST_UP_TIMEOUT         seconds `up` waits for all nodes to be alive       [90]
#   RAYBOOST_STOP_TIMEOUT       seconds `down` waits after SIGTERM before SIGKILL  [15]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

die() { echo "local.sh: error: $*" >&2; exit 1; }
log() { echo "local.sh: $*" >&2; }

usage() {
    sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    echo "Environment variables (ports, CPUs, state dir): see the header of $0."
}

# ---------------------------------------------------------------- settings
STATE_DIR_RAW="${RAYBOOST_CLUSTER_DIR:-/tmp/rb-cluster}"
case "$STATE_DIR_RAW" in
    /*) ;;
    *) STATE_DIR_RAW="$PWD/$STATE_DIR_RAW" ;;
esac
STATE_DIR="${STATE_DIR_RAW%/}"
[ -n "$STATE_DIR" ] || die "RAYBOOST_CLUSTER_DIR must not be /"
# Ray puts unix sockets at <state dir>/n<i>/session_<timestamp>_<pid>/sockets/<name>
# (up to ~72 characters after the state dir, e.g. .../sockets/dash_MetricsHead); the
# kernel limit for a socket path is 107 bytes, so the state dir must stay short.
if [ "${#STATE_DIR}" -gt 32 ]; then
    die "RAYBOOST_CLUSTER_DIR '$STATE_DIR' is ${#STATE_DIR} characters; use a path of at most 32 (Ray's unix socket paths must fit in 107 bytes)"
fi
TOKEN_FILE="$STATE_DIR/auth_token"
ENV_FILE="$STATE_DIR/cluster.env"

resolve_ray_bin() {
    if [ -n "${RAY_BIN:-}" ]; then
        case "$RAY_BIN" in
            /*) echo "$RAY_BIN" ;;
            *) if [ -x "$REPO_ROOT/$RAY_BIN" ]; then echo "$REPO_ROOT/$RAY_BIN"; else command -v "$RAY_BIN" || echo "$RAY_BIN"; fi ;;
        esac
    elif [ -x "$REPO_ROOT/.venv/bin/ray" ]; then
        echo "$REPO_ROOT/.venv/bin/ray"
    else
        command -v ray || die "no ray executable: set RAY_BIN or create .venv (pip install 'ray[default,tune]==2.60.0')"
    fi
}

resolve_python() {
    # The python that belongs to the ray executable (it can import ray).
    local dir
    dir="$(dirname "$1")"
    if [ -x "$dir/python" ]; then echo "$dir/python"; return; fi
    if [ -x "$dir/python3" ]; then echo "$dir/python3"; return; fi
    command -v python3 || die "no python found next to $1"
}

is_uint() { case "$1" in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# ---------------------------------------------------------------- processes
# PIDs of this cluster: processes whose command line contains one of its temp dirs
# ($STATE_DIR/n<i>) or whose stdout/stderr is a log file under them, plus all their
# descendants (Ray renames agents and workers, e.g. "ray::DashboardAgent", so their
# command lines no longer show the path). Only this user's processes; never this
# script or its ancestors.
cluster_pids() {
    local exclude=" $$ " p=$$ re uid
    while [ "${p:-1}" -gt 1 ]; do
        p="$(sed -E 's/^.*\) [A-Za-z] ([0-9]+) .*$/\1/' "/proc/$p/stat" 2>/dev/null || echo 1)"
        exclude+="$p "
    done
    uid="$(id -u)"
    # A regex (not a fixed string) so that grep's own command line does not match.
    re="$(printf '%s' "$STATE_DIR" | sed -E 's/[][\.*^$+?(){}|]/\\&/g')/n[0-9]"
    {
        { grep -lasE -- "$re" /proc/[0-9]*/cmdline 2>/dev/null || true; } \
            | sed -E 's#^/proc/([0-9]+)/.*#R \1#'
        { find /proc/[0-9]*/fd/1 /proc/[0-9]*/fd/2 -maxdepth 0 -lname "$STATE_DIR/n[0-9]*" 2>/dev/null || true; } \
            | sed -E 's#^/proc/([0-9]+)/.*#R \1#'
        { cat /proc/[0-9]*/stat 2>/dev/null || true; } \
            | awk '{ l = $0; sub(/^[0-9]+ \(.*\) /, "", l); split(l, a, " "); print "P", $1, a[2] }'
    } | awk -v excl="$exclude" '
        $1 == "R" { if (index(excl, " " $2 " ") == 0) root[$2] = 1; next }
        $1 == "P" { ppid[$2] = $3; next }
        END {
            for (p in ppid) {
                if (index(excl, " " p " ") > 0) continue
                q = p
                for (n = 0; n < 64 && (q in ppid); n++) {
                    if (q in root) { print p; break }
                    q = ppid[q]
                }
            }
        }' | while read -r pid; do
        [ "$uid" = 0 ] || [ -O "/proc/$pid" ] || continue
        echo "$pid"
    done
}

# Select PIDs from stdin by process name: "raylet", "gcs" (gcs_server) or "other".
select_by_name() {
    local want="$1" pid name
    while read -r pid; do
        name="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
        [ -n "$name" ] || continue
        case "$want:$name" in
            raylet:raylet|gcs:gcs_server) echo "$pid" ;;
            other:raylet|other:gcs_server) ;;
            other:*) echo "$pid" ;;
        esac
    done
}

# SIGTERM the given PIDs, wait up to $1 seconds, then SIGKILL the survivors.
term_then_kill() {
    local timeout="$1"; shift
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    local deadline=$(( $(date +%s) + timeout )) pid alive
    while :; do
        alive=()
        for pid in "$@"; do
            # zombies have exited already; their parent (init) reaps them
            if [ -e "/proc/$pid" ] && ! grep -qs '^State:.*Z' "/proc/$pid/status"; then
                alive+=("$pid")
            fi
        done
        [ "${#alive[@]}" -gt 0 ] || return 0
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "SIGKILL to ${#alive[@]} process(es) still running after ${timeout}s: ${alive[*]}"
            kill -KILL "${alive[@]}" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
    done
}

# Stop in Ray's own order (as `ray stop` does, but only for this cluster's
# processes): raylets first, then the other processes, the GCS last.
stop_pids() {
    local timeout="${RAYBOOST_STOP_TIMEOUT:-15}" all phase left n
    all="$(cluster_pids)"
    [ -n "$all" ] || return 0
    log "stopping $(wc -l <<<"$all" | tr -d ' ') processes"
    for phase in raylet other gcs; do
        # shellcheck disable=SC2046
        term_then_kill "$timeout" $(cluster_pids | select_by_name "$phase")
    done
    # anything started in the meantime (e.g. a worker process)
    for n in 1 2 3; do
        left="$(cluster_pids)"
        [ -n "$left" ] || return 0
        # shellcheck disable=SC2086
        term_then_kill 2 $left
        sleep 0.3
    done
    left="$(cluster_pids | tr '\n' ' ')"
    [ -z "${left// /}" ] || die "processes still running: $left"
}

# ---------------------------------------------------------------- cluster API
# Query the dashboard's state API with the token; prints one line per node:
# "<STATE> <node_id> <ip> <head|worker> <cpus> <gpus>".
list_nodes() {
    local py="$1"
    RB_URL="http://127.0.0.1:$DASHBOARD_PORT/api/v0/nodes?limit=1000&detail=true" \
    RB_TOKEN_FILE="$TOKEN_FILE" "$py" - <<'PY'
import json, os, sys, urllib.request
token = open(os.environ["RB_TOKEN_FILE"]).read().strip()
req = urllib.request.Request(os.environ["RB_URL"], headers={"Authorization": "Bearer " + token})
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        body = json.load(r)
except Exception as e:  # not up yet / refused
    print(f"query failed: {e}", file=sys.stderr)
    sys.exit(2)
nodes = body["data"]["result"]["result"]
for n in sorted(nodes, key=lambda n: (not n.get("is_head_node"), n.get("start_time_ms") or 0)):
    res = n.get("resources_total") or {}
    print(n["state"], n["node_id"], n["node_ip"], "head" if n.get("is_head_node") else "worker",
          f"{res.get('CPU', 0):g}", f"{res.get('GPU', 0):g}")
PY
}

load_env() {
    [ -f "$ENV_FILE" ] || die "no cluster state in $STATE_DIR (run: $0 up)"
    # shellcheck disable=SC1090
    . "$ENV_FILE"
}

print_access() {
    if [ -z "${HEAD_IP:-}" ]; then
        HEAD_IP="$(list_nodes "$PY" 2>/dev/null | awk '$1 == "ALIVE" && $4 == "head" { print $3; exit }' || true)"
        HEAD_IP="${HEAD_IP:-127.0.0.1}"
    fi
    cat <<EOF

Ray cluster is up: 1 head + $WORKERS worker node(s), $NUM_CPUS CPU(s) each, state in $STATE_DIR
  Dashboard / Jobs API : http://127.0.0.1:$DASHBOARD_PORT
  GCS address          : $HEAD_IP:$GCS_PORT
  Ray Client           : ray://127.0.0.1:$CLIENT_PORT

Token authentication is on. Clients need:
  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$TOKEN_FILE
  export RAY_ADDRESS=http://127.0.0.1:$DASHBOARD_PORT   # for 'ray job submit'
  # a driver on this host: ray.init(address="$HEAD_IP:$GCS_PORT") with the two exports above
  # raw HTTP: -H "Authorization: Bearer \$(cat $TOKEN_FILE)"
EOF
}

port_in_use() {
    "$PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

# ---------------------------------------------------------------- commands
cmd_up() {
    WORKERS="${RAYBOOST_WORKERS:-2}"
    NUM_CPUS="${RAYBOOST_NUM_CPUS:-1}"
    OBJECT_STORE_MB="${RAYBOOST_OBJECT_STORE_MB:-100}"
    while [ $# -gt 0 ]; do
        case "$1" in
            --workers) WORKERS="${2:?--workers needs a value}"; shift 2 ;;
            --workers=*) WORKERS="${1#*=}"; shift ;;
            --num-cpus) NUM_CPUS="${2:?--num-cpus needs a value}"; shift 2 ;;
            --num-cpus=*) NUM_CPUS="${1#*=}"; shift ;;
            --object-store-mb) OBJECT_STORE_MB="${2:?--object-store-mb needs a value}"; shift 2 ;;
            --object-store-mb=*) OBJECT_STORE_MB="${1#*=}"; shift ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown option for up: $1" ;;
        esac
    done
    is_uint "$WORKERS" || die "--workers must be a non-negative integer"
    is_uint "$NUM_CPUS" || die "--num-cpus must be a non-negative integer"
    is_uint "$OBJECT_STORE_MB" || die "--object-store-mb must be an integer"
    [ "$OBJECT_STORE_MB" -ge 75 ] || die "--object-store-mb must be >= 75 (Ray's minimum object store is 75 MiB)"

    NODE_IP="${RAYBOOST_NODE_IP:-}"
    GCS_PORT="${RAYBOOST_GCS_PORT:-26379}"
    DASHBOARD_PORT="${RAYBOOST_DASHBOARD_PORT:-28265}"
    CLIENT_PORT="${RAYBOOST_CLIENT_PORT:-20001}"
    PORT_BASE="${RAYBOOST_PORT_BASE:-27000}"
    WORKER_PORT_BASE="${RAYBOOST_WORKER_PORT_BASE:-30000}"
    for v in GCS_PORT DASHBOARD_PORT CLIENT_PORT PORT_BASE WORKER_PORT_BASE; do
        is_uint "${!v}" || die "$v must be a port number"
    done
    [ $((PORT_BASE + 10 * WORKERS + 5)) -le 65535 ] || die "RAYBOOST_PORT_BASE too high for $WORKERS workers"
    [ $((WORKER_PORT_BASE + 100 * WORKERS + 99)) -le 65535 ] || die "RAYBOOST_WORKER_PORT_BASE too high for $WORKERS workers"

    RAY="$(resolve_ray_bin)"
    [ -x "$RAY" ] || die "ray executable '$RAY' not found or not executable"
    PY="$(resolve_python "$RAY")"

    if [ -n "$(cluster_pids)" ]; then
        log "a cluster is already running with state dir $STATE_DIR; not starting another."
        log "use '$0 status' to see it or '$0 down' to stop it."
        if [ -f "$ENV_FILE" ]; then load_env; print_access; fi
        return 0
    fi

    local p
    for p in "$GCS_PORT" "$DASHBOARD_PORT" "$CLIENT_PORT"; do
        if port_in_use "$p"; then
            die "port $p is already in use on 127.0.0.1; choose other ports (RAYBOOST_GCS_PORT, RAYBOOST_DASHBOARD_PORT, RAYBOOST_CLIENT_PORT, RAYBOOST_PORT_BASE)"
        fi
    done

    mkdir -p "$STATE_DIR"
    chmod 700 "$STATE_DIR"
    if [ ! -s "$TOKEN_FILE" ]; then
        ( umask 077
          head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$TOKEN_FILE.tmp"
          mv -f "$TOKEN_FILE.tmp" "$TOKEN_FILE" )
        log "generated a new auth token in $TOKEN_FILE"
    fi
    chmod 600 "$TOKEN_FILE"

    {
        for v in WORKERS NUM_CPUS OBJECT_STORE_MB NODE_IP GCS_PORT DASHBOARD_PORT CLIENT_PORT \
                 PORT_BASE WORKER_PORT_BASE RAY PY; do
            printf '%s=%q\n' "$v" "${!v}"
        done
    } > "$ENV_FILE"

    local obj_bytes=$((OBJECT_STORE_MB * 1024 * 1024))
    # Shared by every node. RAY_AUTH_TOKEN would take precedence over the token
    # file, and RAY_ADDRESS could redirect `ray start`: both are unset.
    ray_start() {
        local i="$1"; shift
        local base=$((PORT_BASE + 10 * i)) wbase=$((WORKER_PORT_BASE + 100 * i))
        mkdir -p "$STATE_DIR/n$i"
        # The ray executable's directory goes first on PATH, so that `python` in job
        # entrypoints is the interpreter that has ray (and the project) installed.
        env -u RAY_AUTH_TOKEN -u RAY_ADDRESS \
            PATH="$(dirname "$RAY"):$PATH" \
            RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$TOKEN_FILE" \
            RAY_USAGE_STATS_ENABLED=0 \
            "$RAY" start "$@" \
            --temp-dir="$STATE_DIR/n$i" \
            ${NODE_IP:+--node-ip-address="$NODE_IP"} \
            --num-cpus="$NUM_CPUS" \
            --object-store-memory="$obj_bytes" \
            --node-manager-port=$((base + 0)) \
            --object-manager-port=$((base + 1)) \
            --dashboard-agent-listen-port=$((base + 2)) \
            --dashboard-agent-grpc-port=$((base + 3)) \
            --runtime-env-agent-port=$((base + 4)) \
            --metrics-export-port=$((base + 5)) \
            --min-worker-port="$wbase" \
            --max-worker-port=$((wbase + 99)) \
            --disable-usage-stats \
            --log-style=record \
            > "$STATE_DIR/start-n$i.log" 2>&1
    }

    log "starting head node (GCS port $GCS_PORT, dashboard 127.0.0.1:$DASHBOARD_PORT)"
    if ! ray_start 0 --head \
            --port="$GCS_PORT" \
            --ray-client-server-port="$CLIENT_PORT" \
            --include-dashboard=true \
            --dashboard-host=127.0.0.1 \
            --dashboard-port="$DASHBOARD_PORT"; then
        tail -n 30 "$STATE_DIR/start-n0.log" >&2 || true
        stop_pids || true
        die "head node failed to start (log: $STATE_DIR/start-n0.log)"
    fi

    local i pids=() failed=0
    for ((i = 1; i <= WORKERS; i++)); do
        log "starting worker node $i"
        ray_start "$i" --address="${NODE_IP:-127.0.0.1}:$GCS_PORT" &
        pids+=("$!")
    done
    for ((i = 1; i <= WORKERS; i++)); do
        if ! wait "${pids[$((i - 1))]}"; then
            tail -n 30 "$STATE_DIR/start-n$i.log" >&2 || true
            failed=1
        fi
    done
    if [ "$failed" -ne 0 ]; then
        stop_pids || true
        die "a worker node failed to start (logs: $STATE_DIR/start-n*.log)"
    fi

    local want=$((WORKERS + 1)) alive=0 deadline out
    deadline=$(( $(date +%s) + ${RAYBOOST_UP_TIMEOUT:-90} ))
    while :; do
        if out="$(list_nodes "$PY" 2>/dev/null)"; then
            alive="$(grep -c '^ALIVE ' <<<"$out" || true)"
            if [ "$alive" -ge "$want" ]; then
                HEAD_IP="$(awk '$1 == "ALIVE" && $4 == "head" { print $3; exit }' <<<"$out")"
                printf 'HEAD_IP=%q\n' "$HEAD_IP" >> "$ENV_FILE"
                break
            fi
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            stop_pids || true
            die "only $alive of $want nodes alive after ${RAYBOOST_UP_TIMEOUT:-90}s (logs under $STATE_DIR)"
        fi
        sleep 0.5
    done
    print_access
}

cmd_status() {
    [ $# -eq 0 ] || die "status takes no options"
    load_env
    local running out alive dead
    running="$(cluster_pids | wc -l | tr -d ' ')"
    echo "state dir   : $STATE_DIR"
    echo "processes   : $running"
    if [ "$running" -eq 0 ]; then
        echo "cluster     : down"
        return 3
    fi
    echo "dashboard   : http://127.0.0.1:$DASHBOARD_PORT"
    echo "gcs         : ${HEAD_IP:-?}:$GCS_PORT"
    echo "auth        : export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$TOKEN_FILE"
    if ! out="$(list_nodes "$PY")"; then
        echo "cluster     : processes running but the dashboard does not answer"
        return 4
    fi
    printf '%-6s %-7s %-10s %4s %4s  %s\n' STATE ROLE IP CPUS GPUS NODE_ID
    while read -r st id ip role cpus gpus; do
        [ -n "$st" ] || continue
        printf '%-6s %-7s %-10s %4s %4s  %s\n' "$st" "$role" "$ip" "$cpus" "$gpus" "$id"
    done <<<"$out"
    alive="$(grep -c '^ALIVE ' <<<"$out" || true)"
    dead="$(grep -c '^DEAD ' <<<"$out" || true)"
    echo "nodes: $alive alive, $dead dead"
}

cmd_down() {
    local purge=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --purge) purge=1; shift ;;
            *) die "unknown option for down: $1" ;;
        esac
    done
    if [ -z "$(cluster_pids)" ]; then
        log "no processes of the cluster in $STATE_DIR are running"
    else
        stop_pids
        log "stopped the cluster in $STATE_DIR"
    fi
    if [ "$purge" -eq 1 ] && [ -d "$STATE_DIR" ]; then
        rm -rf -- "$STATE_DIR"
        log "removed $STATE_DIR"
    fi
}

main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        -h|--help|help|"") usage ;;
        *) usage >&2; die "unknown command: $cmd" ;;
    esac
}

main "$@"
