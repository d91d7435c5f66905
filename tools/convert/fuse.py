"""Graph rewrites after torch.onnx.export, each into one onnxruntime contrib node (on its WebGPU and CPU execution
providers) with the same float32 arithmetic, so that a decode step runs fewer GPU kernels:
- each RMSNorm, exported by the reference modules as seven nodes (x·x → ReduceMean → + eps → Sqrt → 1 / · → x · →
  · w), becomes SimplifiedLayerNormalization (ONNX domain);
- each rotary embedding of a query or key, x·cos + rotate_half(x)·sin with cos and sin rows gathered from
  [positions, headDim/2] tables by position_ids (seven nodes for each of q and k), becomes RotaryEmbedding
  (com.microsoft, interleaved 0) reading those tables and position_ids directly.
Each matches exactly the pattern the reference modules export, nothing looser, and the caller says how many it must
find. It is not a general graph optimiser."""
import numpy as np
from onnx import helper, numpy_helper

from tools.convert.errors import ConversionError

RMS_NORM_OP = "SimplifiedLayerNormalization"
ROTARY_OP = "RotaryEmbedding"
CONTRIB_DOMAIN = "com.microsoft"


class _Index:
    """Who produces and who consumes each value of a graph, and its constant values."""

    def __init__(self, graph):
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)

    def made_by(self, name, op_type):
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def only_consumer(self, node, op_type):
        users = self.consumers.get(node.output[0], [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def ints(self, name):
        value = self.constants.get(name)
        return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]

    def scalar(self, name):
        value = self.constants.get(name)
        return float(value) if value is not None and value.size == 1 else None


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _other(node, name):
    """The input of a two-input node that is not `name`."""
    return node.input[1] if node.input[0] == name else node.input[0]


def _match_rms_norm(reduce_mean, index):
    """(the seven nodes, the fused node's inputs and attributes) of the RMSNorm around `reduce_mean`, or None."""
    attrs = _attrs(reduce_mean)
    if list(attrs.get("axes", [])) != [-1] or attrs.get("keepdims", 1) != 1:
        return None
    square = index.made_by(reduce_mean.input[0], "Mul")
    if square is None or square.input[0] != square.input[1] or len(index.consumers[square.output[0]]) != 1:
        return None
    x = square.input[0]
    add = index.only_consumer(reduce_mean, "Add")
    eps = add and index.scalar(_other(add, reduce_mean.output[0]))
    sqrt = add and index.only_consumer(add, "Sqrt")
    div = sqrt and index.only_consumer(sqrt, "Div")
    if eps is None or div is None or div.input[1] != sqrt.output[0] or index.scalar(div.input[0]) != 1.0:
        return None
    scale = index.only_consumer(div, "Mul")
    if scale is None or sorted(scale.input) != sorted([x, div.output[0]]):
        return None
    weigh = index.only_consumer(scale, "Mul")
    weight = weigh and _other(weigh, scale.output[0])
    cast = weight and index.made_by(weight, "Cast")
    if weight is None or (weight not in index.constants and not (cast and cast.input[0] in index.constants)):
        return None
    return ((square, reduce_mean, add, sqrt, div, scale, weigh),
            (RMS_NORM_OP, "", [x, weight], {"axis": -1, "epsilon": float(np.float32(eps)), "stash_type": 1}))


def _rank(name, index):
    """The rank of `name` when a Transpose made it (its perm's length), else None."""
    transpose = index.made_by(name, "Transpose")
    return len(_attrs(transpose)["perm"]) if transpose is not None else None


def _slice_of_last_axis(node, index):
    """(data, start, end) of a Slice along the last axis (−1, or rank − 1 of a Transpose's output) with step 1, or
    None."""
    if node is None or node.op_type != "Slice" or len(node.input) < 4:
        return None
    starts, ends, axes = (index.ints(name) for name in node.input[1:4])
    steps = index.ints(node.input[4]) if len(node.input) > 4 and node.input[4] else [1]
    if None in (starts, ends, axes, steps) or len(starts) != 1 or steps != [1]:
        return None
    rank = _rank(node.input[0], index)
    if axes != [-1] and (rank is None or axes != [rank - 1]):
        return None
    return node.input[0], starts[0], ends[0]


def _rotary_table(name, index):
    """(table, positions) when `name` is Unsqueeze(Concat(g, g), 1) of g = Gather(table constant, positions)."""
    unsqueeze = index.made_by(name, "Unsqueeze")
    concat = unsqueeze and index.ints(unsqueeze.input[1]) == [1] and index.made_by(unsqueeze.input[0], "Concat")
    if not concat or _attrs(concat).get("axis") != -1 or len(concat.input) != 2 or concat.input[0] != concat.input[1]:
        return None
    gather = index.made_by(concat.input[0], "Gather")
    if gather is None or _attrs(gather).get("axis", 0) != 0 or gather.input[0] not in index.constants:
        return None
    return gather.input[0], gather.input[1]


def _match_rotary(neg, index):
    """(the seven nodes, the fused node's inputs and attributes) of x·cos + rotate_half(x)·sin around the Neg of
    rotate_half, or None."""
    high = _slice_of_last_axis(index.made_by(neg.input[0], "Slice"), index)
    concat = index.only_consumer(neg, "Concat")
    if high is None or concat is None or _attrs(concat).get("axis") != -1 or len(concat.input) != 2:
        return None
    x, half, _ = high
    low = _slice_of_last_axis(index.made_by(concat.input[1], "Slice"), index)
    if concat.input[0] != neg.output[0] or low != (x, 0, half) or high[2] < 2 * half:
        return None
    times_sin = index.only_consumer(concat, "Mul")
    add = times_sin and index.only_consumer(times_sin, "Add")
    times_cos = add and index.made_by(_other(add, times_sin.output[0]), "Mul")
    if times_cos is None or x not in times_cos.input:
        return None
    cos = _rotary_table(_other(times_cos, x), index)
    sin = _rotary_table(_other(times_sin, concat.output[0]), index)
    if cos is None or sin is None or cos[1] != sin[1]:
        return None
    nodes = (index.producer[neg.input[0]], index.producer[concat.input[1]], neg, concat, times_sin, times_cos, add)
    return nodes, (ROTARY_OP, CONTRIB_DOMAIN, [x, cos[1], cos[0], sin[0]], {"interleaved": 0})


def _rewrite(model, anchor_op, match, expected, what):
    """Replaces each match around an `anchor_op` node by its fused node (placed where the match's last node was),
    then drops the nodes nothing reads any more; ConversionError unless exactly `expected` matched."""
    graph = model.graph
    index = _Index(graph)
    replaced, removed = {}, set()
    for node in graph.node:
        found = match(node, index) if node.op_type == anchor_op else None
        if found is None:
            continue
        nodes, (op_type, domain, inputs, attrs) = found
        last = nodes[-1]
        replaced[id(last)] = helper.make_node(op_type, inputs, [last.output[0]], name=f"{last.name}/{op_type}",
                                              domain=domain or None, **attrs)
        removed.update(id(n) for n in nodes)
    if len(replaced) != expected:
        raise ConversionError(f"found {len(replaced)} {what} subgraphs to fuse, expected {expected}")
    kept = [replaced.get(id(node), node) for node in graph.node if id(node) not in removed or id(node) in replaced]
    while True:
        used = {name for node in kept for name in node.input} | {out.name for out in graph.output}
        alive = [node for node in kept if any(out in used for out in node.output)]
        if len(alive) == len(kept):
            break
        kept = alive
    del graph.node[:]
    graph.node.extend(kept)
    contrib = any(node.domain == CONTRIB_DOMAIN for node in kept)
    if contrib and all(o.domain != CONTRIB_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(CONTRIB_DOMAIN, 1))
    return len(replaced)


def fuse_rms_norms(model, expected):
    """Every RMSNorm of `model` (in place) → SimplifiedLayerNormalization; ConversionError unless exactly
    `expected` were found (a reference module whose norm exports otherwise must not pass unnoticed)."""
    return _rewrite(model, "ReduceMean", _match_rms_norm, expected, "RMSNorm")


def fuse_rotary_embeddings(model, expected):
    """Every rotary embedding of `model` (in place) → RotaryEmbedding; ConversionError unless exactly `expected`
    were found."""
    return _rewrite(model, "Neg", _match_rotary, expected, "rotary embedding")
