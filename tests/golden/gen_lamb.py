"""LAMB goldens: run ``~/.mxnet-ref/bin/python tests/golden/gen_lamb.py mx > tests/golden/lamb.json``."""
import numpy as np, sys, json
rng=np.random.RandomState(0)
w0=rng.randn(4,3).astype(np.float32); grads=[rng.randn(4,3).astype(np.float32) for _ in range(5)]
cfgs=[dict(learning_rate=0.01, wd=0.01), dict(learning_rate=0.05, lower_bound=0.5, upper_bound=2.0, clip_gradient=0.5, rescale_grad=0.5), dict(learning_rate=0.01, bias_correction=False)]
def main():
  if sys.argv[1]=='mx':
      import mxnet as mx
      out=[]
      for c in cfgs:
          opt=mx.optimizer.create('lamb', **c); w=mx.nd.array(w0); st=opt.create_state(0,w)
          for g in grads: opt.update(0,w,mx.nd.array(g),st)
          out.append(w.asnumpy().tolist())
      print(json.dumps(out))
  else:
      sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "..")); import modjax as mx
      out=[]
      for c in cfgs:
          opt=mx.optimizer.create('lamb', **c); w=mx.nd.array(w0); st=opt.create_state(0,w)
          for g in grads: opt.update(0,w,mx.nd.array(g),st)
          out.append(w.asnumpy().tolist())
      print(json.dumps(out))


if __name__ == '__main__':
    main()
