"""Recording which primitives reach the slow fallbacks: the per-element batching loop
(``loop_rule``) or a forward rule derived by transposing the reverse rule."""
import importlib

from wengert.core import Primitive
from wengert.core import rules as core_rules
from wengert.numpy import batching


def primitives_of(modules):
    found = {}
    for name in modules:
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, Primitive):
                found[id(obj)] = obj
    return list(found.values())


def is_loop(rule):
    return rule is not None and getattr(rule, "__qualname__", "").startswith("loop_rule.")


def is_transposed(rule):
    return getattr(rule, "__qualname__", "").startswith("jvp_from_vjp.")


def forget_fallbacks(prims):
    """Drop fallback rules cached on ``prims`` (by earlier tests in this process), so the
    next use goes through the (patched) fallback factories again."""
    for p in prims:
        if is_loop(p.batch):
            p.batch = None
        for k in [k for k, r in p.jvps.items() if is_transposed(r)]:
            del p.jvps[k]


def record_fallbacks(monkeypatch, prims):
    """Generator for a fixture: yields the set of (primitive name, fallback) reached."""
    seen = set()
    loop_rule, jvp_from_vjp = batching.loop_rule, core_rules.jvp_from_vjp

    def recording_loop_rule(prim):
        rule = loop_rule(prim)

        def loop(size, batched, *args, **kwargs):
            seen.add((prim.name, "loop_rule"))
            return rule(size, batched, *args, **kwargs)
        loop.__qualname__ = "loop_rule.<locals>.recording"
        return loop

    def recording_jvp_from_vjp(prim, argnum):
        rule = jvp_from_vjp(prim, argnum)

        def jvp(*args, **kwargs):
            seen.add((prim.name, "jvp_from_vjp"))
            return rule(*args, **kwargs)
        jvp.__qualname__ = "jvp_from_vjp.<locals>.recording"
        return jvp

    forget_fallbacks(prims)
    monkeypatch.setattr(batching, "loop_rule", recording_loop_rule)
    monkeypatch.setattr(core_rules, "jvp_from_vjp", recording_jvp_from_vjp)
    yield seen
    forget_fallbacks(prims)
