"""The LeNet step in parts, both lowerings: forward, loss + gradient, whole SGD step.

Batch 256, Fashion-MNIST-shaped random data (only time is measured), each part
jitted alone, interleaved, median of 7 rounds of 20 calls: where the step's
time goes beyond the pieces of ``lenet_pieces.py``.
Run: python benchmarks/lenet_step_parts.py
"""
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlr.models import make_model
B=256
rng=np.random.default_rng(0)
x=jnp.asarray(rng.random((B,28,28,1),np.float32)); y=jnp.asarray(rng.integers(0,10,B))
def parts(low):
    m=make_model("lenet",10,lowering=low); p=m.init(jax.random.PRNGKey(0),x[:1])
    loss=lambda p: optax.softmax_cross_entropy_with_integer_labels(m.apply(p,x),y).mean()
    tx=optax.sgd(0.1); s=tx.init(p)
    def step(p,s):
        g=jax.grad(loss)(p); u,s=tx.update(g,s,p); return optax.apply_updates(p,u),s
    return {"forward":(jax.jit(lambda p: m.apply(p,x)),(p,)),
            "loss+grad":(jax.jit(jax.grad(loss)),(p,)),
            "step (sgd)":(jax.jit(step),(p,s))}
allp={(low,n):v for low in ("shifted","xla") for n,v in parts(low).items()}
times={k:[] for k in allp}
for k,(f,a) in allp.items(): jax.block_until_ready(f(*a))
for _ in range(7):
    for k,(f,a) in allp.items():
        t=time.perf_counter()
        for _ in range(20): o=f(*a)
        jax.block_until_ready(o); times[k].append((time.perf_counter()-t)/20*1e3)
for k,t in times.items(): print(f"{k[0]:<8} {k[1]:<12} {sorted(t)[3]:.2f} ms")
