"""Generate the operator goldens with real MXNet 1.9.1.

Run from the repository root:  ~/.mxnet-ref/bin/python tests/golden/gen_ops.py [case ids]
Writes tests/golden/ops/index.json and tests/golden/ops/values.npz with the case machinery of
ops_cases_common.py (where the case format is described); tests/test_ops_golden.py replays every
case through modjax's Executor. With case ids it only runs those (debugging). There are no
float64 cases: jax runs without x64 here.

MXNet 1.9.1 bugs that shaped the cases (see the comments at each): a variable feeding many
reductions gets a mis-scaled gradient; a label's gradient through Reshape is left uninitialised;
NHWC convolution, 'same' pooling and full-mode avg pooling with all-padding windows and
count_include_pad=False fail outright on this (oneDNN) build.
"""
import numpy as np

from ops_cases_common import A, I, N, U, Goldens  # (the script's folder is on sys.path)

GOLDENS = Goldens("ops")
case, nd_case = GOLDENS.case, GOLDENS.nd_case


# ==============================================================================================
# nn: FullyConnected, BatchNorm, Convolution, Pooling, Activation, Dropout, Embedding, LRN
# ==============================================================================================
case("fc_flatten", "mx.sym.FullyConnected(V('data'), num_hidden=5, name='fc')", {"data": N(2, 3, 4)})
case("fc_noflatten", "mx.sym.FullyConnected(V('data'), num_hidden=5, flatten=False, name='fc')",
     {"data": N(2, 3, 4)})
case("fc_nobias_auto", "mx.sym.FullyConnected(V('data'), num_hidden=3, no_bias=True)", {"data": N(4, 6)})
case("bn_train_fixgamma", "mx.sym.BatchNorm(V('data'), name='bn')", {"data": N(4, 3, 2, 2)})
case("bn_train", "mx.sym.BatchNorm(V('data'), fix_gamma=False, momentum=0.8, eps=1e-5, name='bn')",
     {"data": N(4, 3, 2, 2)})
case("bn_infer", "mx.sym.BatchNorm(V('data'), fix_gamma=False, name='bn')", {"data": N(4, 3, 2)},
     train=False, backward=False)
case("bn_global", "mx.sym.BatchNorm(V('data'), fix_gamma=False, use_global_stats=True, name='bn')",
     {"data": N(4, 3, 2)})
case("bn_meanvar_axis", "mx.sym.BatchNorm(V('data'), axis=-1, output_mean_var=True, fix_gamma=False,"
     " name='bn')", {"data": N(3, 2, 4)})
case("conv2d", "mx.sym.Convolution(V('data'), kernel=(3, 3), num_filter=4, name='conv')",
     {"data": N(2, 3, 5, 5)})
case("conv2d_grouped", "mx.sym.Convolution(V('data'), kernel=(3, 2), stride=(2, 1), pad=(1, 0), "
     "dilate=(1, 2), num_group=2, num_filter=4, name='conv')", {"data": N(2, 4, 6, 7)})
case("conv1d_nobias", "mx.sym.Convolution(V('data'), kernel=(3,), stride=(2,), pad=(1,), num_filter=3,"
     " no_bias=True)", {"data": N(2, 2, 9)})
case("conv3d", "mx.sym.Convolution(V('data'), kernel=(2, 2, 2), num_filter=2, pad=(1, 0, 1), "
     "name='c3')", {"data": N(1, 2, 3, 4, 3)})
case("conv_depthwise", "mx.sym.Convolution(V('data'), kernel=(3, 3), num_filter=6, num_group=3, "
     "pad=(1, 1), workspace=512, name='dw')", {"data": N(2, 3, 4, 4)})
# pooling: stride defaults to 1; ties (integer data) test the first-max gradient
case("pool_max_default", "mx.sym.Pooling(V('data'), kernel=(2, 2), name='pool')",
     {"data": I(0, 3, 2, 2, 4, 4)})
case("pool_max_s2p1", "mx.sym.Pooling(V('data'), kernel=(3, 3), stride=(2, 2), pad=(1, 1), name='pool')",
     {"data": I(-2, 2, 2, 2, 5, 5)})
case("pool_max_full", "mx.sym.Pooling(V('data'), kernel=(3, 3), stride=(2, 2), "
     "pooling_convention='full', name='pool')", {"data": I(0, 4, 1, 2, 6, 6)})
case("pool_max_full_allpad", "mx.sym.Pooling(V('data'), kernel=(2,), stride=(2,), pad=(1,), "
     "pooling_convention='full', name='pool')", {"data": N(2, 2, 5)})
case("pool_avg_pad", "mx.sym.Pooling(V('data'), kernel=(3, 3), stride=(2, 2), pad=(1, 1), "
     "pool_type='avg', name='pool')", {"data": N(2, 2, 5, 5)})
case("pool_avg_nopadcount", "mx.sym.Pooling(V('data'), kernel=(3, 3), stride=(2, 2), pad=(1, 1), "
     "pool_type='avg', count_include_pad=False, name='pool')", {"data": N(2, 2, 5, 5)})
case("pool_avg_full", "mx.sym.Pooling(V('data'), kernel=(3, 3), stride=(2, 2), pool_type='avg', "
     "pooling_convention='full', name='pool')", {"data": N(1, 2, 6, 6)})
case("pool_avg_full_pad", "mx.sym.Pooling(V('data'), kernel=(2, 2), stride=(2, 2), pad=(1, 1), "
     "pool_type='avg', pooling_convention='full', name='pool')", {"data": N(1, 1, 5, 5)})
case("pool_avg_full_nopadcount", "mx.sym.Pooling(V('data'), kernel=(3,), stride=(2,), pad=(1,), "
     "pool_type='avg', pooling_convention='full', count_include_pad=False, name='pool')",
     {"data": N(1, 2, 6)})
case("pool_sum", "mx.sym.Pooling(V('data'), kernel=(2, 3), stride=(1, 2), pool_type='sum', name='pool')",
     {"data": N(2, 2, 4, 5)})
case("pool_lp2", "mx.sym.Pooling(V('data'), kernel=(2, 2), pool_type='lp', p_value=2, name='pool')",
     {"data": N(1, 2, 3, 3)})
case("pool_lp1", "mx.sym.Pooling(V('data'), kernel=(2, 2), stride=(2, 2), pool_type='lp', p_value=1,"
     " name='pool')", {"data": N(1, 2, 4, 4)})
case("pool_lp3", "mx.sym.Pooling(V('data'), kernel=(2, 2), pool_type='lp', p_value=3, name='pool')",
     {"data": N(1, 1, 3, 3)})
case("pool_global_max", "mx.sym.Pooling(V('data'), kernel=(1, 1), global_pool=True, name='pool')",
     {"data": I(0, 3, 2, 3, 3, 4)})
case("pool_global_avg", "mx.sym.Pooling(V('data'), global_pool=True, pool_type='avg', name='pool')",
     {"data": N(2, 3, 3, 4)})
case("pool_1d_max", "mx.sym.Pooling(V('data'), kernel=(3,), stride=(2,), name='pool')",
     {"data": I(0, 3, 2, 2, 8)})
case("pool_3d_avg", "mx.sym.Pooling(V('data'), kernel=(2, 2, 2), stride=(1, 2, 2), pool_type='avg', "
     "name='pool')", {"data": N(1, 2, 3, 4, 4)})
case("pool_nhwc", "mx.sym.Group([mx.sym.Pooling(V('a'), kernel=(2, 2), stride=(2, 1), layout='NHWC', "
     "name='pmax'), mx.sym.Pooling(V('b'), kernel=(3, 3), pad=(1, 1), pool_type='avg', layout='NHWC', "
     "name='pavg')])", {"a": I(0, 3, 2, 4, 4, 3), "b": N(2, 4, 4, 3)})
case("pool_3d_max_auto", "mx.sym.Pooling(V('data'), kernel=(2, 2, 2))", {"data": N(1, 1, 3, 3, 3)})
case("activations", "mx.sym.Group([mx.sym.Activation(V('x%d' % i), act_type=t, name=t) for i, t in "
     "enumerate(['relu', 'sigmoid', 'tanh', 'softrelu', 'softsign'])])",
     {"x0": A([[-1.5, 0.0, 0.0, 2.0], [3.0, -0.0, 1e-8, -2.0]]), "x1": N(2, 4, scale=3),
      "x2": N(2, 4, scale=2), "x3": A([[-30.0, -2.0, 0.0, 19.9], [20.0, 20.5, 25.0, 3.0]]),
      "x4": N(2, 4, scale=2)})
case("activation_auto", "mx.sym.Activation(V('data'), act_type='relu')", {"data": N(3, 3)})
case("dropout_introspect", "mx.sym.Dropout(V('data'), p=0.3, name='drop')", {"data": N(4, 5)},
     values=False)
case("dropout_axes_introspect", "mx.sym.Dropout(V('data'), p=0.5, axes=(1,), mode='always')",
     {"data": N(4, 5)}, values=False)
case("dropout_infer", "mx.sym.Dropout(V('data'), p=0.5, name='drop')", {"data": N(4, 5)}, train=False,
     backward=False)
case("dropout_p0_train", "mx.sym.Dropout(V('data'), p=0.0, name='drop')", {"data": N(4, 5)})
case("embedding", "mx.sym.Embedding(V('data'), input_dim=4, output_dim=3, name='embed')",
     {"data": A([[0.0, 1.7, -0.5, 5.0], [3.0, 0.0, 2.2, 3.9]])}, grad_req={"data": "null"})
case("embedding_f16_auto", "mx.sym.Embedding(V('data'), input_dim=5, output_dim=2, dtype='float16')",
     {"data": A([1.0, 4.0, 1.0])}, grad_req={"data": "null"})
case("lrn3", "mx.sym.LRN(V('data'), nsize=3, name='lrn')", {"data": N(2, 4, 3, 3)})
case("lrn5", "mx.sym.LRN(V('data'), nsize=5, alpha=0.01, beta=0.5, knorm=1.0)", {"data": N(1, 6, 2, 2)})

# ==============================================================================================
# loss heads and the softmax family
# ==============================================================================================
case("linreg", "mx.sym.LinearRegressionOutput(V('data'), name='lro')", {"data": N(4, 3)},
     head_grad=False)
case("linreg_n1_scale", "mx.sym.LinearRegressionOutput(V('data'), grad_scale=2.0)", {"data": N(5, 1)},
     head_grad=False)
case("linreg_label_given", "mx.sym.LinearRegressionOutput(V('data'), V('label'), name='lro')",
     {"data": N(3, 2, 2), "label": N(3, 4)}, head_grad=False)
case("maereg", "mx.sym.MAERegressionOutput(V('data'), V('label'), grad_scale=0.5, name='mae')",
     {"data": A([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]), "label": A([[1.0, 2.5, 2.0], [0.5, 0.0, 3.0]])},
     head_grad=False)
case("logreg", "mx.sym.LogisticRegressionOutput(V('data'), name='log')", {"data": N(4, 2)},
     head_grad=False)
case("makeloss_null", "mx.sym.MakeLoss(V('data'), grad_scale=0.5)", {"data": N(3, 4)}, head_grad=False)
case("makeloss_batch", "mx.sym.MakeLoss(V('data'), normalization='batch', name='ml')", {"data": N(3, 4)},
     head_grad=False)
case("makeloss_valid", "mx.sym.MakeLoss(V('data'), normalization='valid', valid_thresh=0.3, "
     "grad_scale=2.0, name='ml')", {"data": N(3, 4)}, head_grad=False)
case("make_loss", "mx.sym.make_loss(V('data') * 2)", {"data": N(3, 4)}, head_grad=False)
case("blockgrad_head", "mx.sym.BlockGrad(V('data') * 3, name='bg')", {"data": N(3, 4)}, head_grad=False)
case("blockgrad_inner", "mx.sym.stop_gradient(V('a')) * V('b') + mx.sym.BlockGrad(V('b'))",
     {"a": N(3, 4), "b": N(3, 4)})
case("softmax_family", "mx.sym.Group([mx.sym.softmax(V('a')), mx.sym.log_softmax(V('b'), axis=0), "
     "mx.sym.softmin(V('c'), axis=1, temperature=2.0), mx.sym.softmax(V('d'), temperature=0.5, axis=1)])",
     {"a": N(3, 5), "b": N(3, 5), "c": N(2, 4, 3), "d": N(2, 3, 2)})
case("softmax_length", "mx.sym.softmax(V('data'), V('length'), use_length=True, name='sm')",
     {"data": N(3, 5), "length": A([2, 5, 1], np.int32)})
case("softmax_dtype", "mx.sym.softmax(V('data'), dtype='float16', name='sm')", {"data": N(2, 4)},
     tol=(2e-3, 1e-3))
case("softmaxoutput_basic", "mx.sym.SoftmaxOutput(V('data'), name='softmax')",
     {"data": N(4, 5), "softmax_label": A([0, 4, 2.7, -1])}, head_grad=False)
case("softmaxoutput_norm", "mx.sym.Group([mx.sym.SoftmaxOutput(V('a'), normalization='batch', "
     "grad_scale=2, name='s1'), mx.sym.SoftmaxOutput(V('b'), normalization='valid', use_ignore=True, "
     "ignore_label=1, name='s2'), mx.sym.SoftmaxOutput(V('c'), smooth_alpha=0.1, name='s3')])",
     {"a": N(3, 4), "s1_label": A([0, 1, 3]), "b": N(3, 4), "s2_label": A([1, 1, 2]),
      "c": N(3, 4), "s3_label": A([2, 0, 3])}, head_grad=False)
case("softmaxoutput_multi", "mx.sym.SoftmaxOutput(V('data'), multi_output=True, normalization='null',"
     " name='sm')", {"data": N(2, 3, 2, 2), "sm_label": I(0, 3, 2, 4)}, head_grad=False)
case("softmaxoutput_preserve", "mx.sym.SoftmaxOutput(V('data'), preserve_shape=True, "
     "normalization='batch', name='sm')", {"data": N(2, 3, 4), "sm_label": I(0, 4, 2, 3)},
     head_grad=False)

# ==============================================================================================
# elementwise: same-shape binary, scalar, broadcast, unary, add_n, Python helpers
# ==============================================================================================
_ARITH = ["elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_mod", "_power", "_hypot"]
case("binary_arith", "mx.sym.Group([OP(n)(V('l%d' % i), V('r%d' % i), name=n) for i, n "
     "in enumerate(LIST)])" .replace("LIST", repr(_ARITH)),
     {**{"l%d" % i: N(3, 4) for i in range(len(_ARITH))}, **{"r%d" % i: N(3, 4) for i in range(len(_ARITH))},
      "l4": A([[-7, 7, -7, 7], [5.5, -5.5, 0.5, 3], [1, 2, -3, 4]]),
      "r4": A([[3, -3, -3, 3], [2, 2, 0.2, 1.5], [0.7, -0.9, 1.1, 2.5]]),
      "l5": U(0.5, 2.0, 3, 4), "r5": N(3, 4)})
case("binary_minmax_ties", "mx.sym.Group([OP('_maximum')(V('a'), V('b'), name='mx'), "
     "OP('_minimum')(V('c'), V('d'), name='mn')])",
     {"a": I(0, 3, 3, 4), "b": I(0, 3, 3, 4), "c": I(0, 3, 3, 4), "d": I(0, 3, 3, 4)})
_CMP = ["_equal", "_not_equal", "_greater", "_greater_equal", "_lesser", "_lesser_equal",
        "_logical_and", "_logical_or", "_logical_xor"]
case("binary_compare", "mx.sym.Group([OP(n)(V('a'), V('b'), name=n) for n in LIST])" .replace("LIST", repr(_CMP)),
     {"a": I(-1, 2, 3, 4), "b": I(-1, 2, 3, 4)})
_ALIASES = ["_plus", "_Plus", "_add", "_minus", "_sub", "_Minus", "_mul", "_Mul", "_div", "_Div", "_Mod",
            "_Power", "_Maximum", "_Minimum", "_Hypot", "_Equal", "_Not_Equal", "_Greater",
            "_Greater_Equal", "_Lesser", "_Lesser_Equal", "_Logical_And", "_Logical_Or", "_Logical_Xor"]
case("binary_aliases_auto", "mx.sym.Group([OP(n)(V('a'), V('b')) for n in LIST])"
     .replace("LIST", repr(_ALIASES)), {"a": U(0.5, 2, 2, 3), "b": U(0.5, 2, 2, 3)})
_SCALARS = ["_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar",
            "_rdiv_scalar", "_mod_scalar", "_rmod_scalar", "_power_scalar", "_rpower_scalar",
            "_maximum_scalar", "_minimum_scalar", "_hypot_scalar", "_equal_scalar", "_not_equal_scalar",
            "_greater_scalar", "_greater_equal_scalar", "_lesser_scalar", "_lesser_equal_scalar",
            "_logical_and_scalar", "_logical_or_scalar", "_logical_xor_scalar"]
case("scalar_ops", "mx.sym.Group([OP(n)(V('x'), scalar=2.5) for n in LIST])" .replace("LIST", repr(_SCALARS)),
     {"x": A([[0.5, 2.5, -1.0, 3.0], [2.5, 1.25, -3.5, 4.0]])})
case("scalar_ops_neg", "mx.sym.Group([OP(n)(V('x'), scalar=-1.5) for n in LIST])"
     .replace("LIST", repr(_SCALARS[:8] + _SCALARS[10:13])), {"x": A([[0.5, 2.5, -1.5, 3.0], [-2.0, 1.25, -3.5, 4.0]])})
case("scalar_ops_default_auto", "mx.sym.Group([OP(n)(V('x')) for n in LIST])" .replace("LIST", repr(
    ["_PlusScalar", "_MinusScalar", "_RMinusScalar", "_MulScalar", "_DivScalar", "_RDivScalar",
     "_ModScalar", "_RModScalar", "_PowerScalar", "_RPowerScalar", "_MaximumScalar", "_MinimumScalar",
     "_HypotScalar", "_EqualScalar", "_NotEqualScalar", "_GreaterScalar", "_GreaterEqualScalar",
     "_LesserScalar", "_LesserEqualScalar", "_LogicalAndScalar", "_LogicalOrScalar",
     "_LogicalXorScalar"])), {"x": A([[0.5, 1.0, 2.0], [1.5, -1.0, 3.0]])})
case("scalar_ops_int32", "mx.sym.Group([OP(n)(V('x'), scalar=s) for s in (2.5, -1.5) "
     "for n in LIST])" .replace("LIST", repr(_SCALARS)), {"x": A([[-7, 7, 3], [4, -2, 9]], np.int32)}, backward=False)
case("binary_int32", "mx.sym.Group([OP(n)(V('a'), V('b')) for n in ['elemwise_add', "
     "'elemwise_div', '_mod', '_maximum', '_greater', '_power', '_hypot']])",
     {"a": A([[-7, 7, -7, 7], [5, 3, 2, -2]], np.int32), "b": A([[2, -2, -2, 3], [2, 3, 5, 3]], np.int32)},
     backward=False)
case("symbol_operators", "mx.sym.Group([V('a') + V('b'), V('a') - 1, 1 - V('a'), V('a') * V('b'), "
     "2 * V('a'), V('a') / V('b'), 2 / V('b'), V('a') % 2, 3 % V('b'), V('b') ** 2, 2 ** V('a'), "
     "V('b') ** V('a'), -V('a'), abs(V('a')), V('a') == V('b'), V('a') > 1, 1 < V('a'), V('a') <= V('b'), "
     "V('a') != 0.5, V('a') >= V('b')])", {"a": U(0.5, 2, 2, 3), "b": U(0.5, 2, 2, 3)})
_BCAST = ["broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div", "broadcast_mod",
          "broadcast_power", "broadcast_hypot", "broadcast_plus", "broadcast_minus"]
case("broadcast_arith", "mx.sym.Group([OP(n)(V('l%d' % i), V('r%d' % i), name=n) for i, n"
     " in enumerate(LIST)])" .replace("LIST", repr(_BCAST)),
     {**{"l%d" % i: N(2, 1, 3) for i in range(len(_BCAST))}, **{"r%d" % i: N(4, 1) for i in range(len(_BCAST))},
      "l5": U(0.5, 2, 2, 1, 3), "r4": U(0.5, 2, 4, 1)})
case("broadcast_minmax_cmp", "mx.sym.Group([OP(n)(V('a'), V('b'), name=n) for n in "
     "['broadcast_maximum', 'broadcast_minimum', 'broadcast_equal', 'broadcast_not_equal', "
     "'broadcast_greater', 'broadcast_greater_equal', 'broadcast_lesser', 'broadcast_lesser_equal', "
     "'broadcast_logical_and', 'broadcast_logical_or', 'broadcast_logical_xor']])",
     {"a": I(0, 3, 3, 1), "b": I(0, 3, 1, 4)})
case("broadcast_same_ndim", "mx.sym.broadcast_mul(V('a'), V('b'), name='bm')", {"a": N(2, 3, 1), "b": N(1, 3, 4)})
_UNARY = ["abs", "sign", "negative", "square", "sqrt", "rsqrt", "exp", "log", "relu", "sigmoid",
          "tanh", "softsign"]
case("unary_math", "mx.sym.Group([OP(n)(V('x%d' % i)) for i, n in enumerate(LIST)] + "
     "[mx.sym.clip(V('c'), a_min=-0.5, a_max=1.0)])" .replace("LIST", repr(_UNARY)),
     {**{"x%d" % i: N(3, 4) for i in range(len(_UNARY))}, "x0": A([[0, -1, 2, -0.5]] * 3),
      "x4": U(0.2, 3, 3, 4), "x5": U(0.2, 3, 3, 4), "x7": U(0.2, 3, 3, 4),
      "x8": A([[0, -1, 2, -0.5], [1, 0, 0, 3], [-2, 0.5, 0, 1]]),
      "c": A([[-0.5, 1.0, 0.3, -2.0], [2.0, -0.6, 0.99, 1.01], [0, 0, -0.5, 1]])})
case("helpers_auto", "mx.sym.Group([mx.sym.maximum(V('a'), V('b')), mx.sym.maximum(V('a'), 1), "
     "mx.sym.maximum(1, V('a')), mx.sym.minimum(V('a'), V('b')), mx.sym.minimum(0.5, V('b')), "
     "mx.sym.pow(V('a'), V('b')), mx.sym.pow(V('a'), 2), mx.sym.pow(2, V('a')), mx.sym.power(V('a'), 3),"
     " mx.sym.hypot(V('a'), V('b')), mx.sym.hypot(V('a'), 2)])",
     {"a": A([[0.5, 1.0, 2.0], [1.0, 1.5, 0.7]]), "b": A([[0.5, 1.2, 1.0], [1.0, 0.5, 0.7]])})
case("add_n", "mx.sym.Group([mx.sym.add_n(V('a'), V('b'), V('c'), name='s'), "
     "mx.sym.ElementWiseSum(V('a'), V('a')), mx.sym.add_n(V('c'))])",
     {"a": N(2, 3), "b": N(2, 3), "c": N(2, 3)})

# ==============================================================================================
# shape ops
# ==============================================================================================
case("flatten", "mx.sym.Group([mx.sym.Flatten(V('a')), mx.sym.flatten(V('b'), name='fl')])",
     {"a": N(2, 3, 2, 2), "b": N(3,)})
_RESHAPES = [(4, 0, 2), (6, 1, -1), (-2,), (-2, 1, 1), (-3, 4), (0, -3), (-4, 1, 2, -2), (2, -4, -1, 3, -2),
             (-1,), (4, -1)]
case("reshape_codes", "mx.sym.Group([mx.sym.Reshape(V('x%d' % i), shape=s) for i, s in "
     "enumerate(LIST)])" .replace("LIST", repr(_RESHAPES)), {"x%d" % i: N(2, 3, 4) for i in range(len(_RESHAPES))})
case("reshape_reverse", "mx.sym.Group([mx.sym.reshape(V('a'), shape=(-1, 0), reverse=True), "
     "mx.sym.reshape(V('b'), shape=(-1, 0))])", {"a": N(10, 5, 4), "b": N(10, 5, 4)})
case("reshape_legacy", "mx.sym.Group([mx.sym.Reshape(V('a'), target_shape=(0, 4)), "
     "mx.sym.Reshape(V('b'), target_shape=(5, 0), keep_highest=True)])", {"a": N(2, 3, 4), "b": N(2, 3, 4)})
case("reshape_backward_infer", "mx.sym.Reshape(V('a'), shape=(-1, 4)) + V('b')",
     {"a": N(2, 3, 4), "b": N(6, 4)})
case("concat", "mx.sym.Group([mx.sym.Concat(V('a'), V('b'), V('c'), name='cat'), "
     "mx.sym.concat(V('a'), V('d'), dim=0), mx.sym.Concat(V('e'), V('f'), dim=-1)])",
     {"a": N(2, 3), "b": N(2, 1), "c": N(2, 2), "d": N(1, 3), "e": N(2, 2, 1), "f": N(2, 2, 3)})
case("slice_channel", "mx.sym.Group(list(mx.sym.SliceChannel(V('a'), num_outputs=3, name='sc')) + "
     "list(mx.sym.split(V('b'), num_outputs=2, axis=-1, squeeze_axis=True)))",
     {"a": N(2, 6, 2), "b": N(3, 2)})
case("slice_channel_auto", "mx.sym.SliceChannel(V('a'), num_outputs=2, axis=0)", {"a": N(4, 3)})
case("axes_ops", "mx.sym.Group([mx.sym.expand_dims(V('a'), axis=1), mx.sym.expand_dims(V('a'), axis=-1),"
     " mx.sym.SwapAxis(V('b'), dim1=0, dim2=2), mx.sym.swapaxes(V('b'), dim1=1, dim2=-1), mx.sym.SwapAxis(V('a')),"
     " mx.sym.transpose(V('b')), mx.sym.transpose(V('b'), axes=(1, 0, 2))])",
     {"a": N(2, 3), "b": N(2, 3, 4)})
case("identity_cast", "mx.sym.Group([OP('_copy')(V('a')), mx.sym.identity(V('a'), name='id'), "
     "mx.sym.Cast(V('a'), dtype='float32'), mx.sym.cast(V('a'), dtype='float16'), "
     "mx.sym.Cast(V('b'), dtype='int32'), mx.sym.zeros_like(V('a')), mx.sym.ones_like(V('a'))])",
     {"a": N(2, 3), "b": A([[1.7, -1.7, 2.5], [-0.5, 3.99, 0]])}, tol=(1e-3, 1e-3))
case("slice_reverse", "mx.sym.Group([mx.sym.slice_axis(V('a'), axis=1, begin=1, end=3), "
     "mx.sym.slice_axis(V('a'), axis=-1, begin=-2, end=None), mx.sym.slice_axis(V('a'), axis=0, begin=0,"
     " end=-1), mx.sym.reverse(V('b'), axis=0), mx.sym.flip(V('b'), axis=(0, 1))])",
     {"a": N(3, 4, 5), "b": N(2, 3)})
case("fill_ops", "mx.sym.Group([mx.sym.zeros((0, 3)) + V('a'), V('a') * mx.sym.ones(shape=(2, 0)), "
     "mx.sym.full((2, 3), 1.5) * V('a'), OP('_zeros')(shape=(2, 2), dtype='int32'), "
     "OP('_full')(shape=(1, 2), value=3), mx.sym.zeros((2, 3), dtype='float16', name='z16')])",
     {"a": N(2, 3)})
case("begin_state_fc", "mx.sym.FullyConnected(V('data'), num_hidden=8, name='i2h') + "
     "mx.sym.FullyConnected(mx.sym.zeros(shape=(0, 4), name='h0'), num_hidden=8, name='h2h')",
     {"data": N(3, 5)})

# ==============================================================================================
# reductions
# ==============================================================================================
# one variable per reduction: MXNet 1.9.1 mis-scales the summed gradient of a variable that feeds
# many reductions (mean(a) among 9 consumers of a gets 1/96 instead of 1/24)
_REDUCE = ["mx.sym.sum(V('a0'))", "mx.sym.sum(V('a1'), axis=1)", "mx.sym.sum(V('a2'), axis=(0, 2), keepdims=True)",
           "mx.sym.sum(V('a3'), axis=1, exclude=True)", "mx.sym.mean(V('a4'), axis=-1)", "mx.sym.mean(V('a5'))",
           "mx.sym.sum_axis(V('a6'), axis=0)", "mx.sym.sum(V('a7'), keepdims=True)",
           "mx.sym.mean(V('a8'), axis=(0, 1, 2), exclude=True)", "mx.sym.prod(V('b0'), axis=0)",
           "mx.sym.prod(V('b1'))"]
case("reduce_sum_mean", "mx.sym.Group([%s])" % ", ".join(_REDUCE),
     {**{"a%d" % i: N(2, 3, 4) for i in range(9)}, "b0": U(0.5, 1.5, 3, 2), "b1": U(0.5, 1.5, 3, 2)})
case("reduce_max_min_ties", "mx.sym.Group([mx.sym.max(V('a0'), axis=1), mx.sym.min(V('a1'), axis=0, "
     "keepdims=True), mx.sym.max(V('a2')), mx.sym.max_axis(V('a3'), axis=-1), mx.sym.min_axis(V('a4'))])",
     {"a%d" % i: I(0, 3, 3, 4) for i in range(5)})
case("reduce_nan", "mx.sym.Group([mx.sym.nansum(V('a'), axis=1), mx.sym.nanprod(V('b'), axis=0), "
     "mx.sym.nansum(V('c'))])",
     {"a": A([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0]]), "b": A([[1.5, np.nan, 2.0], [0.5, np.nan, 3.0]]),
      "c": A([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0]])})
case("reduce_int32", "mx.sym.Group([mx.sym.mean(V('a')), mx.sym.mean(V('a'), axis=1), mx.sym.sum(V('a'), "
     "axis=0), mx.sym.max(V('a'))])", {"a": A([[1, 2, 2], [-3, 4, 4]], np.int32)}, backward=False)

# ==============================================================================================
# edge values and backward shape inference
# ==============================================================================================
case("edges_binary", "mx.sym.Group([OP('_power')(V('a'), V('b'), name='pw'), OP('_mod')(V('c'), V('d'), "
     "name='md'), OP('_maximum')(V('e'), V('f'), name='mx'), OP('_greater')(V('e'), V('f'), name='gt')])",
     {"a": A([0.0, 0.0, 2.0, -2.0, 0.0]), "b": A([2.0, 0.5, 0.0, 3.0, 1.0]),
      "c": A([3.0, -3.0, 0.0, 2.5, -0.0]), "d": A([0.0, 0.0, 0.0, -1.0, 2.0]),
      "e": A([np.nan, 1.0, np.nan, 2.0, -np.inf]), "f": A([1.0, np.nan, np.nan, 2.0, -np.inf])})
case("edges_unary", "mx.sym.Group([mx.sym.sqrt(V('a')), mx.sym.rsqrt(V('b')), mx.sym.relu(V('c')), "
     "mx.sym.Activation(V('d'), act_type='relu'), mx.sym.clip(V('e'), a_min=0, a_max=1), "
     "mx.sym.log(V('f')), mx.sym.abs(V('g')), mx.sym.sign(V('h'))])",
     {"a": A([0.0, 1.0, 4.0]), "b": A([0.0, 1.0, 4.0]), "c": A([np.nan, -1.0, 0.0]),
      "d": A([np.nan, -1.0, 0.0]), "e": A([np.nan, 0.0, 1.0]), "f": A([0.0, -1.0, 1.0]),
      "g": A([np.nan, -0.0, 0.0]), "h": A([np.nan, -0.0, 3.0])})
case("infer_split_back", "mx.sym.SliceChannel(V('a'), num_outputs=2, axis=1, name='sc')[1] + V('b')",
     {"b": N(2, 3)}, partial=True)
case("infer_axes_back", "mx.sym.Group([mx.sym.expand_dims(V('a'), axis=1) + V('b'), "
     "mx.sym.transpose(V('c'), axes=(1, 2, 0)) + V('d'), mx.sym.SwapAxis(V('e'), dim1=0, dim2=1) + V('f'),"
     " mx.sym.Flatten(V('g')) + V('h'), mx.sym.Embedding(V('i'), input_dim=3, output_dim=2, name='em') + "
     "V('j'), mx.sym.Reshape(V('k'), shape=(-1,)) + V('l')])",
     {"b": N(2, 1, 3), "d": N(3, 4, 2), "f": N(3, 2), "h": N(2, 6), "j": N(4, 2), "l": N(6)},
     partial=True)
case("infer_loss_label", "mx.sym.Group([mx.sym.LinearRegressionOutput(V('a'), name='l1'), "
     "mx.sym.LinearRegressionOutput(V('b'), name='l2'), mx.sym.SoftmaxOutput(V('c'), name='s1'), "
     "mx.sym.LogisticRegressionOutput(V('d'), name='l3')])",
     {"a": N(4, 1), "b": N(3, 2, 2), "c": N(3, 5), "d": N(2, 3)}, head_grad=False)

# ==============================================================================================
# small composite models
# ==============================================================================================
case("mlp", "mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Activation(mx.sym.FullyConnected("
     "V('data'), num_hidden=8, name='fc1'), act_type='relu', name='relu1'), num_hidden=3, name='fc2'), "
     "name='softmax')", {"data": N(4, 6), "softmax_label": A([0, 2, 1, 2])}, head_grad=False)
case("cnn", "mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Flatten(mx.sym.Pooling(mx.sym.Activation("
     "mx.sym.BatchNorm(mx.sym.Convolution(V('data'), kernel=(3, 3), pad=(1, 1), num_filter=4, "
     "no_bias=True, name='conv1'), fix_gamma=False, name='bn1'), act_type='relu'), kernel=(2, 2), "
     "stride=(2, 2), pool_type='max')), num_hidden=3, name='fc'), name='softmax')",
     {"data": N(2, 2, 4, 4), "softmax_label": A([1, 2])}, head_grad=False, tol=(1e-4, 1e-5))
LSTM = """
H, T = 3, 2
embed = mx.sym.Embedding(V('data'), input_dim=7, output_dim=4, name='embed')
xs = mx.sym.SliceChannel(embed, num_outputs=T, axis=1, squeeze_axis=True)
w = [V('i2h_weight'), V('i2h_bias'), V('h2h_weight'), V('h2h_bias')]
h = mx.sym.zeros(shape=(0, H), name='begin_state_0')
c = mx.sym.zeros(shape=(0, H), name='begin_state_1')
outs = []
for t in range(T):
    g = (mx.sym.FullyConnected(xs[t], weight=w[0], bias=w[1], num_hidden=4 * H, name='t%d_i2h' % t)
         + mx.sym.FullyConnected(h, weight=w[2], bias=w[3], num_hidden=4 * H, name='t%d_h2h' % t))
    sl = mx.sym.SliceChannel(g, num_outputs=4, name='t%d_slice' % t)
    i = mx.sym.Activation(sl[0], act_type='sigmoid')
    f = mx.sym.Activation(sl[1], act_type='sigmoid')
    cc = mx.sym.Activation(sl[2], act_type='tanh')
    o = mx.sym.Activation(sl[3], act_type='sigmoid')
    c = mx.sym.elemwise_add(f * c, i * cc, name='t%d_state' % t)
    h = mx.sym.elemwise_mul(o, mx.sym.Activation(c, act_type='tanh'), name='t%d_out' % t)
    outs.append(mx.sym.expand_dims(h, axis=1))
merged = mx.sym.Reshape(mx.sym.Concat(*outs, dim=1), shape=(-1, H))
pred = mx.sym.FullyConnected(merged, num_hidden=5, name='pred')
out = mx.sym.SoftmaxOutput(pred, mx.sym.Reshape(V('label'), shape=(-1,)), name='softmax')
"""
case("lstm_unrolled", LSTM, {"data": A([[1, 6], [0, 3], [2, 2]]), "label": A([[0, 4], [1, 3], [2, 2]])},
     head_grad=False, grad_req={"data": "null", "label": "null"}, tol=(1e-4, 1e-6))  # MXNet leaves
# the label's gradient through Reshape uninitialised

# ==============================================================================================
# mx.nd calls
# ==============================================================================================
nd_case("nd_conv", "mx.nd.Convolution(x, w, b, kernel=(3, 3), num_filter=2, pad=(1, 1))",
        {"x": N(1, 2, 4, 4), "w": N(2, 2, 3, 3), "b": N(2)})
nd_case("nd_pool", "mx.nd.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type='avg')", {"x": N(1, 2, 4, 4)})
nd_case("nd_softmax", "mx.nd.softmax(x, axis=0)", {"x": N(3, 4)})
nd_case("nd_sum", "mx.nd.sum(x, axis=1, keepdims=True)", {"x": N(3, 4)})
nd_case("nd_maximum_bcast", "mx.nd.maximum(x, y)", {"x": N(3, 1), "y": N(1, 4)})
nd_case("nd_maximum_scalar", "mx.nd.maximum(x, 0.2)", {"x": N(3, 4)})
nd_case("nd_minimum_rscalar", "mx.nd.minimum(0.2, x)", {"x": N(3, 4)})
nd_case("nd_power_rscalar", "mx.nd.power(2, x)", {"x": N(3, 4)})
nd_case("nd_power_bcast", "mx.nd.power(x, y)", {"x": U(0.5, 2, 3, 4), "y": N(4)})
nd_case("nd_embedding", "mx.nd.Embedding(i, w, input_dim=4, output_dim=3)",
        {"i": A([0.0, 3.7, -1.0, 9.0]), "w": N(4, 3)})
nd_case("nd_reshape", "mx.nd.Reshape(x, shape=(-3, 0))", {"x": N(2, 3, 4)})
nd_case("nd_concat", "mx.nd.Concat(x, y, dim=0)", {"x": N(2, 3), "y": N(1, 3)})
nd_case("nd_split", "mx.nd.split(x, num_outputs=2, axis=1)", {"x": N(2, 4)})
nd_case("nd_split_squeeze", "mx.nd.SliceChannel(x, num_outputs=3, axis=0, squeeze_axis=True)",
        {"x": N(3, 2)})
nd_case("nd_activation", "mx.nd.Activation(x, act_type='softrelu')", {"x": N(3, 4, scale=10)},
        tol=(1e-4, 5e-6))  # oneDNN's soft_relu is off by ~2e-6 for very negative x
nd_case("nd_clip", "mx.nd.clip(x, -0.5, 0.5)", {"x": N(3, 4)})
nd_case("nd_broadcast_add", "mx.nd.broadcast_add(x, y)", {"x": N(2, 1, 3), "y": N(4, 1)})
nd_case("nd_cast", "mx.nd.Cast(x, dtype='int32')", {"x": N(3, 4, scale=3)})
nd_case("nd_slice_axis", "mx.nd.slice_axis(x, axis=1, begin=-3, end=None)", {"x": N(2, 5)})
nd_case("nd_add_n", "mx.nd.add_n(x, y, z)", {"x": N(2, 2), "y": N(2, 2), "z": N(2, 2)})
nd_case("nd_lrn", "mx.nd.LRN(x, nsize=3)", {"x": N(1, 4, 2, 2)})
nd_case("nd_dropout_infer", "mx.nd.Dropout(x, p=0.5)", {"x": N(3, 4)})
nd_case("nd_fc", "mx.nd.FullyConnected(x, w, b, num_hidden=2)", {"x": N(3, 4), "w": N(2, 4), "b": N(2)})
nd_case("nd_scalar_int", "mx.nd.maximum(x, 2.5)", {"x": A([1, 3, 5], np.int32)})
nd_case("nd_greater_rscalar", "mx.nd.greater(1.0, x)", {"x": A([0.5, 1.0, 2.0])})
nd_case("nd_subtract_rscalar", "mx.nd.subtract(1.0, x)", {"x": N(2, 2)})
nd_case("nd_zeros_op", "mx.nd.zeros_like(x) + mx.nd.ones_like(x)", {"x": N(2, 3)})
nd_case("nd_mean_all", "mx.nd.mean(x)", {"x": N(3, 4)})
nd_case("nd_transpose", "mx.nd.transpose(x, axes=(2, 0, 1))", {"x": N(2, 3, 4)})


if __name__ == "__main__":
    GOLDENS.main()
