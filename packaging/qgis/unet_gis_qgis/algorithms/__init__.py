"""The provider's algorithms, in the order the toolbox lists them."""

from __future__ import annotations

from .segment import SegmentRaster
from .segment_vectorize import SegmentAndVectorize
from .vectorize import VectorizeProbabilities

ALGORITHMS = (SegmentRaster, VectorizeProbabilities, SegmentAndVectorize)

__all__ = ["ALGORITHMS", "SegmentAndVectorize", "SegmentRaster", "VectorizeProbabilities"]
