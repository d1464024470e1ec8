# briefkit: `make` builds the three deliverables, `make test` runs the tests.
PYTHON    ?= python3
VENV      ?= .venv
CONTENT   ?= content
TEMPLATES ?= templates
BUILD     ?= build

# Timestamps inside the deliverables (when the briefing has no date): the last commit that
# changed the content, so that rebuilding the same content gives the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct -- $(CONTENT) 2>/dev/null)
export SOURCE_DATE_EPOCH

BIN      := $(VENV)/bin
BRIEFKIT := $(BIN)/briefkit
STAMP    := $(VENV)/.installed
INPUTS   := $(wildcard $(CONTENT)/* $(TEMPLATES)/* src/briefkit/*.py src/briefkit/render/*.py src/briefkit/defaults/*)
# A project's templates folder overrides the built-in templates file by file; without one, the defaults.
TEMPLATE_ARG := $(if $(wildcard $(TEMPLATES)),--templates $(TEMPLATES))
BUILD_ALL := $(BRIEFKIT) build --content $(CONTENT) $(TEMPLATE_ARG) --out $(BUILD)
RUN      := $(BUILD_ALL) -q

.PHONY: all docx pdf pptx check test lint bench dist watch clean help
.DELETE_ON_ERROR:

all: $(STAMP) ## build memo.docx, brief.pdf and deck.pptx into $(BUILD)/
	@$(MAKE) -s -q $(BUILD)/memo.docx $(BUILD)/brief.pdf $(BUILD)/deck.pptx || $(BUILD_ALL)  # one run renders all three side by side

docx: $(BUILD)/memo.docx ## the Word memo
pdf: $(BUILD)/brief.pdf ## the PDF brief
pptx: $(BUILD)/deck.pptx ## the slide deck

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(BUILD)/memo.docx: $(STAMP) $(INPUTS)
	$(RUN) --format docx
$(BUILD)/brief.pdf: $(STAMP) $(INPUTS)
	$(RUN) --format pdf
$(BUILD)/deck.pptx: $(STAMP) $(INPUTS)
	$(RUN) --format pptx

check: $(STAMP) ## check the content without building
	$(BRIEFKIT) check --content $(CONTENT) $(TEMPLATE_ARG)

test: $(STAMP) ## run the tests
	$(BIN)/python -m pytest -q

bench: $(VENV)/.bench-installed ## time each format at 1x, 10x and 100x the content against Pandoc 3
	$(BIN)/python bench/run.py --content $(CONTENT) $(TEMPLATE_ARG)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

dist: $(STAMP) ## $(BUILD)/dist/<slug>.zip: the deliverables, SHA256SUMS and manifest.json
	$(BRIEFKIT) dist --content $(CONTENT) $(TEMPLATE_ARG) --out $(BUILD)

watch: $(STAMP) ## rebuild what a saved content or template file affects
	$(BRIEFKIT) watch --content $(CONTENT) $(TEMPLATE_ARG) --out $(BUILD)

lint: $(STAMP) ## byte-compile every module (catches syntax errors)
	$(BIN)/python -m compileall -q src tests

clean: ## remove the build folder
	rm -rf $(BUILD)

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
