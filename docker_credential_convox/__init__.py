"""Docker credential helper: ECR tokens minted with boto3, other registries in the OS keyring."""

__version__ = "0.1.0"
DISTRIBUTION = "docker-credential-convox"
