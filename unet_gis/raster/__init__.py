"""Raster input/output: opening, band selection, scaling, grids and the probability raster."""
