"""mmmtl.models.segmentors."""
