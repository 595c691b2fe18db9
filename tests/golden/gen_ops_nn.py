"""Generate the goldens of the second operator batch with real MXNet 1.9.1: Deconvolution,
LeakyReLU, the norms, L2Normalization, UpSampling, SoftmaxActivation, the spatial ops, ROIPooling,
Correlation, SVMOutput, softmax_cross_entropy, smooth_l1, IdentityAttachKLSparseReg, CTCLoss
and Custom.

Run from the repository root:
    MXNET_SUBGRAPH_BACKEND=NONE ~/.mxnet-ref/bin/python tests/golden/gen_ops_nn.py [case ids]
Writes tests/golden/ops_nn/index.json and values.npz with the case machinery of
ops_cases_common.py (as gen_ops.py); tests/test_ops_nn.py replays them. Here a case's ``inputs``
also give auxiliary states.

MXNet 1.9.1 bugs that shaped the cases: the oneDNN Deconvolution rejects target_shape, so those
cases run in a child process on MXNet's native CPU kernels (MXNET_MKLDNN_ENABLED=0); LeakyReLU
selu's gradient is wrong (forward only here; modjax uses the true derivative); rrelu crashes in
training (tested by statistics); SoftmaxOutput(out_grad=True) ignores the head gradient and
SoftmaxActivation's instance-mode gradient on 3-D data is not the forward's derivative (both
checked against their definitions in the tests).
"""
import os
import sys

from ops_cases_common import A, I, N, U, Goldens, run_case  # (the script's folder is on sys.path)

GOLDENS = Goldens("ops_nn")
case, nd_case = GOLDENS.case, GOLDENS.nd_case


# -- Deconvolution -----------------------------------------------------------------------------
# (several operators per case: one compile each way keeps the replay fast)
case("deconv", "mx.sym.Group([mx.sym.Deconvolution(V('a'), kernel=(3, 3), num_filter=4, name='dc'), "
     "mx.sym.Deconvolution(V('b'), kernel=(3, 3), stride=(2, 2), pad=(1, 1), adj=(1, 1), num_filter=2, "
     "no_bias=False, name='dcb'), mx.sym.Deconvolution(V('c'), kernel=(2, 3), stride=(2, 1), "
     "dilate=(2, 1), pad=(0, 1), num_group=2, num_filter=4, name='dcg'), "
     "mx.sym.Deconvolution(V('d'), kernel=(3,), stride=(2,), num_filter=3)])",
     {"a": N(2, 3, 4, 4), "b": N(2, 2, 3, 3), "c": N(1, 4, 3, 4), "d": N(2, 2, 5)})
case("deconv3d", "mx.sym.Deconvolution(V('data'), kernel=(2, 2, 2), stride=(2, 1, 1), pad=(0, 1, 0),"
     " num_filter=2, no_bias=False, name='d3')", {"data": N(1, 2, 2, 3, 2)})
case("deconv_target_shape", "mx.sym.Group([mx.sym.Deconvolution(V('a'), kernel=(4, 4), stride=(2, 2), "
     "target_shape=(8, 8), num_filter=3, name='even'), mx.sym.Deconvolution(V('b'), kernel=(3, 3), "
     "stride=(2, 2), pad=(5, 5), target_shape=(8, 7), num_filter=2, name='odd')])",
     {"a": N(1, 2, 4, 4), "b": N(1, 2, 4, 4)}, native=True)

# -- LeakyReLU ---------------------------------------------------------------------------------
_EDGE = A([[-3.0, -1.0, -0.25, 0.0, 0.0, 0.5, 2.0, -0.01], [1.5, -2.0, 0.75, -0.6, 3.0, -5.0, 0.01, 1.0]])
case("leaky_elu_gelu", "mx.sym.Group([mx.sym.LeakyReLU(V('a'), name='lr'), "
     "mx.sym.LeakyReLU(V('b'), slope=0.1), mx.sym.LeakyReLU(V('c'), slope=-0.5, name='neg'), "
     "mx.sym.LeakyReLU(V('d'), act_type='elu', name='elu'), "
     "mx.sym.LeakyReLU(V('e'), act_type='elu', slope=1.0), "
     "mx.sym.LeakyReLU(V('f'), act_type='gelu', name='gelu')])",
     {"a": _EDGE, "b": N(3, 4), "c": _EDGE, "d": _EDGE, "e": N(3, 5, scale=2), "f": N(3, 5, scale=2)})
case("prelu", "mx.sym.Group([mx.sym.LeakyReLU(V('a'), act_type='prelu', name='pr'), "
     "mx.sym.LeakyReLU(V('b'), V('g'), act_type='prelu', name='pr4d'), "
     "mx.sym.LeakyReLU(V('c'), V('s'), act_type='prelu', name='prs')])",
     {"a": N(2, 3, 4), "pr_gamma": A([0.25, -0.5, 1.5]), "b": N(2, 3, 2, 3), "g": A([0.1, 0.2, 0.3]),
      "c": N(3, 4), "s": A([0.3])})
# selu: forward only (MXNet's gradient is wrong); rrelu: MXNet leaves the inference mask unwritten
# (garbage), so only its output is compared; SoftmaxActivation instance mode on 3-D data: forward
# only (MXNet's gradient is not the forward's derivative)
case("forward_only", "mx.sym.Group([mx.sym.LeakyReLU(V('a'), act_type='selu', name='selu'), "
     "mx.sym.LeakyReLU(V('b'), act_type='rrelu', lower_bound=0.2, upper_bound=0.5, name='rr')[0], "
     "mx.sym.SoftmaxActivation(V('c'))])", {"a": _EDGE, "b": _EDGE, "c": N(2, 3, 4)}, train=False,
     backward=False)
case("rrelu_introspect", "mx.sym.LeakyReLU(V('data'), act_type='rrelu', name='rr')", {"data": N(2, 3)},
     values=False)

# -- norms ---------------------------------------------------------------------------------------
case("norms", "mx.sym.Group([mx.sym.InstanceNorm(V('a'), name='in'), mx.sym.InstanceNorm(V('b'), eps=0.1), "
     "mx.sym.LayerNorm(V('c'), name='ln'), mx.sym.GroupNorm(V('d'), num_groups=2, name='gn'), "
     "mx.sym.GroupNorm(V('e'))])",
     {"a": N(2, 3, 4, 5), "b": N(2, 2, 6), "c": N(3, 4, 5), "d": N(2, 4, 3, 2), "e": N(2, 3, 4)})
case("norms_mean_std", "mx.sym.Group([mx.sym.LayerNorm(V('a'), axis=1, eps=1e-3, output_mean_var=True,"
     " name='ln'), mx.sym.GroupNorm(V('b'), num_groups=3, eps=1e-2, output_mean_var=True, name='gn')])",
     {"a": N(2, 5, 3), "b": N(2, 6, 4)})
case("l2norm_modes", "mx.sym.Group([mx.sym.L2Normalization(V('a'), name='inst'), "
     "mx.sym.L2Normalization(V('b'), mode='channel', name='chan'), "
     "mx.sym.L2Normalization(V('c'), mode='spatial', eps=1e-3, name='spat'), "
     "mx.sym.L2Normalization(V('d'))])", {"a": N(2, 3, 4), "b": N(2, 3, 2, 2), "c": N(2, 3, 4), "d": N(3, 5)})

# -- UpSampling, SoftmaxActivation -----------------------------------------------------------------
case("upsample_nearest", "mx.sym.Group([mx.sym.UpSampling(V('a'), scale=2, sample_type='nearest', "
     "name='up'), mx.sym.UpSampling(V('b'), V('c'), scale=2, sample_type='nearest', name='cat'), "
     "mx.sym.UpSampling(V('d'), V('e'), scale=3, sample_type='nearest', multi_input_mode='sum')])",
     {"a": N(2, 3, 2, 3), "b": N(1, 2, 2, 2), "c": N(1, 3, 4, 4), "d": N(1, 2, 2, 2), "e": N(1, 2, 3, 3)})
case("upsample_bilinear", "mx.sym.Group([mx.sym.UpSampling(V('a'), scale=2, sample_type='bilinear', "
     "num_filter=3, name='up'), mx.sym.UpSampling(V('b'), scale=3, sample_type='bilinear', "
     "num_filter=2, name='up3')])", {"a": N(1, 3, 3, 3), "b": N(2, 2, 2, 3)})
case("softmax_activation", "mx.sym.Group([mx.sym.SoftmaxActivation(V('a'), name='inst'), "
     "mx.sym.SoftmaxActivation(V('b'), mode='channel', name='chan')])",
     {"a": N(3, 4), "b": N(2, 3, 2, 2)})

# -- spatial ops, ROIPooling, Correlation --------------------------------------------------------
case("grid_sampler", "mx.sym.Group([mx.sym.GridGenerator(V('a'), transform_type='affine', "
     "target_shape=(3, 4), name='grid'), mx.sym.GridGenerator(V('b'), transform_type='warp', "
     "name='warp'), mx.sym.BilinearSampler(V('data'), V('grid'), name='bs'), "
     "mx.sym.BilinearSampler(V('d2'), mx.sym.GridGenerator(V('loc'), transform_type='affine', "
     "target_shape=(4, 3)))])",
     {"a": N(2, 6), "b": N(2, 2, 3, 4), "data": N(2, 3, 4, 5), "grid": U(-1.3, 1.3, 2, 2, 3, 4),
      "d2": N(1, 2, 5, 5), "loc": A([[0.9, 0.1, 0.05, -0.2, 1.1, 0.1]])})
case("spatial_transformer", "mx.sym.SpatialTransformer(V('data'), V('loc'), target_shape=(3, 4), "
     "transform_type='affine', sampler_type='bilinear', name='st')",
     {"data": N(2, 2, 5, 6), "loc": A([[0.8, 0.1, 0.05, -0.1, 0.9, 0.1], [1.3, 0.0, 0.3, 0.2, 1.2, -0.4]])})
case("roi_pooling", "mx.sym.Group([mx.sym.ROIPooling(V('data'), V('rois'), pooled_size=(2, 3), "
     "spatial_scale=1.0, name='roi'), mx.sym.ROIPooling(V('d2'), V('r2'), pooled_size=(3, 3), "
     "spatial_scale=0.5)])",
     {"data": I(-5, 5, 2, 2, 6, 7), "rois": A([[0, 0, 0, 4, 4], [1, 1, 2, 6, 5], [0, 3, 3, 3, 3],
                                               [1, 5, 4, 2, 1]]),
      "d2": N(1, 3, 6, 6), "r2": A([[0, 1, 1, 9, 9], [0, 3, 2, 7, 11], [0, 0.5, 1.5, 4.9, 7.0]])},
     grad_req={"rois": "null", "r2": "null"})
case("correlation", "mx.sym.Group([mx.sym.Correlation(V('a'), V('b'), name='corr'), "
     "mx.sym.Correlation(V('c'), V('d'), kernel_size=3, max_displacement=2, stride1=2, stride2=2, "
     "pad_size=2, name='big'), mx.sym.Correlation(V('e'), V('f'), max_displacement=1, pad_size=1, "
     "is_multiply=False)])", {"a": N(2, 3, 5, 5), "b": N(2, 3, 5, 5), "c": N(1, 2, 6, 7),
                              "d": N(1, 2, 6, 7), "e": I(-2, 3, 1, 2, 4, 4), "f": I(-2, 3, 1, 2, 4, 4)})

# -- losses --------------------------------------------------------------------------------------
case("svm", "mx.sym.Group([mx.sym.SVMOutput(V('data'), name='svm'), mx.sym.SVMOutput(V('d2'), "
     "V('label'), margin=0.5, regularization_coefficient=2.0, use_linear=True, name='svm1')])",
     {"data": N(4, 3), "svm_label": A([0, 2, 1, 2]), "d2": N(4, 3), "label": A([1, 0, 2.7, 5])},
     head_grad=False)
case("sce_smooth_l1", "mx.sym.Group([mx.sym.softmax_cross_entropy(V('data'), V('label'), name='sce'), "
     "mx.sym.smooth_l1(V('a'), scalar=1.0, name='s1'), mx.sym.smooth_l1(V('b'), scalar=2.0, name='s2'),"
     " mx.sym.smooth_l1(V('c'), scalar=0.5)])",
     {"data": N(4, 5), "label": A([0, 4, 2, 1]), "a": A([[-2.0, -1.0, -0.5, 0.0], [0.3, 1.0, 1.5, 3.0]]),
      "b": A([[-0.3, -0.25, -0.1, 0.0], [0.2, 0.25, 0.26, 1.0]]), "c": N(3, 4, scale=5)},
     grad_req={"label": "null"})
case("kl_sparse_reg", "mx.sym.Group([mx.sym.IdentityAttachKLSparseReg(mx.sym.Activation(V('data'), "
     "act_type='sigmoid'), sparseness_target=0.2, penalty=0.01, momentum=0.7, name='kl'), "
     "mx.sym.IdentityAttachKLSparseReg(V('d2'))])",
     {"data": N(4, 3), "kl_moving_avg": A([0.3, 0.5, 0.7]), "d2": U(0.1, 0.9, 5, 4),
      "identityattachklsparsereg0_moving_avg": A([0.2, 0.4, 0.6, 0.5])})
case("softmaxoutput_out_grad_introspect", "mx.sym.SoftmaxOutput(V('data'), out_grad=True, name='sm')",
     {"data": N(3, 4)}, values=False)
case("ctc", "mx.sym.Group([mx.sym.CTCLoss(V('data'), V('label'), name='ctc'), "
     "mx.sym.CTCLoss(V('d2'), V('l2'), V('dl'), V('ll'), use_data_lengths=True,"
     " use_label_lengths=True, blank_label='last', name='ctcl')])",
     {"data": N(6, 2, 5), "label": A([[1, 3, 3], [2, 4, 0]]),
      "d2": N(5, 3, 4), "l2": A([[0, 1, 2], [2, 2, -1], [1, 0, 1]]), "dl": A([5, 4, 5]),
      "ll": A([3, 2, 1])}, grad_req={"label": "null", "l2": "null", "dl": "null", "ll": "null"})
case("ctc_auto_names", "mx.sym.CTCLoss(V('data'), use_label_lengths=True, "
     "blank_label='last')", {"data": N(4, 2, 3), "ctcloss0_label": A([[0, 1], [1, 1]]),
                             "ctcloss0_label_lengths": A([2, 1])},
     grad_req={"ctcloss0_label": "null", "ctcloss0_label_lengths": "null"}, values=False)

# -- Custom ----------------------------------------------------------------------------------------
CUSTOM = """
class ScaledMul(mx.operator.CustomOp):
    def __init__(self, scale):
        super(ScaledMul, self).__init__()
        self.scale = scale
    def forward(self, is_train, req, in_data, out_data, aux):
        x, w = in_data
        self.assign(out_data[0], req[0], x * w * self.scale)
        self.assign(out_data[1], req[1], x + aux[0])
    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        x, w = in_data
        self.assign(in_grad[0], req[0], out_grad[0] * w * self.scale + out_grad[1])
        self.assign(in_grad[1], req[1], (out_grad[0] * x * self.scale).sum(axis=0, keepdims=True))

@mx.operator.register('golden_scaled_mul')
class ScaledMulProp(mx.operator.CustomOpProp):
    def __init__(self, scale='1'):
        super(ScaledMulProp, self).__init__(need_top_grad=True)
        self.scale = float(scale)
    def list_arguments(self):
        return ['data', 'w']
    def list_outputs(self):
        return ['prod', 'shifted']
    def list_auxiliary_states(self):
        return ['shift']
    def infer_shape(self, in_shape):
        return [in_shape[0], [1, in_shape[0][1]]], [in_shape[0], in_shape[0]], [[in_shape[0][1]]]
    def create_operator(self, ctx, shapes, dtypes):
        return ScaledMul(self.scale)

out = mx.sym.Custom(V('data'), op_type='golden_scaled_mul', scale=2.5, name='cm')
"""
case("custom_scaled_mul", CUSTOM, {"data": N(3, 4), "cm_w": N(1, 4), "cm_shift": A([0.5, -1.0, 2.0, 0.0])})

# -- mx.nd calls -----------------------------------------------------------------------------------
nd_case("nd_deconv", "mx.nd.Deconvolution(x, w, b, kernel=(2, 2), stride=(2, 2), num_filter=3, "
        "no_bias=False)", {"x": N(1, 2, 3, 3), "w": N(2, 3, 2, 2), "b": N(3)})
nd_case("nd_prelu", "mx.nd.LeakyReLU(x, g, act_type='prelu')", {"x": N(2, 3, 4), "g": A([0.1, 0.2, 0.3])})
nd_case("nd_layer_norm", "mx.nd.LayerNorm(x, g, b)", {"x": N(2, 3, 4), "g": N(4), "b": N(4)})
nd_case("nd_upsampling", "mx.nd.UpSampling(x, scale=2, sample_type='nearest')", {"x": N(1, 2, 2, 2)})
nd_case("nd_roi", "mx.nd.ROIPooling(x, r, pooled_size=(2, 2), spatial_scale=1.0)",
        {"x": N(1, 1, 4, 4), "r": A([[0, 0, 0, 3, 3], [0, 1, 1, 2, 3]])})
nd_case("nd_losses", "[mx.nd.smooth_l1(x, scalar=1.5), mx.nd.softmax_cross_entropy(x, l)]",
        {"x": N(3, 4), "l": A([1, 0, 3])})


# ==============================================================================================
def _run_native(ids):
    """Run cases in a child process with oneDNN off (MXNet's native CPU kernels)."""
    import pickle
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "native.pkl")
        env = dict(os.environ, MXNET_MKLDNN_ENABLED="0", MXNET_STORAGE_FALLBACK_LOG_VERBOSE="0")
        subprocess.run([sys.executable, os.path.abspath(__file__), "--native", path] + ids,
                       check=True, env=env)
        with open(path, "rb") as f:
            return pickle.load(f)


def main():
    if sys.argv[1:2] == ["--native"]:  # the child of _run_native: --native PATH ids
        import pickle
        import mxnet as mx
        store = {}
        records = {c["id"]: run_case(mx, c, store) for c in GOLDENS.cases if c["id"] in sys.argv[3:]}
        with open(sys.argv[2], "wb") as f:
            pickle.dump((records, store), f)
        return
    only = set(sys.argv[1:])  # debugging: run just these case ids (nothing is written)
    native = [c["id"] for c in GOLDENS.cases if c["native"] and (not only or c["id"] in only)]
    native_records, native_store = _run_native(native) if native else ({}, {})
    GOLDENS.main(only, done=native_records, store=native_store)


if __name__ == "__main__":
    main()
