# fake-llm in a container.
#
#   docker build -t fake-llm .
#   docker run --rm -p 127.0.0.1:8000:8000 fake-llm                      # the bundled scenarios
#   docker run --rm -p 127.0.0.1:8000:8000 -v "$PWD/my-scenarios:/scenarios:ro" \
#       -e FAKE_LLM_SCENARIOS=/scenarios fake-llm                          # your own
#
# Configuration is only through FAKE_LLM_* variables (see `fake-llm serve --help`). The server binds 0.0.0.0
# inside the container only; publish the port on 127.0.0.1 as above unless you mean to share it.
#
# Build arguments:
#   BASE_IMAGE  any image with `python3` (3.10+) and its venv module; default: the official slim image.
#   WHEELS      a folder inside the build context holding a fake-llm wheel and all its dependencies, for
#               builds without access to a package index (`pip wheel . -w build/wheels`, then
#               `--build-arg WHEELS=build/wheels`). Empty: pip installs from this source tree and the index.
#   EXTRAS      optional extras of the package, e.g. `tokens` for the exact o200k_base / cl100k_base tokenizers.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
ARG WHEELS=
ARG EXTRAS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY . /src
RUN python3 -m venv /opt/venv \
    && extras="${EXTRAS:+[$EXTRAS]}" \
    && if [ -n "$WHEELS" ]; then \
        /opt/venv/bin/pip install --no-index --find-links "/src/$WHEELS" "fake-llm$extras"; \
    else \
        /opt/venv/bin/pip install "/src$extras"; \
    fi \
    && /opt/venv/bin/pip uninstall -y -q pip setuptools \
    && /opt/venv/bin/fake-llm --version

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="fake-llm" \
      org.opencontainers.image.description="A local fake LLM provider server that replays YAML-scripted scenarios." \
      org.opencontainers.image.licenses="MIT"

# An unprivileged user; /scenarios is where your own scenario folder is mounted (read-only is enough).
RUN groupadd --gid 10001 fakellm \
    && useradd --uid 10001 --gid fakellm --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin fakellm \
    && mkdir -p /scenarios

COPY --from=build /opt/venv /opt/venv
# The bundled pack, also installed inside the package (served when FAKE_LLM_SCENARIOS is unset), here at a
# fixed path so it can be combined with yours: FAKE_LLM_SCENARIOS=/scenarios:/opt/fake-llm/scenarios.
# scenarios/*.yaml name their payloads as ../fixtures/..., so both folders keep their places side by side.
COPY scenarios /opt/fake-llm/scenarios
COPY fixtures /opt/fake-llm/fixtures

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FAKE_LLM_HOST=0.0.0.0 \
    FAKE_LLM_PORT=8000

USER fakellm:fakellm
WORKDIR /opt/fake-llm
EXPOSE 8000

# No curl in slim images: `fake-llm health` GETs /_fake/health with the image's own Python. It also fails while a
# scenario file has errors (a failed --watch reload), and writes the reason to fake-llm's own stderr (PID 1), where
# `docker compose up` and `docker logs` show it. Compose files may run it more often (`interval: 1s`).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["fake-llm", "health", "--log-to-pid1"]

# uvicorn finishes open requests (5 s at most) and exits 0 on SIGTERM. fake-llm runs as PID 1 here and
# handles the signal itself: do not add an init (docker run --init / compose `init: true`), which would turn
# the same clean stop into exit status 143.
STOPSIGNAL SIGTERM
ENTRYPOINT ["fake-llm"]
CMD ["serve"]
