"""Tasks: each module registers one Task in edgeship.pipeline.core.plugins.TASKS."""
