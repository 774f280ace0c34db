"""Metrics: their sources, schedules, executions."""
