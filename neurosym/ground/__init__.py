"""Syntax tree → ground formula: finite domains and quantifier expansion."""
