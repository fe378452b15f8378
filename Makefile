# 常用命令：make fetch（从邮箱收取来件）、make rollup（汇总）、make templates（生成模板）、make test（测试）。
# 收取后立即汇总：make fetch rollup。
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CAMPAIGN ?= campaign.toml
ROSTER ?= units.csv
TEMPLATES ?= templates
INBOX ?= inbox
OUTBOX ?= outbox
N ?= 1000
SEND ?=
FETCH_SINCE ?=

PATHS := --campaign $(CAMPAIGN) --roster $(ROSTER)

.PHONY: setup templates fetch rollup check demo mail remind feedback test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

templates: $(STAMP)
	$(BIN)/python -m pipeline templates $(PATHS) --templates $(TEMPLATES)

# 从单位邮箱（只读）收取来件存入 $(INBOX)/邮件/；FETCH_SINCE=2023-05-01 指定起始日期。
fetch: $(STAMP)
	$(BIN)/python -m pipeline fetch $(PATHS) --inbox $(INBOX) --outbox $(OUTBOX) $(if $(FETCH_SINCE),--since $(FETCH_SINCE))

# `make fetch rollup` (even with -j): the rollup reads what fetch saved, so it waits for it.
ifneq ($(filter fetch,$(MAKECMDGOALS)),)
rollup: fetch
endif

rollup: $(STAMP)
	$(BIN)/python -m pipeline rollup $(PATHS) --inbox $(INBOX) --outbox $(OUTBOX)

demo: $(STAMP)
	$(BIN)/python -m pipeline demo $(PATHS)

mail: $(STAMP)
	$(BIN)/python -m pipeline mail templates $(PATHS) --templates $(TEMPLATES) --outbox $(OUTBOX) $(SEND)

remind: $(STAMP)
	$(BIN)/python -m pipeline mail reminders $(PATHS) --templates $(TEMPLATES) --inbox $(INBOX) --outbox $(OUTBOX) $(SEND)

feedback: $(STAMP)
	$(BIN)/python -m pipeline mail feedback $(PATHS) --templates $(TEMPLATES) --inbox $(INBOX) --outbox $(OUTBOX) $(SEND)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py --n $(N)

# make clean keeps outbox/ledger.sqlite (which mails were sent, when each file first arrived) and the
# program log; to start a campaign over, delete them by hand (see README).
KEEP := ledger.sqlite ledger.sqlite-journal ledger.sqlite-wal ledger.sqlite-shm pipeline.log

clean:
	rm -rf $(VENV) $(TEMPLATES)/*.xlsx
	[ ! -d $(OUTBOX) ] || find $(OUTBOX) -mindepth 1 -maxdepth 1 $(foreach k,$(KEEP),! -name $(k)) -exec rm -rf {} +
