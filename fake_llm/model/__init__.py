"""Neutral types every layer shares; no yaml, jsonschema, faker or web imports."""
