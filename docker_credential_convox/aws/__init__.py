"""The AWS call layer: botocore clients, the deadline over their calls, AWS credentials, and the
ECR token call. It is handed plain values (a target, settings, a `CredentialPlan`) and knows
nothing of the registries, sources or backends that call it.

No module here is on the path of a `get` answered from a cache, and each imports botocore inside
the functions that call AWS only (boto3 only wraps botocore's session and client; the helper
uses botocore directly and saves boto3's import).

Bounds, so that a machine without AWS credentials fails in seconds instead of hanging:
- every API call: connect timeout 2 s, read timeout 10 s (settings.py; the environment variables
  DOCKER_CREDENTIAL_CONVOX_AWS_CONNECT_TIMEOUT and ..._READ_TIMEOUT change them), at most
  `clients.MAX_ATTEMPTS` attempts in botocore's "standard" retry mode;
- the instance-metadata probe of the default chain: `clients.METADATA_TIMEOUT` s per request and
  `clients.METADATA_ATTEMPTS` attempt (botocore makes two requests, a token PUT and a GET), so
  about 2 s when 169.254.169.254 swallows packets. AWS_METADATA_SERVICE_TIMEOUT and
  AWS_METADATA_SERVICE_NUM_ATTEMPTS, when set, win; AWS_EC2_METADATA_DISABLED=true skips it;
- a total deadline (settings.py, DOCKER_CREDENTIAL_CONVOX_AWS_DEADLINE, default 20 s) over a
  mint's API calls together (AssumeRole, then GetAuthorizationToken) and over each Secrets Manager
  call (deadline.py). Resolving credentials is not bounded by it: a credential_process may wait
  for a person (an MFA code).
The region calls without a region of their own take (Secrets Manager, STS for a profile's role)
is AWS_REGION, else AWS_DEFAULT_REGION, else the profile's (settings.aws_region); botocore alone
would ignore AWS_REGION.
Endpoint overrides come from AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC,
AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL (see settings.py), read here because Debian 12's
botocore predates them. With an override, the FIPS and dual-stack switches are not applied
(botocore refuses the combination); otherwise a FIPS or dual-stack registry host selects the
matching API endpoint.
"""
