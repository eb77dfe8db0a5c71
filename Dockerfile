# modelport's container image: one model folder, mounted at /models, served over HTTP
# (8000) and the Open Inference Protocol's gRPC (8001).
#
#   docker build -t modelport .
#   docker run --rm -p 127.0.0.1:8000:8000 -v "$PWD/models:/models:ro" modelport
#
# Build arguments:
#   BASE            the Python base image of both stages (Debian-based, Python 3.11+)
#   EXTRAS          modelport's extras to install (the model kinds, gRPC, the database
#                   and Redis clients); see docs/getting-started/install.md
#   XGBOOST_PACKAGE the wheel that provides the `xgboost` extra's module: `xgboost-cpu`
#                   (the default) leaves out the GPU libraries, hundreds of MB that a CPU
#                   server never loads; `xgboost` for a GPU image
# Settings are MODELPORT_* environment variables (`-e MODELPORT_WORKERS=2`), or flags
# after `serve` (`docker run ... modelport serve --workers 2`).

ARG BASE=python:3.11-slim

# -- stage 1: build modelport's wheel and install it, with its extras, into a venv --------
FROM ${BASE} AS build
ARG EXTRAS=sklearn,pandas,xgboost,lightgbm,onnx,skops,grpc,mysql,postgres,redis
ARG XGBOOST_PACKAGE=xgboost-cpu
# Where pip finds packages: PyPI, or a mirror. For a build without network, a wheelhouse
# (pip wheel on the host) served over HTTP on the host: docker build --network host
#   --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=http://127.0.0.1:PORT/
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_FIND_LINKS=
ARG PIP_NO_INDEX=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
WORKDIR /src
COPY pyproject.toml README.md LICENSE requirements.lock ./
COPY src ./src
# The wheel first (so the image holds what `pip install modelport` would), then the venv
# from it. requirements.lock pins every dependency to the versions the tests ran with.
# The `xgboost` extra is swapped for XGBOOST_PACKAGE (same `xgboost` module).
RUN python3 -m venv /opt/modelport \
 && /opt/modelport/bin/python -m pip wheel --no-deps --wheel-dir /tmp/dist . \
 && extras="$(echo ",${EXTRAS}," | sed 's/,xgboost,/,/g; s/^,//; s/,$//')" \
 && case ",${EXTRAS}," in *,xgboost,*) xgboost="${XGBOOST_PACKAGE}" ;; *) xgboost="" ;; esac \
 && wheel="$(ls /tmp/dist/modelport-*.whl)" \
 && /opt/modelport/bin/python -m pip install -c requirements.lock \
        "modelport[${extras}] @ file://${wheel}" ${xgboost:+"${xgboost}"} \
 && /opt/modelport/bin/modelport --version

# -- stage 2: the runtime image: the venv, a user without privileges, no build tools -------
FROM ${BASE}
LABEL org.opencontainers.image.title="modelport" \
      org.opencontainers.image.description="Serve trained machine-learning models behind a fast, safe, standard HTTP API." \
      org.opencontainers.image.licenses="Apache-2.0"
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
RUN groupadd --gid 10001 modelport \
 && useradd --no-log-init --uid 10001 --gid modelport --home-dir /home/modelport \
        --create-home --shell /usr/sbin/nologin modelport \
 && mkdir -p /models /data \
 && chown modelport:modelport /models /data
COPY --from=build /opt/modelport /opt/modelport

# Listen on every interface of the container: a port published with -p (or a Service)
# reaches it there. With a wildcard address modelport cannot know the names clients will
# use, so it would make no Host check; the image names the local ones instead, so that
# `docker run -p 127.0.0.1:8000:8000` on a desktop is safe from DNS rebinding (a web page
# whose name resolves to 127.0.0.1). Add the names your clients use:
# -e MODELPORT_ALLOWED_HOSTS=localhost,127.0.0.1,::1,models.example.com ('*' for any).
# Health probes answer any Host. The SQLite database (when MODELPORT_DATABASE_URL is not
# set) lives in /data; give it a volume to keep the records.
ENV PATH=/opt/modelport/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELPORT_MODEL_DIR=/models \
    MODELPORT_DATA_DIR=/data \
    MODELPORT_HOST=0.0.0.0 \
    MODELPORT_PORT=8000 \
    MODELPORT_GRPC_PORT=8001 \
    MODELPORT_ALLOWED_HOSTS=localhost,127.0.0.1,::1

# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
VOLUME ["/models", "/data"]
EXPOSE 8000 8001

# Ready once every model has been tried (503 before). Python, not curl: the slim base has
# no curl. The port follows MODELPORT_PORT.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('MODELPORT_PORT', '8000'), timeout=4)"]

# Exec form: modelport is PID 1 and gets SIGTERM itself; it stops accepting connections,
# finishes the requests in flight and exits 0 (its workers are its own children).
STOPSIGNAL SIGTERM
ENTRYPOINT ["modelport"]
CMD ["serve"]
