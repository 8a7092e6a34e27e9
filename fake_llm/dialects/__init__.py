"""Dialect packages of the API families added after the flat providers/ modules: one package per family, each with
its parser, renderer and record-mode reader side by side (see the layout of issue 10)."""
