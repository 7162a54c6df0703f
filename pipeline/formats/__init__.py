"""Model formats: each module registers one Format in edgeship.pipeline.core.contracts.plugins.FORMATS."""
