"""mmmtl.models.heads."""
