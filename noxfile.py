"""Development sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s demo``."""

import nox

nox.options.sessions = ["lint", "tests", "demo"]
nox.options.error_on_missing_interpreters = True

# The oldest and the newest scikit-learn we support.
SKLEARN_VERSIONS = ["1.6.1", "latest"]

# Frameworks the adapter tests run on: CPU builds. torch 2.13.0 is the CPU wheel
# that this project's machines carry locally; a plain "torch" would pull CUDA.
TORCH = ["torch==2.13.0", "skorch>=1.0"]
KERAS = []


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
    if sklearn != "latest":
        session.install(f"scikit-learn=={sklearn}")
    session.run(
        "python", "-c", "import sklearn; print('scikit-learn', sklearn.__version__)"
    )
    session.run("pytest", *session.posargs)


@nox.session
def demo(session):
    """Run the quickstart demo on scikit-learn's digits."""
    session.install("-e", ".")
    session.run("python", "examples/quickstart.py")
