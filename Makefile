# Every target works on a fresh machine: it creates .venv/ and installs what it needs
# (pip packages, Debian packages with apt-get, the Go-built control plane in ~/.cache/dynoform).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DYNOFORM_CACHE ?= $(HOME)/.cache/dynoform

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml hack/pyproject.toml hack/apt-packages.txt
	@hack/install-system-deps.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -e hack
	@touch $@

venv: $(STAMP) ## Create .venv/ with the operator and the dev tools

binaries: ## Build (or reuse from the cache) etcd, Kubernetes, kwok and helm from Go modules
	@hack/build-binaries.sh

cluster-up: $(STAMP) binaries ## Start the local cluster (control plane, kwok nodes, a real node) in the background
	@$(PY) -m localcluster up

cluster-down: $(STAMP) ## Stop the local control plane
	@$(PY) -m localcluster down

crds: $(STAMP) ## Regenerate crds/, deploy/ (sizes, stamp policy) and the chart's copies from the models
	$(PY) -m dynoform.api.crd

openapi: $(STAMP) ## Regenerate docs/platform-api.openapi.json from the Platform API server
	$(PY) -m dynoform.server.openapi docs/platform-api.openapi.json

lint: $(STAMP) ## ruff, mypy --strict, the import-linter layer contract, helm lint and the docs site (mkdocs --strict)
	$(VENV)/bin/ruff check operator tests bench hack
	$(VENV)/bin/ruff format --check operator tests bench hack
	$(VENV)/bin/mypy operator/dynoform hack/localcluster hack/docgen.py hack/dashboard.py hack/dashboard_scenario.py bench
	$(VENV)/bin/lint-imports
	"$$($(PY) -c 'from localcluster import binaries; print(binaries.ensure(["helm"]).path("helm"))')" lint --strict charts/dynoform
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs: $(STAMP) ## Regenerate docs/reference/ from the models, the CLI parsers, the chart's schema and the metrics
	$(PY) hack/docgen.py docs/reference

dashboard: $(STAMP) binaries ## Redraw docs/images/dashboard.png from a scrape of the operator on a fresh local cluster
	$(PY) hack/dashboard.py

test: $(STAMP) binaries lint ## The whole suite: unit, integration and e2e on the local control plane
	$(VENV)/bin/pytest tests

chaos: $(STAMP) binaries ## The reliability suite at full size: faults, fuzzing, security (about 20 min)
	$(VENV)/bin/pytest tests -m chaos --chaos -s

bench: $(STAMP) binaries ## Benchmarks at N = 100, 300, 1000 (3 runs), 3000 (about 45 min); results in bench/
	$(PY) -m bench

image: $(STAMP) binaries ## Build the operator's image with podman (no registry) and load it into the local cluster if it runs
	@$(PY) -m localcluster images operator $$($(PY) -m localcluster status >/dev/null && echo --load)

demo: $(STAMP) binaries ## The main job: local cluster with a real node, the operator installed with Helm, two apps
	@hack/demo.sh

down: $(STAMP) ## Stop the local cluster (and everything the demo runs in it)
	@$(PY) -m localcluster down

clean: ## Remove .venv and local state (the binary cache stays)
	rm -rf $(VENV) .local

.PHONY: help venv binaries cluster-up cluster-down crds openapi lint docs dashboard test chaos bench image demo down clean
