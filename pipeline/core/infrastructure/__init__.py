"""What everything stands on and nothing plugs into: errors, atomic writes, keys, the run lock, logs, progress,
sampling, tables, the timings side file. It imports nothing of core/contracts."""
