# Developer set-up: `make run` (install + launch on the bundled sample), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE := resources/samples/spacenet_vegas_img0.tif

.PHONY: install run test lint bundle qgis-plugin

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# the CPU build of torch first, so nothing pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,cluster,onnx]'
	touch $@

install: $(VENV)/.installed

# On Linux, Qt's xcb platform plugin needs libxcb-cursor.so.0, which several fresh
# desktops lack ("could not load the Qt platform plugin xcb"): install libxcb-cursor0
# (Debian/Ubuntu) or xcb-util-cursor (Fedora), or run without a display with
# QT_QPA_PLATFORM=offscreen make run. A failed launch repeats this hint.
run: install
	@$(VENV)/bin/unet-gis gui $(SAMPLE) --run || { status=$$?; \
	  echo "make run: the app did not start (exit $$status). If Qt could not load its xcb" \
	       "platform plugin, install libxcb-cursor0 (Debian/Ubuntu: sudo apt install" \
	       "libxcb-cursor0) or xcb-util-cursor (Fedora: sudo dnf install xcb-util-cursor)," \
	       "or run without a display: QT_QPA_PLATFORM=offscreen make run" >&2; exit $$status; }

# the house rules first (ruff, mypy), then the tests: CI (.ci/run) fails on any of them
test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check unet_gis tests benchmarks scripts
	$(VENV)/bin/mypy unet_gis

# the standalone one-folder app (PyInstaller) with its smoke tests; not part of `make test`
bundle: install
	$(PY) -m pip install -q -e '.[bundle]'
	PYTHON=$(CURDIR)/$(PY) bash packaging/build.sh

# the QGIS plugin (packaging/qgis/unet_gis_qgis) as one zip for Plugins > Manage and Install
# Plugins > Install from ZIP; standard library only. Its PyQGIS tests: packaging/qgis/test.sh
qgis-plugin:
	python3 packaging/qgis/build.py dist/unet_gis_qgis.zip
