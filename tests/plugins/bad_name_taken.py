"""A broken plug-in for the tests: its format name is a built-in's."""
from edgeship.pipeline.core.contracts.formats import Format
from edgeship.pipeline.core.contracts.plugins import FORMATS
from edgeship.pipeline.formats import onnx

FORMATS.register(Format(name="onnx", suffix=".onnx", runner="onnx", runtime="onnxruntime", packages=(),
                        export=onnx.export, quantize=onnx.quantize, layers=onnx.layers,
                        quantized_ops=onnx.quantized_ops, float_layers=onnx.float_layers))
