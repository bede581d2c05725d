"""stockflow checkov rules (stockflow_rules.py); checkov loads a checks directory as a package."""
