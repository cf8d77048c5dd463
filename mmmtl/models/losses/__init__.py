"""mmmtl.models.losses."""
