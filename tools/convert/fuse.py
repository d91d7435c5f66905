"""One graph rewrite after torch.onnx.export: each RMSNorm, exported by the reference modules as seven nodes
(x·x → ReduceMean → + eps → Sqrt → 1 / · → x · → · w), becomes one onnxruntime SimplifiedLayerNormalization node
(its ONNX-domain contrib op, on the WebGPU and CPU execution providers): one GPU kernel instead of seven for every
norm of every decode step. The arithmetic is the same, in float32. It matches exactly that pattern, nothing
looser, and is not a general graph optimiser."""
import numpy as np
from onnx import helper, numpy_helper

from tools.convert.errors import ConversionError

FUSED_OP = "SimplifiedLayerNormalization"


def _constants(graph):
    """{value name: array} of the graph's initializers and Constant nodes."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _match(reduce_mean, producer, consumers, constants):
    """The seven nodes and (x, weight, eps) of the RMSNorm around `reduce_mean`, or None."""
    def only_consumer(node, op_type):
        users = consumers.get(node.output[0], [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def scalar(name):
        value = constants.get(name)
        return float(value) if value is not None and value.size == 1 else None

    attrs = {a.name: helper.get_attribute_value(a) for a in reduce_mean.attribute}
    if list(attrs.get("axes", [])) != [-1] or attrs.get("keepdims", 1) != 1:
        return None
    square = producer.get(reduce_mean.input[0])
    if square is None or square.op_type != "Mul" or square.input[0] != square.input[1]:
        return None
    if len(consumers[square.output[0]]) != 1:
        return None
    x = square.input[0]
    add = only_consumer(reduce_mean, "Add")
    if add is None or reduce_mean.output[0] not in add.input:
        return None
    eps = scalar(add.input[1] if add.input[0] == reduce_mean.output[0] else add.input[0])
    sqrt = only_consumer(add, "Sqrt")
    div = sqrt and only_consumer(sqrt, "Div")
    if eps is None or div is None or div.input[1] != sqrt.output[0] or scalar(div.input[0]) != 1.0:
        return None
    scale = only_consumer(div, "Mul")
    if scale is None or sorted(scale.input) != sorted([x, div.output[0]]):
        return None
    weigh = only_consumer(scale, "Mul")
    if weigh is None:
        return None
    weight = weigh.input[1] if weigh.input[0] == scale.output[0] else weigh.input[0]
    source = producer.get(weight)
    if weight not in constants and not (source is not None and source.op_type == "Cast" and source.input[0] in constants):
        return None
    return (square, reduce_mean, add, sqrt, div, scale, weigh), (x, weight, eps)


def fuse_rms_norms(model, expected):
    """Rewrites every RMSNorm of `model` (in place) into SimplifiedLayerNormalization; ConversionError unless
    exactly `expected` were found (a reference module whose norm exports otherwise must not pass unnoticed)."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    constants = _constants(graph)
    replaced, removed = {}, set()
    for node in list(graph.node):
        if node.op_type != "ReduceMean":
            continue
        found = _match(node, producer, consumers, constants)
        if found is None:
            continue
        nodes, (x, weight, eps) = found
        last = nodes[-1]
        replaced[id(last)] = helper.make_node(FUSED_OP, [x, weight], [last.output[0]], name=f"{last.name}/rms_norm",
                                              axis=-1, epsilon=float(np.float32(eps)), stash_type=1)
        removed.update(id(n) for n in nodes)
    if len(replaced) != expected:
        raise ConversionError(f"found {len(replaced)} RMSNorm subgraphs to fuse, expected {expected}")
    kept = [replaced.get(id(node), node) for node in graph.node if id(node) not in removed or id(node) in replaced]
    used = {name for node in kept for name in node.input} | {out.name for out in graph.output}
    kept = [node for node in kept if node.op_type != "Constant" or node.output[0] in used]
    del graph.node[:]
    graph.node.extend(kept)
    return len(replaced)
