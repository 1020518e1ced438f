"""Cache keys from the compute closure (lossdyn.pipeline.closure): unrelated edits keep every key,
an edit to the code that computes a unit renews exactly the units that reach it."""

from __future__ import annotations

import ast

import pytest

from lossdyn.pipeline import cache
from lossdyn.pipeline.closure import REST, closure, closure_hash, module_source
from lossdyn.pipeline.figures import figures
from lossdyn.pipeline.runner import plan_jobs
from lossdyn.pipeline.units import plan_for


def _is_presentation(name: str) -> bool:
    """A figure module's plots, tables, claims and numbers: what runs after the units are computed."""
    return (
        name.startswith(("plot", "_draw", "_claim"))
        or name.endswith(("_table", "_panel", "_line"))
        or name in {"claims", "key_numbers", "finish", "estimate"}
    )


PLUMBING = (
    "lossdyn.pipeline.plotting",
    "lossdyn.pipeline.pages",
    "lossdyn.pipeline.runner",
    "lossdyn.pipeline.cli",
    "lossdyn.pipeline.claims",
    "lossdyn.pipeline.figures",
    "lossdyn.pipeline.measured",
    "lossdyn.pipeline.sweep",
    "lossdyn.pipeline.cache",
)


def _edit(source: str, names: set[str] | None) -> str:
    """``source`` with ``_edited = 1`` put first into the body of every function (or method, as
    ``Class.method``) named in ``names`` (``None``: every function of the module)."""
    tree = ast.parse(source)
    for node in tree.body:
        inner = node.body if isinstance(node, ast.ClassDef) else []
        prefix = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
        for fn in [node, *inner]:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = fn.name if fn is node else prefix + fn.name
                if names is None or qual in names:
                    fn.body.insert(0, ast.parse("_edited = 1").body[0])
    return ast.unparse(tree)


def _reader(edits: dict[str, set[str] | None]):
    def read(module: str) -> str | None:
        source = module_source(module)
        return _edit(source, edits[module]) if source is not None and module in edits else source

    return read


@pytest.fixture(scope="module")
def plans():
    return {job.cfg.notebook: plan_for(job.cfg) for job in plan_jobs()}


def _codes(plans, read=module_source, *, installed: bool = False) -> dict[str, str]:
    """The source part of each plan's key (``installed``: the key itself, with the runtime variants)."""
    return {name: closure_hash(plan.closure_roots(), None if installed else read) for name, plan in plans.items()}


def _presentation(module: str) -> set[str]:
    tree = ast.parse(module_source(module))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and _is_presentation(n.name)}


def test_keys_come_from_the_closure_and_are_stable(plans):
    first, again = _codes(plans), _codes(plans)
    assert first == again
    # The networks of Paper 2 Figs. 1, 4 and 5 are computed by the same code: one closure, shared units.
    ensemble = {name for name in plans if name.startswith(("p2_fig1", "p2_fig4", "p2_fig5"))}
    assert len({first[n] for n in ensemble}) == 1
    assert len({first[n] for n in set(plans) - ensemble}) == len(plans) - len(ensemble)
    name, plan = next(iter(plans.items()))
    keys = cache.unit_keys(plan, "cpu")
    assert keys == cache.unit_keys(plan, "cpu", _codes(plans, installed=True)[name])
    assert keys != cache.unit_keys(plan, "cpu", "another closure")


def test_editing_plots_tables_claims_pages_runner_or_cli_keeps_every_key(plans):
    edits: dict[str, set[str] | None] = {m: None for m in PLUMBING}
    for fig in figures().values():
        names = _presentation(fig.module.__name__)
        assert names, fig.module.__name__
        edits[fig.module.__name__] = names
    assert _codes(plans, _reader(edits)) == _codes(plans)


def test_no_unit_reaches_plot_or_pipeline_plumbing(plans):
    for name, plan in plans.items():
        reached = closure(plan.closure_roots())
        assert not {m for m, _ in reached} & set(PLUMBING), name
        assert not any(n.startswith("plot") for _, n in reached), name


@pytest.mark.parametrize(
    ("module", "names", "renewed"),
    [
        ("lossdyn.dynamical.ensemble", {"_train"}, {"p2_fig1", "p2_fig2", "p2_fig4", "p2_fig5"}),
        ("lossdyn.dynamical.batched_mlp", {"BatchedMLP.gd_step_fn"}, {"p2_fig1", "p2_fig2", "p2_fig4", "p2_fig5"}),
        ("lossdyn.dynamical.p2_fig2_3_period_doubling", {"_replay"}, {"p2_fig2"}),
        ("lossdyn.dissipativity.training", {"train_and_measure"}, {"p1_fig2", "p1_fig5", "p1_turnpike"}),
        ("lossdyn.dissipativity.neural_ode", None, {"p1_neural_ode"}),
        ("lossdyn.dissipativity.soft_ce", {"delta"}, {"p1_"}),
        ("lossdyn.gradnorms.theory", None, {"q_gradient"}),
    ],
)
def test_editing_compute_code_renews_exactly_the_units_that_reach_it(plans, module, names, renewed):
    before, after = _codes(plans), _codes(plans, _reader({module: names}))
    changed = {name for name in plans if before[name] != after[name]}
    assert changed == {name for name in plans if any(name.startswith(r) for r in renewed)}


# -- the walker on a package made up for the test ----------------------------------------------------
FAKE = {
    "lossdyn.fake": '"""A package."""\nfrom lossdyn.fake.b import helper as helper\n',
    "lossdyn.fake.a": (
        '"""Root module."""\nfrom lossdyn.fake import helper\nfrom lossdyn.fake import c\n'
        "SCALE = 2  # a constant\nUNUSED = 3\n\n"
        "def root(x):\n    return helper(x) * SCALE + c.used(x)\n\n"
        "def plot(x):\n    return UNUSED\n\n"
        "def lazy(x):\n    from lossdyn.fake.d import far\n    return far(x)\n"
    ),
    "lossdyn.fake.b": "def helper(x):\n    return x + 1\n\ndef other(x):\n    return x\n",
    "lossdyn.fake.c": "def used(x):\n    return x\n\ndef unused(x):\n    return -x\n",
    "lossdyn.fake.d": "def far(x):\n    return x\n",
}


def _fake(**changes: str):
    sources = {**FAKE, **changes}
    return sources.get


def test_the_walker_follows_reexports_module_attributes_and_local_imports():
    reached = set(closure([("lossdyn.fake.a", "root")], _fake()))
    assert reached == {
        ("lossdyn.fake.a", REST),
        ("lossdyn.fake.a", "SCALE"),
        ("lossdyn.fake.a", "root"),
        ("lossdyn.fake.b", REST),
        ("lossdyn.fake.b", "helper"),
        ("lossdyn.fake.c", REST),
        ("lossdyn.fake.c", "used"),
    }
    assert ("lossdyn.fake.d", "far") in closure([("lossdyn.fake.a", "lazy")], _fake())


def test_the_hash_sees_code_not_comments():
    base = closure_hash([("lossdyn.fake.a", "root")], _fake())
    a = FAKE["lossdyn.fake.a"]
    same = {
        "lossdyn.fake.a": a.replace("# a constant", "# another comment").replace(
            "def root(x):\n", 'def root(x):\n    """Now documented."""\n'
        ),
        "lossdyn.fake.c": FAKE["lossdyn.fake.c"] + "\ndef new(x):\n    return x\n",
        "lossdyn.fake.b": FAKE["lossdyn.fake.b"].replace("return x\n", "return 2 * x\n"),  # other()
    }
    for module, text in same.items():
        assert closure_hash([("lossdyn.fake.a", "root")], _fake(**{module: text})) == base, module
    assert closure_hash([("lossdyn.fake.a", "plot")], _fake()) != closure_hash(
        [("lossdyn.fake.a", "plot")], _fake(**{"lossdyn.fake.a": a.replace("UNUSED = 3", "UNUSED = 4")})
    )
    renew = {
        "lossdyn.fake.a": a.replace("SCALE = 2", "SCALE = 3"),
        "lossdyn.fake.b": FAKE["lossdyn.fake.b"].replace("x + 1", "x + 2"),
        "lossdyn.fake.c": FAKE["lossdyn.fake.c"].replace("return x\n\ndef unused", "return x + 0\n\ndef unused"),
    }
    for module, text in renew.items():
        assert closure_hash([("lossdyn.fake.a", "root")], _fake(**{module: text})) != base, module


def test_a_module_runtime_variant_enters_the_key(plans, monkeypatch):
    """The Paper 2 step is a compiled kernel or the tensor program (LOSSDYN_COMPILE): their float32 bits
    differ, so their units have different keys; Paper 1 units do not depend on it."""
    fused = _codes(plans, installed=True)
    monkeypatch.setenv("LOSSDYN_COMPILE", "0")
    eager = _codes(plans, installed=True)
    changed = {name for name in plans if fused[name] != eager[name]}
    assert changed == {name for name in plans if name.startswith("p2_")}
