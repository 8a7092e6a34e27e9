#!/usr/bin/env bash
# `make docker-test`: build the fake-llm image, start examples/compose, check health, a streamed chat completion
# made by the service under test from inside the compose network, and a clean stop on SIGTERM.
#
# Works without an image registry or a package index inside builds:
#   - when BASE_IMAGE (default python:3.12-slim) is neither present nor pullable, a local stand-in is built once
#     with scripts/docker-base-image.sh (debootstrap of Debian bookworm + python3, then `docker import`);
#   - with that stand-in, pip inside the build cannot reach an index: wheels for the image's Python are made on
#     the host (build/docker-wheels) and the Dockerfiles install them with --build-arg WHEELS (no index).
# With a pullable BASE_IMAGE the Dockerfiles install from the index, as users build them.
# When no Docker daemon answers and this runs as root, it installs Debian's docker.io (and docker-compose) if
# needed, starts dockerd for the run and stops it at the end.
#
# Variables: BASE_IMAGE, DOCKER_TEST_WHEELS (1: always use host-built wheels, 0: never; default: only with
# the local base), DOCKER_TEST_INSTALL=0 (never apt-get install), PYTHON (host Python that builds wheels).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=fake-llm:local                  # the names examples/compose/docker-compose.yml uses
APP_IMAGE=fake-llm-example-app:local
BASE_IMAGE=${BASE_IMAGE:-python:3.12-slim}
LOCAL_BASE=fake-llm-base:bookworm
PROJECT=fake-llm-docker-test
COMPOSE_FILE=examples/compose/docker-compose.yml
WHEEL_DIR=build/docker-wheels
EXPECTED="Refunds are accepted within 30 days of purchase. Reply with your order number and we will start one."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

passed=0
work=$(mktemp -d /tmp/fake-llm-docker-test.XXXXXX)
started_dockerd=""
compose_up=""

step() { printf '\n==> %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf '  ok: %s\n' "$*"; }
fail() {
    printf '  FAIL: %s\n' "$*" >&2
    printf 'docker-test: %d passed, 1 failed\n' "$passed" >&2
    exit 1
}
# Run a command with its output in a log file; on failure show the log's end.
quiet() {
    local log=$work/$1
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        return 1
    fi
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000 / 1000 }'; }

cleanup() {
    local status=$?
    set +e
    if [ -n "$compose_up" ]; then
        if [ "$status" -ne 0 ]; then
            echo "--- fake-llm container log (last 30 lines) ---" >&2
            compose logs --no-color --tail 30 fake-llm >&2
        fi
        compose down --remove-orphans >/dev/null 2>&1
    fi
    rm -rf "$work" "$WHEEL_DIR"
    rmdir "$(dirname "$WHEEL_DIR")" 2>/dev/null  # build/, if this run made it and left it empty
    if [ -n "$started_dockerd" ]; then
        kill "$started_dockerd" 2>/dev/null
        for _ in $(seq 1 30); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
        echo "stopped the dockerd this run started (pid $started_dockerd)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

can_install() { [ "${DOCKER_TEST_INSTALL:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; }
apt_install() {
    echo "  apt-get install $*"
    quiet apt-update.log apt-get update -q
    quiet apt-install.log env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# --- the Docker engine ------------------------------------------------------------------------------------------
step "Docker engine"
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1; then
        can_install || fail "no Docker daemon answers and dockerd is not installed (apt-get install docker.io)"
        apt_install docker.io
    fi
    [ "$(id -u)" -eq 0 ] || fail "no Docker daemon answers; start one (dockerd) or run as a user allowed to use it"
    echo "  starting dockerd (log: /tmp/fake-llm-dockerd.log)"
    dockerd >/tmp/fake-llm-dockerd.log 2>&1 &
    started_dockerd=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$started_dockerd" 2>/dev/null || { tail -n 20 /tmp/fake-llm-dockerd.log >&2; fail "dockerd exited"; }
        sleep 1
    done
    docker info >/dev/null 2>&1 || { tail -n 20 /tmp/fake-llm-dockerd.log >&2; fail "dockerd did not answer in 60 s"; }
fi
echo "  engine $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}')"

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
else
    can_install || fail "neither 'docker compose' nor docker-compose is installed"
    apt_install docker-compose
    COMPOSE=(docker-compose)
fi
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }
echo "  compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -n 1))"

# --- base image -------------------------------------------------------------------------------------------------
step "Base image"
base_is_local=""
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "  $BASE_IMAGE is present"
elif timeout 120 docker pull -q "$BASE_IMAGE" >"$work/pull.log" 2>&1; then
    echo "  pulled $BASE_IMAGE"
else
    echo "  cannot pull $BASE_IMAGE: $(tail -n 1 "$work/pull.log")"
    if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
        echo "  using the local stand-in $LOCAL_BASE built earlier"
    else
        [ "$(id -u)" -eq 0 ] || fail "building the local stand-in base image needs root (debootstrap)"
        echo "  building the local stand-in $LOCAL_BASE (debootstrap; a few minutes, once)"
        quiet base.log scripts/docker-base-image.sh "$LOCAL_BASE"
    fi
    BASE_IMAGE=$LOCAL_BASE
    base_is_local=1
fi
image_python=$(docker run --rm --entrypoint python3 "$BASE_IMAGE" -c \
    'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.libc_ver()[1] or "none", platform.machine())')
read -r image_py image_glibc image_arch <<<"$image_python"
echo "  base: $BASE_IMAGE, Python $image_py, glibc $image_glibc, $image_arch"

# --- wheels for an offline build ----------------------------------------------------------------------------------
use_wheels=${DOCKER_TEST_WHEELS:-${base_is_local:+1}}
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ "${use_wheels:-0}" = 1 ]; then
    step "Wheels for Python $image_py on $image_arch, built on the host (no package index inside the build)"
    rm -rf "$WHEEL_DIR"
    host_py=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$host_py" = "$image_py" ] && [ "$("$PYTHON" -c 'import platform; print(platform.machine())')" = "$image_arch" ]; then
        # Same Python and machine: pip resolves fake-llm's and the example app's dependencies as the image would.
        quiet wheels.log "$PYTHON" -m pip wheel -q . -r examples/compose/app/requirements.txt -w "$WHEEL_DIR"
    else
        # Another Python: fake-llm's own (pure) wheel, then binary wheels for the image's Python and glibc.
        [ "$image_glibc" != none ] || fail "the base image has no glibc; host-built wheels need a glibc image"
        platforms=(--platform "manylinux1_$image_arch" --platform "manylinux2010_$image_arch"
            --platform "manylinux2014_$image_arch")
        for minor in $(seq 5 "${image_glibc#2.}"); do platforms+=(--platform "manylinux_2_${minor}_$image_arch"); done
        quiet wheels.log "$PYTHON" -m pip wheel -q --no-deps . -w "$WHEEL_DIR"
        quiet wheels-download.log "$PYTHON" -m pip download -q --only-binary=:all: --implementation cp \
            --python-version "$image_py" "${platforms[@]}" -d "$WHEEL_DIR" \
            "$WHEEL_DIR"/fake_llm-*.whl -r examples/compose/app/requirements.txt
    fi
    echo "  $(find "$WHEEL_DIR" -name '*.whl' | wc -l) wheels in $WHEEL_DIR:" \
        "$(find "$WHEEL_DIR" -name '*.whl' ! -name '*-none-any.whl' -printf '%f\n' | sed 's/-.*-\(cp[0-9]*\)-.*/ (\1)/' | sort | paste -sd, - | sed 's/,/, /g')"
    build_args+=(--build-arg "WHEELS=$WHEEL_DIR")
fi

# --- images -------------------------------------------------------------------------------------------------------
step "Build $IMAGE (Dockerfile) and $APP_IMAGE (examples/compose/app)"
start=$SECONDS
quiet build.log docker build --force-rm -t "$IMAGE" "${build_args[@]}" . || fail "docker build of $IMAGE"
ok "built $IMAGE in $((SECONDS - start)) s"
app_context=examples/compose/app
app_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ "${use_wheels:-0}" = 1 ]; then
    # The app's build context is its own folder: give it a copy with the wheels beside its files.
    app_context=$work/app-context
    cp -r examples/compose/app "$app_context"
    cp -r "$WHEEL_DIR" "$app_context/wheels"
    app_args+=(--build-arg WHEELS=wheels)
fi
start=$SECONDS
quiet build-app.log docker build --force-rm -t "$APP_IMAGE" "${app_args[@]}" "$app_context" || fail "docker build of $APP_IMAGE"
ok "built $APP_IMAGE in $((SECONDS - start)) s"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE")
echo "  image size: $IMAGE $(mb "$size") = base $BASE_IMAGE $(mb "$base_size") + fake-llm $(mb $((size - base_size)))"
user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
health=$(docker image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$IMAGE")
stop_signal=$(docker image inspect -f '{{.Config.StopSignal}}' "$IMAGE")
case "$user" in "" | root | 0 | 0:*) fail "the image runs as root" ;; esac
[[ "$health" == *"fake-llm health"* ]] || fail "no HEALTHCHECK running fake-llm health (GET /_fake/health)"
[ "$stop_signal" = SIGTERM ] || fail "STOPSIGNAL is '$stop_signal'"
ok "user $user, HEALTHCHECK on /_fake/health, STOPSIGNAL $stop_signal"
docker run --rm "$IMAGE" check /opt/fake-llm/scenarios >"$work/check.log" 2>&1 || { cat "$work/check.log"; fail "baked-in pack"; }
docker run --rm -v "$PWD/examples/compose/scenarios:/scenarios:ro" "$IMAGE" check /scenarios >>"$work/check.log" 2>&1 ||
    { cat "$work/check.log"; fail "example scenarios"; }
ok "fake-llm check in the image: baked-in pack $(sed -n 1p "$work/check.log"), examples/compose/scenarios $(sed -n 2p "$work/check.log")"

# --- compose ------------------------------------------------------------------------------------------------------
step "docker-compose example: start fake-llm, wait until healthy"
FAKE_LLM_HOST_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export FAKE_LLM_HOST_PORT
compose_up=1
start=$SECONDS
if [ "${COMPOSE[0]}" = docker ]; then
    quiet up.log compose up -d --no-build --wait fake-llm || fail "compose up --wait"
else
    quiet up.log compose up -d --no-build fake-llm || fail "compose up"
fi
container=$(compose ps -q fake-llm)
status=""
for _ in $(seq 1 60); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$container")
    [ "$status" = healthy ] && break
    [ "$(docker inspect -f '{{.State.Running}}' "$container")" = true ] || break
    sleep 1
done
[ "$status" = healthy ] || fail "fake-llm is '$status' (not healthy)"
ok "fake-llm container healthy after $((SECONDS - start)) s (Docker's HEALTHCHECK)"
compose logs --no-color fake-llm >"$work/fake-llm.log" 2>&1
echo "  $(sed -n '/serving http/{s/^[^|]*| //;p;q;}' "$work/fake-llm.log")"

# Requests from inside the compose network, made in the app's image (python3 + urllib).
in_network() {
    compose run --rm -T --no-deps --entrypoint python3 app -c "$1" 2>"$work/run.err" || { cat "$work/run.err" >&2; return 1; }
}
health=$(in_network 'import urllib.request; print(urllib.request.urlopen("http://fake-llm:8000/_fake/health", timeout=5).read().decode())') ||
    fail "GET http://fake-llm:8000/_fake/health from the compose network"
[[ "$health" == *'"status":"ok"'* ]] || fail "health: $health"
ok "GET http://fake-llm:8000/_fake/health from inside the network: $health"
host_health=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$FAKE_LLM_HOST_PORT/_fake/health', timeout=5).status)") ||
    fail "GET http://127.0.0.1:$FAKE_LLM_HOST_PORT/_fake/health from the host"
ok "published on loopback only: http://127.0.0.1:$FAKE_LLM_HOST_PORT/_fake/health -> $host_health" \
    "($(docker port "$container" 8000 | paste -sd' ' -))"

step "Service under test: a streamed chat completion through the official openai client"
compose run --rm -T app >"$work/app.log" 2>"$work/app.err" ||
    { cat "$work/app.log" "$work/app.err"; fail "the app exited non-zero"; }
sed 's/^/  | /' "$work/app.log"
grep -qxF "$EXPECTED" "$work/app.log" || fail "the app did not print the scripted reply"
chunks=$(sed -n 's/^\[app\] streamed \([0-9]*\) chunks.*/\1/p' "$work/app.log")
[ "${chunks:-0}" -gt 1 ] || fail "the reply did not arrive as a stream (${chunks:-no} chunks)"
ok "the app printed the scripted reply, streamed in $chunks chunks"
journal=$(in_network '
import json, urllib.request
entries = json.load(urllib.request.urlopen("http://fake-llm:8000/_fake/journal", timeout=5))["entries"]
chat = [e for e in entries if e["path"] == "/v1/chat/completions"]
e = chat[-1]
print(len(chat), e["rule"], e["status"], e["stream"], e["stream_outcome"], e["headers"].get("user-agent"))
') || fail "GET /_fake/journal"
read -r calls rule code streamed outcome agent <<<"$journal"
[ "$calls $rule $code $streamed $outcome" = "1 refund-policy 200 True completed" ] ||
    fail "journal: $journal (expected 1 call to refund-policy, 200, streamed, completed)"
ok "journal: $calls call, rule $rule, status $code, stream=$streamed, $outcome, from $agent"

# --- clean stop ---------------------------------------------------------------------------------------------------
step "Clean stop: SIGTERM, exit status 0"
start=$SECONDS
quiet stop.log compose stop -t 10 fake-llm || fail "compose stop"
elapsed=$((SECONDS - start))
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$container")
oom=$(docker inspect -f '{{.State.OOMKilled}}' "$container")
if [ "$exit_code" != 0 ] || [ "$oom" != false ]; then fail "fake-llm exited with $exit_code (OOM killed: $oom)"; fi
[ "$elapsed" -lt 10 ] || fail "stopping took $elapsed s (killed after the 10 s grace period?)"
compose logs --no-color fake-llm >"$work/fake-llm.log" 2>&1
grep -q 'Finished server process' "$work/fake-llm.log" || fail "no 'Finished server process' in the log"
shutdown=$(grep -o 'Shutting down\|Finished server process \[[0-9]*\]' "$work/fake-llm.log" | paste -sd, - | sed 's/,/, /g')
ok "fake-llm stopped in ${elapsed} s with exit status 0 (log: $shutdown)"
quiet down.log compose down --remove-orphans || fail "compose down"
compose_up=""
left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "containers left after compose down: $left"
left=$(docker network ls -q --filter "name=^${PROJECT}_")
[ -z "$left" ] || fail "networks left after compose down: $left"
ok "compose down: no container or network left"

printf '\nimage %s: %s (base %s: %s)\n' "$IMAGE" "$(mb "$size")" "$BASE_IMAGE" "$(mb "$base_size")"
printf 'docker-test: %d passed, 0 failed\n' "$passed"
