"""Standalone offline verifier of health codes, place codes and the transparency log.

This package imports no server code (checked by import-linter): a guard's device, another
city or an auditor can run it with nothing but published trust lists and checkpoints.
"""
