"""mmmtl registries: children of mmsegmentation's, scope ``mmmtl``.

Because each registry's parent is mmseg's (whose parent is mmengine's), a
config with ``default_scope = 'mmmtl'`` can name mmmtl, mmseg and mmengine
components alike; mmmtl's names are looked up first.
"""
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=MMSEG_RUNNERS,
                   locations=['mmmtl.engine'])
RUNNER_CONSTRUCTORS = Registry('runner constructor',
                               parent=MMSEG_RUNNER_CONSTRUCTORS)
LOOPS = Registry('loop', parent=MMSEG_LOOPS)
HOOKS = Registry('hook', parent=MMSEG_HOOKS, locations=['mmmtl.engine.hooks'])
DATASETS = Registry('dataset', parent=MMSEG_DATASETS,
                    locations=['mmmtl.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMSEG_DATA_SAMPLERS)
TRANSFORMS = Registry('transform', parent=MMSEG_TRANSFORMS,
                      locations=['mmmtl.datasets.transforms'])
MODELS = Registry('model', parent=MMSEG_MODELS, locations=['mmmtl.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMSEG_MODEL_WRAPPERS,
                          locations=['mmmtl.models'])
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMSEG_WEIGHT_INITIALIZERS,
                               locations=['mmmtl.models'])
OPTIMIZERS = Registry('optimizer', parent=MMSEG_OPTIMIZERS)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMSEG_OPTIM_CONSTRUCTORS)
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMSEG_PARAM_SCHEDULERS)
METRICS = Registry('metric', parent=MMSEG_METRICS,
                   locations=['mmmtl.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMSEG_EVALUATOR,
                     locations=['mmmtl.evaluation'])
TASK_UTILS = Registry('task util', parent=MMSEG_TASK_UTILS,
                      locations=['mmmtl.models'])
VISUALIZERS = Registry('visualizer', parent=MMSEG_VISUALIZERS,
                       locations=['mmmtl.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMSEG_VISBACKENDS,
                       locations=['mmmtl.visualization'])
LOG_PROCESSORS = Registry('log_processor', parent=MMSEG_LOG_PROCESSORS)
INFERENCERS = Registry('inferencer', parent=MMSEG_INFERENCERS)
