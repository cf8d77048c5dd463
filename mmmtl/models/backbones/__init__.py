"""mmmtl.models.backbones."""
