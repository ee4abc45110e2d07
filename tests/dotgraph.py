"""Reading the DOT text `viz.to_dot` writes, for the engine's graph tests and the trainer's `--graph` tests."""
import re


def parse(dot):
    """{node id: (shape, label lines)} and the list of edges of a DOT text from to_dot."""
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes = {m[0]: (m[1], m[2].split("\\n"))
             for m in re.findall(r'^\s*(\w+) \[shape=(\w+), label="((?:[^"\\]|\\.)*)"', dot, re.M)}
    edges = re.findall(r'^\s*(\w+) -> (\w+)(?: \[label="[^"]*"\])?;', dot, re.M)
    return nodes, edges


def op_named(nodes, name):
    """Op nodes whose first label line is `name` (an input scale may follow on a second line)."""
    return [k for k, (shape, label) in nodes.items() if shape == "ellipse" and label[0] == name]
