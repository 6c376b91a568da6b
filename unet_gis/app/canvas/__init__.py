"""The map canvas: view geometry, raster sources, tile loading and the painting widget."""
