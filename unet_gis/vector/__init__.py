"""Vector layers (and a class mask) from probability rasters.

Public API (import from the submodules; this package imports nothing heavy):

- :func:`unet_gis.vector.vectorize.vectorize` ``(prob_path, out_path, options=None,
  progress=None, cancel=None) -> VectorSummary``
- :class:`unet_gis.vector.options.VectorizeOptions`,
  :class:`unet_gis.vector.options.VectorSummary`
"""
