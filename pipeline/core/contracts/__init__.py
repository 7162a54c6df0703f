"""What plug-ins and stages agree on: artifacts and their stage identity, result rows, the run folder, the
registries and contracts of formats, target types and tasks, and the statistics behind every speed verdict."""
