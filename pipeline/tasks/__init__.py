"""Tasks: each module registers one Task in pipeline.core.plugins.TASKS."""
