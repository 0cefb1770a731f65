"""Docker credential helper: ECR tokens minted with botocore, other registries in the OS keyring."""

__version__ = "0.1.0"
# The executable's name, spelled here once: files, services, messages and help derive from it.
APP = "docker-credential-convox"
DISTRIBUTION = APP  # the Python distribution bears the same name
