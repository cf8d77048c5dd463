"""Visualisation: palettes and task-map rendering."""
from .predictions import render_prediction
from .task_maps import class_palette, colorize_task_map, heat_map, make_grid

__all__ = ['class_palette', 'colorize_task_map', 'heat_map', 'make_grid',
           'render_prediction']
