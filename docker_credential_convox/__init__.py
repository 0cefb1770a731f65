"""Docker credential helper: ECR tokens minted with botocore, other registries in the OS keyring."""

__version__ = "0.1.0"
# The executable's name, spelled here once: files, services, messages and help derive from it.
APP = "docker-credential-convox"
DISTRIBUTION = APP  # the Python distribution bears the same name
# Type-only imports sit under `if TYPE_CHECKING:`, this name imported from here: `typing` costs
# milliseconds at start-up, so it is never imported at run time, and mypy treats any name
# TYPE_CHECKING as always true.
TYPE_CHECKING = False
# An import inside a function keeps botocore, keyring or jeepney, or a module that a hot path
# (tests/test_startup.py) never needs, off the paths that do not use it; that is its only reason.
