"""Development sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s demo``.

``nox -s reproduce`` (not in the default list) reproduces a published result.
"""

import nox

nox.options.sessions = ["lint", "tests", "docs", "demo"]
nox.options.error_on_missing_interpreters = True

# The oldest and the newest scikit-learn we support.
SKLEARN_VERSIONS = ["1.6.1", "latest"]

# Frameworks the adapter tests run on: CPU builds. torch 2.13.0 is the CPU wheel
# that this project's machines carry locally; a plain "torch" would pull CUDA.
TORCH = ["torch==2.13.0", "skorch>=1.1"]
KERAS = ["tensorflow-cpu", "keras", "scikeras==0.13.0"]
# Keras on its torch backend: the same adapter tests, without TensorFlow.
KERAS_ON_TORCH = ["torch==2.13.0", "keras", "scikeras==0.13.0"]
# The fine-tuning adapters, HFAdapter (with peft for the LoRA tests) and
# LightningAdapter, share one environment; it also runs the sharded queries
# under Lightning Fabric and accelerate (with a TorchAdapter, hence skorch).
FINETUNE = [
    "torch==2.13.0",
    "transformers>=4.40",
    "peft",
    "lightning>=2.2",
    "accelerate",
    "skorch>=1.1",
]
# Keras on JAX: JAX's CPU wheel; scikeras imports only Keras, so no TensorFlow.
KERAS_ON_JAX = ["jax[cpu]", "keras", "scikeras==0.13.0"]


@nox.session
def lint(session):
    """Run ruff's linter, check the formatting, and type-check the package."""
    session.install("ruff>=0.6", "mypy>=1.10", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
@nox.parametrize("sklearn", SKLEARN_VERSIONS)
def tests(session, sklearn):
    """Run the test suite (doctests included) against one scikit-learn version."""
    session.install("-e", ".[test]", *TORCH, *KERAS)
    env = {}
    if sklearn != "latest":
        session.install(f"scikit-learn=={sklearn}")
        # scikit-learn 1.6's estimator checks refuse to import next to
        # array-api-compat unless SciPy's array API support is on.
        env["SCIPY_ARRAY_API"] = "1"
    session.run(
        "python", "-c", "import sklearn; print('scikit-learn', sklearn.__version__)"
    )
    # The examples, the notebook and the reproduction run once, on the newest
    # scikit-learn.
    selection = (
        [] if sklearn == "latest" else ["-m", "not examples and not reproduction"]
    )
    session.run("pytest", *selection, *session.posargs, env=env)
    if sklearn == "latest" and not session.posargs:
        for extra in ("keras_torch", "keras_jax", "finetune", "ray"):
            session.notify(f"tests_{extra}")


@nox.session
def tests_keras_torch(session):
    """Run the Keras adapter tests with KERAS_BACKEND=torch (no TensorFlow)."""
    session.install("-e", ".[test]", *KERAS_ON_TORCH)
    session.run(
        "pytest",
        "tests/adapters",
        "-k",
        "keras",
        *session.posargs,
        env={"KERAS_BACKEND": "torch"},
    )


@nox.session
def tests_keras_jax(session):
    """Run the Keras adapter tests and the JAX array tests with KERAS_BACKEND=jax."""
    session.install("-e", ".[test]", *KERAS_ON_JAX)
    session.run(
        "pytest",
        "tests/adapters",
        "tests/test_jax_arrays.py",
        "-k",
        "keras or jax_arrays",
        *session.posargs,
        env={"KERAS_BACKEND": "jax"},
    )


@nox.session
def tests_finetune(session):
    """Run the HFAdapter and LightningAdapter tests, the shared contract included."""
    session.install("-e", ".[test,hf,lightning]", *FINETUNE)
    session.run(
        "pytest",
        "al_adapters/adapters/hf.py",
        "al_adapters/adapters/lightning.py",
        "tests/adapters/test_hf.py",
        "tests/adapters/test_hf_pools.py",
        "tests/adapters/test_hf_consistent_dropout.py",
        "tests/adapters/test_lightning.py",
        "tests/adapters/test_lightning_params.py",
        "tests/adapters/test_contract.py",
        "tests/test_examples_hf.py",
        "tests/test_distributed_launchers.py",
        "-k",
        "hf or transformer or lightning",
        *session.posargs,
        env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )


@nox.session
def tests_ray(session):
    """Run the Ray Data tests (the ``ray`` extra) on a 2-CPU local cluster."""
    session.install("-e", ".[test,ray]", *TORCH, *KERAS, "pytest-timeout")
    session.run(
        "pytest", "tests/test_ray_data.py", "-p", "no:cacheprovider", *session.posargs
    )


@nox.session
def docs(session):
    """Build the documentation; any Sphinx warning is an error."""
    session.install(
        "-e", ".[docs]", *TORCH, *KERAS, "lightning>=2.2", "transformers>=4.40"
    )
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def reproduce(session):
    """Reproduce Gal et al. (2017) on MNIST and check it (about 1 h on 2 cores).

    Five strategies x three seeds with torch, and BALD against random sampling
    with Keras. MNIST comes from ../shared/data/mnist, or from the directory
    given as ``nox -s reproduce -- --data-dir DIR``.
    """
    session.install("-e", ".", *TORCH, *KERAS, "matplotlib>=3.7")
    script = "benchmarks/reproductions/gal2017.py"
    common = ["--budget=300", "--jobs=2", "--threads=1", *session.posargs]
    session.run(
        "python",
        script,
        "--seeds=0,1,2",
        "--output-dir=reproduce-results",
        "--check=nightly",
        *common,
    )
    session.run(
        "python",
        script,
        "--framework=keras",
        "--strategies=bald,random",
        "--seeds=0,1,2",
        "--output-dir=reproduce-results",
        "--check=bald-vs-random",
        *common,
    )
    session.run(
        "python",
        "benchmarks/reproductions/kirsch2019.py",
        "table1",
        "--output-dir=reproduce-results",  # reuses the BALD runs above
        *common,
    )


@nox.session
def demo(session):
    """Run the quickstart demo on scikit-learn's digits."""
    session.install("-e", ".")
    session.run("python", "examples/quickstart.py")
