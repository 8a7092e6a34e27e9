"""Conformance: what fake-llm sends, validated against each provider's own machine-readable spec.

The checkers (one per dialect family, registered in `registry`) serve the pytest session check (`session`), the
recorder middleware (`recorder`) and `fake-llm lint` (`lint`).
"""
