# Dirigent — `make run` starts everything locally, `make test` runs every check.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAGE  ?= dev

.PHONY: run test tick redrive lint format bench fuzz package deploy admin-key clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed          ## the whole system on an embedded moto server (Ctrl-C stops it)
	$(PY) -m local

test: $(VENV)/.installed lint    ## lint, type-check and the whole test suite
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(VENV)/.installed         ## ruff (lint + format check) and mypy on chalicelib/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

tick: $(VENV)/.installed         ## fire every schedule of a running local stack once
	$(PY) -m local tick

redrive: $(VENV)/.installed      ## DLQ back to its queue: make redrive QUEUE=warehouse-events STAGE=dev|local
	$(PY) -m infrastructure.redrive $(QUEUE) --stage $(STAGE)

fuzz: $(VENV)/.installed         ## schemathesis over a fresh local stack, admin and channel: 0 server errors
	$(PY) -m local.fuzz $(if $(EXAMPLES),--max-examples $(EXAMPLES))

bench: $(VENV)/.installed        ## figures: sourcing quality/latency, order throughput and cost
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) bench/sourcing.py
	$(PY) bench/orders.py
	$(PY) bench/per_request.py
	$(PY) bench/coldstart.py
	$(PY) bench/capacity.py
	$(PY) bench/availability.py
	$(PY) bench/network.py

package: $(VENV)/.installed      ## CloudFormation + bytecode-compiled code for STAGE into build/
	$(PY) -m infrastructure.stage $(STAGE) merge-template build/$(STAGE)-merge.json
	DIRIGENT_PREFIX=$$($(PY) -m infrastructure.stage $(STAGE) prefix) \
	  AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-central-1} $(VENV)/bin/chalice package --stage $(STAGE) \
	  --merge-template build/$(STAGE)-merge.json build/$(STAGE)
	$(PY) -m infrastructure.bytecode build/$(STAGE)/deployment.zip  # no compiling at cold start

deploy: package                  ## package, then deploy STAGE with CloudFormation
	aws cloudformation package --template-file build/$(STAGE)/sam.json \
	  --s3-bucket $$DEPLOY_BUCKET --output-template-file build/$(STAGE)/packaged.json
	aws cloudformation deploy --template-file build/$(STAGE)/packaged.json \
	  --stack-name dirigent-$(STAGE) --capabilities CAPABILITY_IAM

admin-key: $(VENV)/.installed    ## print a new admin key created in STAGE's tables (AWS credentials)
	$(PY) -m infrastructure.admin_key $(STAGE)

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
