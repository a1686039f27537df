# Two commands do all set-up on a fresh machine:
#   make run    install into .venv and run `geo run` on the bundled default
#   make test   install into .venv and run the linter and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/geo run

lint: install
	$(BIN)/ruff check .

# pytest exits 5 when it collected nothing: treat that as a failure, loudly.
test: lint
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

bench: install
	$(BIN)/python bench/seed_population.py
	$(BIN)/python bench/zonal_indices.py
	$(BIN)/python bench/cross_k.py
	$(BIN)/python bench/kd_clq.py
	$(BIN)/python bench/kd_bandwidth.py
	$(BIN)/python bench/coagglomeration.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/clusters.py
	$(BIN)/python bench/siting.py
	$(BIN)/python bench/siting_scale.py
	$(BIN)/python bench/web_map.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/panel.py
	$(BIN)/python bench/startup.py

clean:
	rm -rf $(VENV) geo-out dist build .pytest_cache .ruff_cache
