# The two commands: `make run` (the embedded defaults, nothing else needed) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-installed-stamp

.PHONY: run test test-quick lint format migrate demo deploy-local bench-http clean

# Running needs only the program's own packages; the tests add theirs (Playwright, moto,
# mypy: several hundred MB) on the first `make test` or `make lint`.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/python run.py

migrate: $(STAMP)
	$(BIN)/python run.py migrate

# Fills an empty database with a few people, posts, likes and comments.
demo: $(STAMP)
	$(BIN)/python run.py demo

# supervisord.conf here: one worker per CPU core on SNS_PORT (8001), with the settings of
# the environment and .env (local MariaDB and Redis: README "Deployment"); Ctrl-C drains.
deploy-local: $(STAMP)
	$(BIN)/python run.py supervise

# Starts MariaDB, Redis, nginx and Chromium itself (installing them with apt when run as root).
# Every test, on TEST_WORKERS processes (pytest-xdist); each worker starts its own MariaDB,
# Redis and servers on free ports, and takes whole files, so a file's shared servers stay in
# one worker. One file: .venv/bin/python -m pytest tests/test_x.py
# Three on CI's two cores: a third of a worker's time is spent waiting on its servers and
# browsers (pytest 618 s with 3 against 690 s with 2 in one afternoon's runs, both loaded).
TEST_WORKERS ?= 3
test: lint
	$(BIN)/python -m testkit --ensure
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The edit-test loop: only the tests that start no process and no service (tests/conftest.py
# marks the others `servers`); no lint.
test-quick: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not servers"

# The HTTP benchmark (bench/README.md): MariaDB, Redis, wrk; ~20 min. ARGS="--quick" to try it.
bench-http: $(TEST_STAMP)
	$(BIN)/python bench/http_bench.py $(ARGS)

# ruff for lint and format; mypy, strict on sns/ and handlers/ (pyproject.toml).
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
