"""Tasks: each module registers one Task in edgeship.pipeline.core.contracts.plugins.TASKS."""
