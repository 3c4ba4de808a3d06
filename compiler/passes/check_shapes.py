"""Shape inference and checks: convolution and pooling output shapes, one-to-one sizes,
fan-in limits of fixed_fan_in, and file-defined weight matrices."""

from __future__ import annotations

from dataclasses import dataclass

from snnc.diagnostics import Diagnostics
from snnc.ir.network import Network


@dataclass
class CheckShapes:
    name: str = "check-shapes"
    description: str = "shape inference: conv/pool output shapes, one_to_one sizes, fan-in"
    requires = ()

    def run(self, net: Network, diag: Diagnostics) -> Network:
        for projection in net.projections():
            pre, post = net.node(projection.pre), net.node(projection.post)
            c = projection.connectivity
            where = projection.span
            if c.kind in ("conv2d", "sumpool2d"):
                if len(pre.shape) != 3:
                    diag.error("E210", where, f"{c.kind} needs a [channels, height, width] "
                               f"population, but '{pre.name}' has shape {list(pre.shape)}",
                               hint=f"declare '{pre.name}' with three dimensions")
                    continue
                if c.kernel > pre.shape[1] + 2 * c.padding or c.kernel > pre.shape[2] + 2 * c.padding:
                    diag.error("E210", where, f"kernel {c.kernel} is larger than the padded input "
                               f"{list(pre.shape[1:])} of '{pre.name}'")
                    continue
                expected = c.output_shape(pre.shape)
                if tuple(post.shape) != expected:
                    diag.error("E210", where, f"{c.describe()} of '{pre.name}' "
                               f"{list(pre.shape)} gives shape {list(expected)}, but '{post.name}' "
                               f"has shape {list(post.shape)}",
                               hint=f"declare '{post.name}' as [{', '.join(map(str, expected))}]")
            elif c.kind == "one_to_one" and pre.size != post.size:
                diag.error("E210", where, f"one_to_one needs equal sizes, but '{pre.name}' has "
                           f"{pre.size} neurons and '{post.name}' has {post.size}")
            elif c.kind == "fixed_fan_in" and c.k > pre.size:
                diag.error("E210", where, f"fixed_fan_in(k = {c.k}) needs at least {c.k} pre "
                           f"neurons, but '{pre.name}' has {pre.size}")
            elif c.kind == "file":
                self.check_file(projection, pre, post, diag)
        return net

    @staticmethod
    def check_file(projection, pre, post, diag: Diagnostics) -> None:
        import numpy as np  # here: only weights read from a file need it
        source = projection.connectivity.file
        where = projection.spans.get("connectivity", projection.span)
        try:
            matrix = source.load()
        except (OSError, ValueError, KeyError) as error:
            diag.error("E601", where, f"cannot read weights from '{source.path}': "
                       f"{error}", hint="save a [post, pre] matrix with numpy.save")
            return
        if matrix.shape != (post.size, pre.size) or not np.issubdtype(matrix.dtype, np.number):
            diag.error("E210", where, f"'{source.path}' holds an array of shape "
                       f"{list(matrix.shape)}; expected a numeric [{post.size}, {pre.size}] "
                       f"matrix [post, pre]",
                       hint="transpose it" if matrix.shape == (pre.size, post.size) else None)
        elif not np.all(np.isfinite(matrix)):
            diag.error("E209", where, f"'{source.path}' contains NaN or infinite weights")
