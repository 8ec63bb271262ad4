"""Flax NNX's Variables, read and written without importing flax.

NNX's ``Optimizer`` wraps every array of its optax state in a Variable
(``OptArray``); there are none unless flax.nnx was imported, so the core
modules that read optax states (plateau, readout) never import flax themselves.
"""

import sys


def variable_type():
    """``flax.nnx.Variable`` if flax.nnx is already imported, else None."""
    return getattr(sys.modules.get("flax.nnx"), "Variable", None)


def get_value(variable):
    # flax 0.12 deprecates ``.value`` for get_value/set_value; .value for Variables without them
    return variable.get_value() if hasattr(variable, "get_value") else variable.value


def set_value(variable, value):
    if hasattr(variable, "set_value"):
        variable.set_value(value)
    else:
        variable.value = value
