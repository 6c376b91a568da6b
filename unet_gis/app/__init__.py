"""The desktop app: the only package that imports PySide6.

Plain-Python state (layers, job requests, settings schema, view geometry) lives in
modules here that do not import Qt; the widgets only draw that state and write back
through its setters.  Heavy libraries (torch, geopandas) load when a run or an export
starts, so the window appears quickly.
"""
