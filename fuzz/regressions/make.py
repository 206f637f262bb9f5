"""Hand-made reproducers for the onnx_import fuzz target: a minimal ONNX protobuf writer (no
onnx package needed) and the files it writes."""
import struct

def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def key(field, wt):
    return varint((field << 3) | wt)

def f_varint(field, v):
    return key(field, 0) + varint(v)

def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b

def f_float(field, v):
    return key(field, 5) + struct.pack('<f', v)

def attr_int(name, v):
    return f_bytes(1, name) + f_varint(20, 2) + f_varint(3, v)

def attr_ints(name, vs):
    return f_bytes(1, name) + f_varint(20, 7) + b''.join(f_varint(8, v) for v in vs)

def attr_tensor(name, t):
    return f_bytes(1, name) + f_varint(20, 4) + f_bytes(5, t)

def attr_graph(name, g):
    return f_bytes(1, name) + f_varint(20, 5) + f_bytes(6, g)

def tensor(name, dtype, dims, int64s=None, raw=None, floats=None):
    b = b''.join(f_varint(1, d) for d in dims) + f_varint(2, dtype)
    if floats:
        b += b''.join(f_float(4, x) for x in floats)
    if int64s is not None:
        b += b''.join(f_varint(7, v) for v in int64s)
    b += f_bytes(8, name)
    if raw is not None:
        b += f_bytes(9, raw)
    return b

def node(op, inputs, outputs, name='', attrs=(), domain=''):
    b = b''.join(f_bytes(1, i) for i in inputs) + b''.join(f_bytes(2, o) for o in outputs)
    if name:
        b += f_bytes(3, name)
    b += f_bytes(4, op)
    b += b''.join(f_bytes(5, a) for a in attrs)
    if domain:
        b += f_bytes(7, domain)
    return b

def value_info(name, elem, dims):
    shape = b''.join(f_bytes(1, f_varint(1, d) if isinstance(d, int) else f_bytes(2, d)) for d in dims)
    tt = f_varint(1, elem) + f_bytes(2, shape)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tt))

def graph(nodes, inputs, outputs, inits=(), name='g', value_infos=()):
    b = b''.join(f_bytes(1, n) for n in nodes) + f_bytes(2, name)
    b += b''.join(f_bytes(5, t) for t in inits)
    b += b''.join(f_bytes(11, i) for i in inputs)
    b += b''.join(f_bytes(12, o) for o in outputs)
    b += b''.join(f_bytes(13, v) for v in value_infos)
    return b

def model(g, opset=17, functions=()):
    b = f_varint(1, 8) + f_bytes(2, 'fuzz-repro') + f_bytes(7, g)
    b += f_bytes(8, f_varint(2, opset))
    b += b''.join(f_bytes(25, f) for f in functions)
    return b


# ---------------------------------------------------------------------------------------------
# The reproducers. Run `python3 fuzz/regressions/make.py` to rewrite them into this folder.
import os
import sys

OUT = os.path.dirname(os.path.abspath(__file__))
BIG = 1 << 40
MAX = (1 << 63) - 1
MIN = -(1 << 63)


def i64const(name, dims, vals):
    return node('Constant', [], [name], name + '_c',
                [attr_tensor('value', tensor('', 7, dims, int64s=vals))])


def write(fname, nodes, inputs=None, functions=()):
    """x[1,3,8,8] → Relu → y, plus the nodes under test (inference visits every node)."""
    inputs = inputs or [value_info('x', 1, [1, 3, 8, 8])]
    nodes = [node('Relu', ['x'], ['y'], 'relu')] + nodes
    g = graph(nodes, inputs, [value_info('y', 1, [1, 3, 8, 8])])
    with open(os.path.join(OUT, fname), 'wb') as f:
        f.write(model(g, functions=functions))


def main():
    # Weight-only chain: y0 = w1 + w2, y_{k+1} = y_k + y_k. Each node's weight-root list is its
    # inputs' lists concatenated, so it doubles per node (2^41 entries at the end).
    N = 40
    nodes = [node('Add', ['w1', 'w2'], ['r0'], 'a0')]
    for k in range(N):
        nodes.append(node('Add', [f'r{k}', f'r{k}'], [f'r{k+1}'], f'a{k+1}'))
    nodes.append(node('Add', ['x', f'r{N}'], ['out'], 'out_add'))
    g = graph(nodes,
              [value_info('x', 1, [1, 4]), value_info('w1', 1, [4]), value_info('w2', 1, [4])],
              [value_info('out', 1, [1, 4])])
    with open(os.path.join(OUT, 'weight-roots-exponential.onnx'), 'wb') as f:
        f.write(model(g))

    write('transpose-dup-perm.onnx', [i64const('c', [2, 3], list(range(6))),
          node('Transpose', ['c'], ['t'], 'tr', [attr_ints('perm', [0, 0])])])
    write('constantofshape-overflow.onnx', [i64const('s', [3], [BIG, BIG, 0]),
          node('ConstantOfShape', ['s'], ['z'], 'cos')])
    write('reshape-fold-overflow.onnx', [i64const('c', [1], [5]), i64const('s', [2], [BIG, BIG]),
          node('Reshape', ['c', 's'], ['r'], 'rs')])
    write('expand-fold-overflow.onnx', [i64const('c', [1], [5]), i64const('s', [2], [BIG, BIG]),
          node('Expand', ['c', 's'], ['e'], 'ex')])
    write('pad-overflow.onnx', [i64const('p', [8], [MAX] * 8),
          node('Pad', ['x', 'p'], ['p_out'], 'pad')])
    write('conv-window-overflow.onnx', [
          node('Conv', ['x', 'w'], ['c_out'], 'conv',
               [attr_ints('kernel_shape', [MAX, MAX]), attr_ints('dilations', [MAX, MAX])])],
          inputs=[value_info('x', 1, [1, 3, 8, 8]), value_info('w', 1, [4, 3, 3, 3])])
    write('convtranspose-overflow.onnx', [
          node('ConvTranspose', ['x', 'w'], ['c_out'], 'convt', [attr_ints('strides', [MAX, MAX])])],
          inputs=[value_info('x', 1, [1, 3, 8, 8]), value_info('w', 1, [3, 4, 3, 3])])
    write('depthtospace-overflow.onnx', [
          node('DepthToSpace', ['x'], ['d'], 'd2s', [attr_int('blocksize', 1 << 33)])])
    write('slice-step-overflow.onnx', [i64const('st', [1], [0]), i64const('en', [1], [2]),
          i64const('ax', [1], [1]), i64const('sp', [1], [MAX]),
          node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['sl'], 'slice')])
    write('slice-step-min.onnx', [i64const('st', [1], [2]), i64const('en', [1], [0]),
          i64const('ax', [1], [1]), i64const('sp', [1], [MIN]),
          node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['sl'], 'slice')])
    write('concat-overflow.onnx', [i64const('r', [2], [1, BIG]), node('Tile', ['a', 'r'], ['t'], 'tile'),
          node('Concat', ['t', 't'], ['cc'], 'cat', [attr_int('axis', 1)])],
          inputs=[value_info('x', 1, [1, 3, 8, 8]), value_info('a', 1, [1, 1 << 30])])
    # Model-local function F whose body calls F four times: inlined to depth 16 = 4^16 nodes.
    body = [node('F', ['a'], ['b'], 'c1', domain='local'), node('F', ['b'], ['c'], 'c2', domain='local'),
            node('F', ['c'], ['d'], 'c3', domain='local'), node('F', ['d'], ['e'], 'c4', domain='local')]
    func = (f_bytes(1, 'F') + f_bytes(4, 'a') + f_bytes(5, 'e')
            + b''.join(f_bytes(7, n) for n in body) + f_bytes(10, 'local'))
    write('function-inline-exponential.onnx', [node('F', ['y'], ['z'], 'call', domain='local')],
          functions=[func])

    # Saturated MAC counts (u64::MAX) on two nodes of one collapsed chain: render's per-box sum
    # overflows. Tile saturates the dims, B's first dim is symbolic so nothing rejects them.
    nodes = [i64const('reps', [2], [1 << 62, 1 << 62]),
             node('Tile', ['x', 'reps'], ['t'], 'tile'),
             node('MatMul', ['t', 'B'], ['m1'], 'mm1'),
             node('MatMul', ['m1', 'C'], ['m2'], 'mm2')]
    g = graph(nodes,
              [value_info('x', 1, [1, 1]), value_info('B', 1, ['k', 1]), value_info('C', 1, [1, 1])],
              [value_info('m2', 1, ['a', 'b'])])
    with open(os.path.join(OUT, 'render-macs-overflow.onnx'), 'wb') as f:
        f.write(model(g))


if __name__ == '__main__':
    main()
