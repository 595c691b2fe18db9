"""SequentialModule and PythonLossModule scenarios, shared by the MXNet generator and the tests."""
import numpy as np


def data():
    rng = np.random.RandomState(5)
    return rng.uniform(-1, 1, (24, 6)).astype(np.float32), rng.randint(0, 3, 24).astype(np.float32)


def params(mx, shapes):
    rng = np.random.RandomState(2)
    return {k: mx.nd.array(rng.uniform(-0.4, 0.4, s).astype(np.float32)) for k, s in shapes.items()}


def sequential(mx):
    """fc1+relu (no labels) -> fc2+SoftmaxOutput (take_labels, auto_wiring); fit 2 epochs."""
    x, y = data()
    net1 = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=5, name="fc1"),
                             act_type="relu", name="relu1")
    net2 = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("hidden"), num_hidden=3,
                                                      name="fc2"), name="softmax")
    mod = mx.mod.SequentialModule()
    mod.add(mx.mod.Module(net1, label_names=None))
    mod.add(mx.mod.Module(net2, data_names=["hidden"]), take_labels=True, auto_wiring=True)
    it = mx.io.NDArrayIter(x, y, batch_size=6)
    arg = params(mx, {"fc1_weight": (5, 6), "fc1_bias": (5,), "fc2_weight": (3, 5), "fc2_bias": (3,)})
    mod.fit(it, optimizer="sgd", optimizer_params={"learning_rate": 0.3, "momentum": 0.9},
            arg_params=arg, num_epoch=2)
    score = mod.score(mx.io.NDArrayIter(x, y, batch_size=6), "acc")
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}, score, \
        [list(s) for s in mod.output_shapes]


def python_loss(mx):
    """fc (no labels) -> PythonLossModule with a softmax-cross-entropy grad_func; fit 2 epochs."""
    x, y = data()

    def grad_func(scores, labels):
        s = scores.asnumpy()
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(p)), labels.asnumpy().astype(int)] -= 1
        return p

    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    mod = mx.mod.SequentialModule()
    mod.add(mx.mod.Module(net, label_names=None))
    mod.add(mx.mod.PythonLossModule(grad_func=grad_func), take_labels=True, auto_wiring=True)
    it = mx.io.NDArrayIter(x, y, batch_size=6)
    mod.fit(it, optimizer="sgd", optimizer_params={"learning_rate": 0.2},
            arg_params=params(mx, {"fc_weight": (3, 6), "fc_bias": (3,)}), num_epoch=2)
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
