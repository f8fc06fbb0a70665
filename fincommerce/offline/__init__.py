"""Offline work the notebooks run: simulation, evaluation, tuning and analysis of event tables."""
