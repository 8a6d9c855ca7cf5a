# AgencyGuard. `make run` serves the demo; `make test` runs the whole suite.
# Both set themselves up (system packages, .venv, translations) on first use.

PY := .venv/bin/python
ADDR ?= 127.0.0.1:8000
# Where run-time files go; agencyguard/settings/ reads the same variable.
VAR_DIR ?= var

.PHONY: run test bench lint check-deploy ci setup clean help

help:
	@echo "make run    - set up, migrate, load demo data, serve http://$(ADDR)/ with a worker and beat"
	@echo "make test   - install test dependencies and run the full test suite"
	@echo "make bench  - seed 100,000 findings in a separate database and print BENCH lines"
	@echo "              (ARGS=evidence.py runs only the scripts named; BENCH_DATABASE_URL=postgres://..."
	@echo "              adds the 1,000,000-finding figures and wipes that database)"
	@echo "make lint   - ruff check, ruff format --check, lint-imports, mypy, makemigrations --check"
	@echo "make ci     - lint plus manage.py check --deploy under production settings"
	@echo "make clean  - remove .venv, caches, build output, logs and bench files (keeps var/ data)"

run:
	@ADDR=$(ADDR) bash scripts/run.sh

test:
	@bash scripts/test.sh $(ARGS)

setup:
	@bash scripts/setup.sh

bench: setup
	$(PY) bench/run.py $(ARGS)

# Every step runs even when one fails, so one pass shows every problem. mypy reads
# [tool.mypy] in pyproject.toml and keeps its cache in .mypy_cache/ (about a minute cold on
# two cores, seconds warm).
lint: setup
	@rc=0; \
	echo "+ ruff check ."; .venv/bin/ruff check . || rc=1; \
	echo "+ ruff format --check ."; .venv/bin/ruff format --check . || rc=1; \
	echo "+ lint-imports (docs/architecture.md)"; .venv/bin/lint-imports || rc=1; \
	echo "+ mypy (pyproject.toml [tool.mypy])"; .venv/bin/mypy || rc=1; \
	echo "+ manage.py makemigrations --check --dry-run"; \
	$(PY) manage.py makemigrations --check --dry-run || rc=1; \
	exit $$rc

# Production-like settings: DEBUG off, a random key, HTTPS only. Any warning fails.
check-deploy: setup
	DEBUG=0 \
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	AUDIT_HMAC_KEYS="ci=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(48))')" \
	ALLOWED_HOSTS=example.org \
	CSRF_TRUSTED_ORIGINS=https://example.org \
	SITE_URL=https://example.org \
	SECURE_SSL_REDIRECT=1 \
	SECURE_HSTS_SECONDS=31536000 \
	CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
	CACHE_URL=redis://127.0.0.1:6379/1 \
	$(PY) manage.py check --deploy --fail-level WARNING

ci: lint check-deploy

# Keeps the data under VAR_DIR: database, files, beat's schedule. bench/out and
# var/bench.sqlite3 are where older versions put bench output.
clean:
	rm -rf .venv staticfiles .pytest_cache .ruff_cache .mypy_cache *.egg-info build bench/out
	rm -rf "$(VAR_DIR)/broker" "$(VAR_DIR)/bench" "$(VAR_DIR)/worker.log" "$(VAR_DIR)/beat.log"
	rm -rf var/test-results var/bench.sqlite3*
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find locale -name '*.mo' -delete
