"""Scenario files: YAML with line numbers, the JSON Schema, building typed specs, reply templates."""
