# 常用命令：make init NOTICE=通知.docx（根据通知生成活动设置和表单）、make fetch（从邮箱收取来件）、make rollup（汇总）、make report（生成上报材料）、make templates（生成模板）、make check FILE=文件（检查单个文件）、make test（测试）。
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
FILE ?=
FETCH_SINCE ?=
NOTICE ?=
CAMPAIGN_DIR ?= .
FORCE ?=

UPPER ?=
DATE ?=

PATHS := --campaign $(CAMPAIGN) --roster $(ROSTER)

.PHONY: setup init templates fetch rollup report check demo mail remind feedback test lint bench clean

SETUP_LOG := $(VENV)/setup.log
# One line per step; pip's own output goes to $(SETUP_LOG) and is shown only when a step fails.
SHOW_LOG = { tail -n 30 $(SETUP_LOG); echo "安装失败，完整输出见 $(SETUP_LOG)。"; exit 1; }

$(STAMP): pyproject.toml
	@echo "第 1 步（共 3 步）：创建 Python 虚拟环境 $(VENV)/"
	@$(PYTHON) -m venv $(VENV)
	@echo "第 2 步（共 3 步）：更新 pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip > $(SETUP_LOG) 2>&1 || $(SHOW_LOG)
	@echo "第 3 步（共 3 步）：安装本程序及其依赖（约需一两分钟）"
	@$(BIN)/python -m pip install --quiet -e '.[dev]' >> $(SETUP_LOG) 2>&1 || $(SHOW_LOG)
	@touch $(STAMP)
	@echo "安装完成（安装过程的详细输出见 $(SETUP_LOG)）。"

setup: $(STAMP)

# 根据上级通知生成活动设置 campaign.toml 和 forms/ 中的表单定义：make init NOTICE=通知.docx（已有时加 FORCE=1 替换）。
init: $(STAMP)
	@$(if $(NOTICE),,echo "请用 NOTICE= 指定上级通知文件，例如：make init NOTICE=通知.docx"; exit 2)
	$(BIN)/python -m pipeline init "$(NOTICE)" --out $(CAMPAIGN_DIR) $(if $(FORCE),--force)

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

# 生成向上级报送的材料（活动总结草稿、本县汇总的附件1）到 $(OUTBOX)/上报/；
# UPPER=市局下发的附件1.xlsx 时填写上级下发的模板；DATE=2023-06-30 指定报告日期（默认今天）。
report: $(STAMP)
	$(BIN)/python -m pipeline report $(PATHS) --inbox $(INBOX) --outbox $(OUTBOX) $(if $(UPPER),--upper "$(UPPER)") $(if $(DATE),--date $(DATE))

# 只检查一个或几个文件，不写任何文件：make check FILE=收到的文件.xlsx（多个文件用空格隔开并加引号）。
check: $(STAMP)
	@$(if $(FILE),,echo "请用 FILE= 指定要检查的文件，例如：make check FILE=inbox/附件1.xlsx"; exit 2)
	$(BIN)/python -m pipeline check $(PATHS) --inbox $(INBOX) $(FILE)

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
