# The dev loop is the CI loop: `make test` = format check + lint + types + tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS ?= models
empty :=
space := $(empty) $(empty)

.PHONY: serve test check lint format types unit bench clean

# Every runtime extra (XGBoost comes as the dev group's CPU-only wheel) and the docs.
DEV_EXTRAS := sklearn,pandas,lightgbm,onnx,skops,grpc,mysql,postgres,redis,schema,parquet,mlflow,otel,s3,docs
# This venv also gets Ray Serve, for the --engine ray tests (the other Pythons' runs
# leave the end-to-end tests out, so they do without it).
MAIN_EXTRAS := $(DEV_EXTRAS),ray
# Exact versions of everything installed, so every machine and CI test the same set:
# `make lock` rewrites it from pyproject.toml.
LOCK := requirements.lock

# Re-install whenever pyproject.toml or the lock changes.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "modelport needs Python 3.11 or newer" or 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[$(MAIN_EXTRAS)]' --group dev
	touch $(STAMP)

# A fresh environment from pyproject.toml alone, frozen into the lock.
.PHONY: lock
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade 'pip>=25.1'
	build/lock-venv/bin/python -m pip install --quiet -e '.[$(MAIN_EXTRAS)]' --group dev
	{ echo "# Exact versions for development and CI; regenerate with make lock."; \
	  build/lock-venv/bin/python -m pip freeze --exclude-editable --all | grep -v '^pip=='; } > $(LOCK)
	rm -rf build/lock-venv

# `make serve`: what serving needs (every runtime, no dev tools) in .venv, the example
# models when MODELS is empty, then the server. `make serve PORT=8080 MODELS=~/my-models`.
PORT ?= 8000
SERVE_STAMP := $(VENV)/.serve-installed
# Every runtime extra of `all`, with XGBoost as its CPU-only wheel (as the dev install has
# it): the `xgboost` extra's wheel brings NVIDIA's libraries, hundreds of MB, for a GPU.
SERVE_EXTRAS := sklearn,pandas,lightgbm,onnx,skops,grpc,mysql,postgres,redis,schema,parquet,otel
$(SERVE_STAMP): pyproject.toml $(LOCK)
	@echo "make serve: installing modelport with every runtime into $(VENV) (a minute or two the first time)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --progress-bar on -c $(LOCK) -e '.[$(SERVE_EXTRAS)]' 'xgboost-cpu' | grep -v '^Requirement already satisfied' || true
	$(BIN)/python -c 'import modelport, sklearn, xgboost' 2>/dev/null || { echo "make serve: the install failed (see above)" >&2; exit 1; }
	touch $@

serve: $(SERVE_STAMP)
	@if [ -z "$$(ls -A $(MODELS) 2>/dev/null)" ]; then echo "make serve: $(MODELS) is empty: writing the example models there"; $(BIN)/modelport train-examples $(MODELS); fi
	$(BIN)/modelport serve $(MODELS) --watch --port $(PORT)

test: check docs

check: $(STAMP) lint types unit

lint: $(STAMP)
	$(BIN)/ruff format --check src tests examples tools bench
	$(BIN)/ruff check src tests examples tools bench

format: $(STAMP)
	$(BIN)/ruff format src tests examples tools bench
	$(BIN)/ruff check --fix src tests examples tools

types: $(STAMP)
	$(BIN)/mypy

# Suites with their own targets (each needs something `make test` should not wait for:
# PyPI and extra environments, a container engine, a cluster, many server processes).
# CI runs each target.
OWN_TARGET_MARKERS := compat fuzz system
# Two test processes, a module each at a time (its servers and fixtures stay together).
TEST_PROCESSES ?= 2
# Bytecode compiled first: the servers the tests start import modelport afresh each time,
# and under PYTHONDONTWRITEBYTECODE each of them compiled it again (half a second of CPU).
unit: $(STAMP)
	$(BIN)/python -m compileall -q src tests >/dev/null
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadfile -m "not ($(subst $(space), or ,$(strip $(OWN_TARGET_MARKERS))))"

# The system suites (tests/e2e/conftest.py lists them): several server processes at once,
# faults made on purpose, a Ray cluster, service outages, every database in turn and whole
# user journeys: about 14 minutes on two slow cores. CI runs both.
.PHONY: test-system
test-system: $(STAMP)
	$(BIN)/python -m compileall -q src tests >/dev/null
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadfile -m system

# The long fuzzing run: schemathesis over every operation of a real server's OpenAPI
# document and hypothesis over every payload decoder, with many more examples than the
# short run `make test` makes: FUZZ_SCALE times as many, random ones (about 15 minutes at
# 50 here; tests/fuzzing.py says how). A quicker pass: make fuzz FUZZ_SCALE=10.
FUZZ_SCALE ?= 50
.PHONY: fuzz
fuzz: $(STAMP)
	MODELPORT_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/pytest -q -p no:cacheprovider -m fuzz tests/e2e/test_fuzz_openapi.py tests/protocols/test_fuzz_decoders.py

# The unit tests and an end-to-end smoke run under the other supported Pythons (pyenv's
# builds or python3.X on PATH), each in its own venv under build/.
OTHER_PYTHONS ?= 3.12 3.13
.PHONY: test-pythons
test-pythons:
	tools/other_pythons.sh '$(DEV_EXTRAS)' 'not (e2e or $(subst $(space), or ,$(strip $(OWN_TARGET_MARKERS))))' $(OTHER_PYTHONS)

# modelport's gRPC under the lowest and newest protobuf it allows, and modelport[all]
# installed beside tritonclient, Ray Serve, MLflow and the KServe SDK (needs PyPI).
.PHONY: compat
compat: $(STAMP)
	$(BIN)/pytest -q -m compat tests/e2e/test_compat_grpc.py

# Known vulnerabilities in the installed environment (pip-audit): every one is reported;
# only a fixable one in a runtime dependency fails, and an unreachable vulnerability
# database is reported, not failed (tools/audit.py says why).
.PHONY: audit
audit: $(STAMP)
	$(BIN)/python tools/audit.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist

# Benchmark: modelport against MLServer, Flask + gunicorn, FastAPI and a bare ASGI
# hello, same run. Baselines live in their own venvs under bench/.venvs; wrk comes from apt.
# Extra run.py flags: make bench BENCH_ARGS="--seconds 5 --repeats 5".
.PHONY: bench-quick bench-setup
BENCH_ARGS ?=

bench-setup: $(STAMP)
	$(BIN)/python bench/setup_env.py

bench: bench-setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: bench-setup
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

# The quick run as a smoke test (CI): every server answers right and no request fails;
# no target is asserted (a CI machine is not quiet). Results go to build/, not bench/results.
.PHONY: bench-smoke
bench-smoke: bench-setup
	$(BIN)/python bench/run.py --quick --smoke --results-dir build/bench-smoke $(BENCH_ARGS)

# modelport on Ray Serve (--engine ray --replicas 2, and Ray's throughput options) against
# --workers 2, same machine, same run, inside a network namespace (needs root and wrk);
# writes bench/results/<stamp>-ray.md.
.PHONY: bench-ray
BENCH_RAY_ARGS ?=
bench-ray: bench-setup
	$(BIN)/python bench/ray_bench.py $(BENCH_RAY_ARGS)

# Prediction log overhead: modelport with logging on against off, same run,
# interleaved; writes bench/results/log-overhead-<stamp>.md. Needs wrk (installed if missing).
.PHONY: bench-log
BENCH_LOG_ARGS ?=

bench-log: bench-setup
	$(BIN)/python bench/log_overhead.py $(BENCH_LOG_ARGS)

# Where the time goes: py-spy profiles of one worker under wrk, written to
# bench/results/<stamp>-profile.md. bench/hotpath.py --help.
.PHONY: bench-profile
bench-profile: bench-setup
	$(BIN)/python bench/hotpath.py $(BENCH_ARGS)

# Cold start and memory with iris-lr alone: medians over interleaved starts, the
# import time by package, and what the libraries cost on their own. bench/coldstart.py --help.
.PHONY: bench-coldstart
bench-coldstart: bench-setup
	$(BIN)/python bench/coldstart.py --out bench/results/$$(date -u +%Y-%m-%dT%H-%M-%SZ)-coldstart $(BENCH_ARGS)

# Soak: 10 minutes of mixed load (native, V2 REST, MLflow, a custom route, V2 gRPC) at 64
# connections while a version is uploaded and an alias moved every 30 s and the folder
# reloaded every minute; prints errors, p99 per 30-s slice, RSS and fds, log rows.
# make soak SOAK_MINUTES=2 for a short run. Overload (4x the sustainable rate, open loop):
# make soak-overload, the same as make soak SOAK_ARGS=--overload. bench/soak.py --help.
.PHONY: soak soak-overload
SOAK_MINUTES ?= 10
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

soak-overload: $(STAMP)
	$(BIN)/python bench/soak.py --overload $(SOAK_ARGS)

# Documentation site (docs/ and mkdocs.yml, MkDocs + Material, built offline into
# build/site). --strict fails on a broken link or anchor and on a page missing from the nav.
# The reference pages generated from the code (settings, CLI, model.yaml keys, metrics,
# endpoints) are committed: `make docs-ref` rewrites them, and tests/docs fails when they
# are out of date, so `make docs` never changes the working tree.
.PHONY: docs docs-serve docs-ref
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

docs-ref: $(STAMP)
	$(BIN)/python -m modelport.cli.docs_ref docs/reference

# The gRPC modules beside src/modelport/api/proto/grpc_predict_v2.proto, generated again
# (the .proto's header says why the sed: a descriptor pool of their own). The generator is
# pinned to grpcio-tools 1.62.3, in a venv of its own, on purpose: code from 1.63 on checks
# the protobuf and grpcio it runs with and refuses older ones, while this code loads under
# every protobuf from 5.29 to 7.x, so modelport[grpc] installs beside clients that pin
# another protobuf major (tests/test_proto.py and make compat check it).
GRPC_TOOLS_VERSION ?= 1.62.3
PROTO := src/modelport/api/proto/grpc_predict_v2.proto
PROTO_VENV := build/proto-venv
.PHONY: proto
proto:
	test -x $(PROTO_VENV)/bin/python || $(PYTHON) -m venv $(PROTO_VENV)
	$(PROTO_VENV)/bin/python -m pip install --quiet 'grpcio-tools==$(GRPC_TOOLS_VERSION)'
	$(PROTO_VENV)/bin/python -m grpc_tools.protoc -I src --python_out=src --pyi_out=src --grpc_python_out=src $(PROTO)
	sed -i 's/_descriptor_pool.Default().AddSerializedFile/_descriptor_pool.DescriptorPool().AddSerializedFile/' \
		$(PROTO:.proto=_pb2.py)

# The browser UI's third-party files (uPlot, MIT), from npm at the versions ui/package-lock.json
# pins, copied into the package (committed: serving and installing need no npm).
.PHONY: ui-vendor
ui-vendor:
	cd ui && npm ci --no-audit --no-fund
	cp ui/node_modules/uplot/dist/uPlot.iife.min.js ui/node_modules/uplot/dist/uPlot.min.css src/modelport/web/ui/vendor/
	cp ui/node_modules/uplot/LICENSE src/modelport/web/ui/vendor/uPlot.LICENSE

# Offline validation of the deployment files (Dockerfile, compose.yaml, deploy/: the Helm
# chart, KServe runtime, App Engine, systemd). The validators live in a venv of their own,
# build/deploy-venv, from the pinned deploy/requirements-check.txt; tests/deploy runs with
# the project's Python and finds them there (MODELPORT_DEPLOY_CHECK=1: a missing one fails
# instead of skipping).
DEPLOY_VENV := build/deploy-venv
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
$(DEPLOY_STAMP): deploy/requirements-check.txt
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/requirements-check.txt
	touch $@

.PHONY: deploy-check
deploy-check: $(STAMP) $(DEPLOY_STAMP)
	MODELPORT_DEPLOY_CHECK=1 $(BIN)/python -m pytest -q tests/deploy

# The container image. `make image` builds it from the Dockerfile (IMAGE=name:tag, default
# modelport:local) with deploy/image/build.sh: the Docker daemon started when it is not
# running, and, when no registry answers, a local Debian base (debootstrap) and a wheelhouse
# served to an offline build. `make image-test` builds it and runs it with the example
# models (tests/deploy/test_image.py): setosa over HTTP and gRPC, non-root, HEALTHCHECK
# healthy, exit 0 on SIGTERM. Both need root (Docker).
IMAGE ?= modelport:local
.PHONY: image image-test
image: $(STAMP)
	IMAGE=$(IMAGE) PYTHON=$(BIN)/python deploy/image/build.sh

image-test: $(STAMP)
	MODELPORT_IMAGE_TEST=1 $(BIN)/python -m pytest -q -s -m image tests/deploy
