.PHONY: run test setup lint format bench
run:
	bin/run
test:
	bin/test
setup:
	bin/setup --dev
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
bench:
	bin/bench
