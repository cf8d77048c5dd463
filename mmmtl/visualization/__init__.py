"""Visualisation: palettes and task-map rendering."""
