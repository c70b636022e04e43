# make run  — set up everything and start the assistant (embedded defaults: SQLite, one machine)
# make test — set up everything and run every test
# Each step is redone only when its inputs changed (a venv stamp, the catalog, the generated NLU data, the model).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(PY) -m rasa  # -m puts the project on sys.path for our custom components
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

CATALOG_FILES := $(shell find knowledge/catalog -name '*.yml' 2>/dev/null)
KNOWLEDGE_CODE := $(wildcard knowledge/*.py)
TRAINING_FILES := domain.yml config.yml $(wildcard bot/nlu/*.py) $(shell find data -name '*.yml' 2>/dev/null)
GENERATED_NLU := var/jieba/catalog.txt
MODEL_STAMP := models/.trained
WIDGET_STAMP := tests/widget/node_modules/.installed

.PHONY: run test setup catalog model retrain nlu-data widget lint validate test-python test-fast test-model test-conversations bench bench-recognition clean help

help:
	@echo "make run   - set up and start the assistant (http://localhost:8000/)"
	@echo "make test  - set up and run every test"

run: setup catalog model
	$(PY) -m bot.run

# Two stages on two cores: while the model trains, the checks and the tests that need no model run beside it;
# then the tests on the trained model (in two pytest workers: a stack test waits on Rasa half the time) beside
# the conversation tests. Every part runs even when an earlier one failed; the exit status says whether all passed.
test: setup catalog widget nlu-data
	@status=0; \
	$(MAKE) -k -j2 --output-sync=target model lint validate test-fast || status=1; \
	$(MAKE) -k -j2 --output-sync=target test-model test-conversations || status=1; \
	exit $$status

# Style and mistakes (unused or undefined names) in every Python file: ruff, configured in pyproject.toml.
lint: setup
	$(VENV)/bin/ruff check .

# The training data against the domain (intents, responses, slots, forms, story conflicts).
validate: setup
	$(RASA) data validate --domain domain.yml --data data

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	@python_bin=$$(scripts/find-python.sh) || exit 1; \
	  echo "using $$python_bin"; \
	  [ -x $(PY) ] || $$python_bin -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.3.1"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip check
	touch $@

# The embedded database: the catalog files loaded into SQLite (or $DATABASE_URL).
catalog: setup
	$(PY) -m knowledge load

nlu-data: $(GENERATED_NLU)

$(GENERATED_NLU): $(CATALOG_FILES) $(KNOWLEDGE_CODE) bot/nlu/generate.py $(VENV)/.installed
	$(PY) -m bot.nlu.generate
	@touch $@

model: $(MODEL_STAMP)

# The standard Rasa web widget (rasa-webchat) for the browser test of the socket.io channel, from npm's lock file.
widget: $(WIDGET_STAMP)

$(WIDGET_STAMP): tests/widget/package.json tests/widget/package-lock.json
	cd tests/widget && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The jieba dictionary is order-only: a catalog change needs no retraining (matters are recognised from the
# catalog at run time); `make retrain` refreshes the dictionary inside the model when wanted.
$(MODEL_STAMP): $(TRAINING_FILES) $(VENV)/.installed | $(GENERATED_NLU)
	$(RASA) train --out models --fixed-model-name assistant
	touch $@

retrain: setup nlu-data
	$(RASA) train --force --out models --fixed-model-name assistant
	touch $(MODEL_STAMP)

test-python: setup model widget
	$(PY) -m pytest tests -p no:cacheprovider --durations=20

# The tests that need no trained model (tests/conftest.py marks the others `model`).
test-fast: setup widget
	$(PY) -m pytest tests -p no:cacheprovider --durations=10 -m "not model"

# Each worker takes whole groups of tests (tests/conftest.py: a module, or the modules on one stack) and starts
# its own shared stack.
test-model: setup model widget
	$(PY) -m pytest tests -p no:cacheprovider --durations=20 -m model -n 2 --dist loadgroup

# Conversation tests on the trained model: real user texts through NLU and dialogue policies.
test-conversations: setup catalog model
	$(RASA) test core --e2e --model models/assistant.tar.gz --stories tests/conversations \
	  --fail-on-prediction-errors --out results/conversations

bench: setup model
	$(PY) -m bench.turn_latency

bench-recognition: setup model
	$(PY) -m bench.recognition --cross-validation

clean:
	rm -rf models var results logs .rasa
