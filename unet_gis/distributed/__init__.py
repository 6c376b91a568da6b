"""Run predictions on a Dask cluster (``unet-gis predict --cluster``; extra ``[cluster]``).

The client plans each scene exactly as the local engine does (bands, grid, scaler measured
once), cuts the region into rectangles of whole cores, and sends one task per rectangle;
workers run the local engine's own pipeline on their rectangle and return the uint8
probability blocks; the client writes them, in order, through the local engine's writer.
The output is therefore the same file a local run writes.

Nothing here imports Dask at module import time, and nothing outside this package imports
this package, so the core install works without Dask.
"""

from unet_gis.distributed.cluster import ClusterSession, open_cluster
from unet_gis.distributed.run import ClusterOptions, predict_on_cluster, predict_scenes_on_cluster

__all__ = ["ClusterOptions", "ClusterSession", "open_cluster", "predict_on_cluster",
           "predict_scenes_on_cluster"]
