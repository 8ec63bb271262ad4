"""jaxlr expressions of porting-table rows that more than one test file checks.

The oracle tests (``tests/test_reference.py``) and the real-library tests
(``tests/test_hf.py``) compare the same README rows; each row's expression is
written once, here.
"""

import jaxlr


def hf_wsd(lr, warmup_steps, stable, decay_steps, decay_type, min_lr_ratio, warmup_type):
    """README's rows for HF ``get_wsd_schedule`` (the warmup starts at ``r * v``).

    ``warmup_type="1-sqrt"``: ``1 - sqrt(1 - p)`` mapped onto ``[r v, v]`` is
    ``(r v - v) (1 - p) ** 0.5 + v``, a polynomial of power 1/2 from ``r v`` to ``v``.
    """
    floor = min_lr_ratio * lr
    if warmup_type == "linear":
        return jaxlr.warmup_stable_decay(lr, warmup_steps, stable, decay_steps, end_value=floor,
                                         decay=decay_type, init_value=floor)
    body = jaxlr.warmup_stable_decay(lr, 0, stable, decay_steps, end_value=floor,
                                     decay=decay_type)
    if warmup_type == "cosine":
        return jaxlr.warmup(body, warmup_steps, init_value=floor, mode="cosine")
    assert warmup_type == "1-sqrt", warmup_type
    if warmup_steps == 0:
        return body
    return jaxlr.join([jaxlr.polynomial(floor, lr, warmup_steps, power=0.5), body],
                      [warmup_steps])
