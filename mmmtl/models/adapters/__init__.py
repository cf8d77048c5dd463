"""mmmtl.models.adapters."""
