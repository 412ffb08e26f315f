"""Adam with its learning rate in a ``tf.Variable``, checkpointable with ``tf.train.Checkpoint``.

Written by hand (about 40 lines) rather than taken from Keras because LFADS
training needs three things Keras 3 optimisers do not offer together: the
learning rate must be a ``tf.Variable`` that population-based training can
re-assign inside an already compiled step (Keras 3 rejects a variable learning
rate), the optimiser state must be restorable with ``tf.train.Checkpoint`` next
to the weights, and the state must be created eagerly so a checkpoint can be
restored before the first step. The update is Keras' (and TF's fused ``ResourceApplyAdam``) Adam exactly:
``lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)``, ``w -= lr_t * m / (sqrt(v) + eps)``;
the fused op keeps the compiled graph small.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

__all__ = ["Adam"]


class Adam(tf.Module):
    """Adam over a fixed list of variables.

    Parameters
    ----------
    variables : sequence of tf.Variable
        The variables :meth:`apply` updates, in the order gradients are given.
    lr : float
        Initial learning rate (kept in ``self.lr``, a non-trainable variable).
    epsilon, beta_1, beta_2 : float
        Adam constants.
    """

    def __init__(
        self,
        variables: Sequence[tf.Variable],
        lr: float,
        *,
        epsilon: float = 1e-8,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
    ) -> None:
        super().__init__(name="adam")
        self.lr = tf.Variable(float(lr), trainable=False, dtype=tf.float32, name="lr")
        self.iterations = tf.Variable(0, trainable=False, dtype=tf.int64, name="iterations")
        self.epsilon, self.beta_1, self.beta_2 = float(epsilon), float(beta_1), float(beta_2)
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in variables]

    def apply(self, grads: Sequence[tf.Tensor], variables: Sequence[tf.Variable]) -> None:
        """One Adam step (call inside ``tf.function``); one fused ``ResourceApplyAdam`` per variable."""
        t = tf.cast(self.iterations.assign_add(1), tf.float32)
        b1_power, b2_power = tf.pow(self.beta_1, t), tf.pow(self.beta_2, t)
        for g, var, m, v in zip(grads, variables, self.m, self.v):
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=b1_power,
                beta2_power=b2_power,
                lr=self.lr,
                beta1=self.beta_1,
                beta2=self.beta_2,
                epsilon=self.epsilon,
                grad=g,
            )
