"""Visualisation: palettes and task-map rendering."""
from .inference_outputs import (blend, overlay_task_map,
                                render_inference_outputs,
                                write_inference_outputs)
from .predictions import render_prediction
from .task_maps import class_palette, colorize_task_map, heat_map, make_grid

__all__ = ['blend', 'class_palette', 'colorize_task_map', 'heat_map',
           'make_grid', 'overlay_task_map', 'render_inference_outputs',
           'render_prediction', 'write_inference_outputs']
