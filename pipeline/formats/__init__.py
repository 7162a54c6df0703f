"""Model formats: each module registers one Format in pipeline.core.plugins.FORMATS."""
