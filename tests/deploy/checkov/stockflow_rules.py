"""stockflow's own checkov rules for the CloudFormation templates (deploy/aws, localstack),
beside checkov's built-in checks (run by scripts/lib/deploycheck.sh with --external-checks-dir):

- CKV_STOCKFLOW_1: an IAM policy names no wildcard action (`*`, `sqs:*`, `sqs:Get*`) and no `*`
  resource, except in a statement whose every action has no resource-level permissions in AWS
  (RESOURCELESS), where `*` is the only resource AWS accepts.
- CKV_STOCKFLOW_2: a security group admits traffic by address only on 80 and 443 (the public
  load balancer, the VPC endpoints); every other port only from another security group, and
  never all protocols.
- CKV_STOCKFLOW_3: queues and topics are encrypted at rest (SSE-SQS or a KMS key; a KMS key for
  topics, possibly chosen by a parameter).
"""

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

# Actions the AWS Service Authorization Reference lists without a resource type.
RESOURCELESS = {"sns:ListTopics", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
OPEN_PORTS = {80, 443}


def _listed(value):
    return value if isinstance(value, list) else [value]


def _policy_documents(properties):
    for key in ("PolicyDocument",):
        if key in properties:
            yield properties[key]
    for policy in properties.get("Policies") or []:
        if isinstance(policy, dict) and "PolicyDocument" in policy:
            yield policy["PolicyDocument"]


class NoWildcardGrants(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="IAM policies grant no wildcard action and no * resource where AWS allows a resource",
            id="CKV_STOCKFLOW_1",
            categories=[CheckCategories.IAM],
            supported_resources=["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"],
        )

    def scan_resource_conf(self, conf):
        for document in _policy_documents(conf.get("Properties") or {}):
            for statement in _listed((document or {}).get("Statement") or []):
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                if "NotAction" in statement or "NotResource" in statement:
                    return CheckResult.FAILED
                actions = [a for a in _listed(statement.get("Action", [])) if isinstance(a, str)]
                if any("*" in action for action in actions):
                    return CheckResult.FAILED
                resources = _listed(statement.get("Resource", []))
                if "*" in resources and not set(actions) <= RESOURCELESS:
                    return CheckResult.FAILED
        return CheckResult.PASSED


def _port_range(rule):
    try:
        return int(rule.get("FromPort")), int(rule.get("ToPort"))
    except (TypeError, ValueError):
        return None


def _admits_by_address_too_widely(rule):
    if not isinstance(rule, dict):
        return False
    if str(rule.get("IpProtocol")) in ("-1", "all"):
        return True
    if "CidrIp" not in rule and "CidrIpv6" not in rule:
        return False  # from a security group or a prefix list
    ports = _port_range(rule)
    return ports is None or ports[0] != ports[1] or ports[0] not in OPEN_PORTS


class IngressOnlyAlongTheArrows(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="Security groups admit addresses only on 80/443, other ports only from security groups",
            id="CKV_STOCKFLOW_2",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"],
        )

    def scan_resource_conf(self, conf):
        properties = conf.get("Properties") or {}
        if conf.get("Type") == "AWS::EC2::SecurityGroupIngress":
            rules = [properties]
        else:
            rules = _listed(properties.get("SecurityGroupIngress") or [])
        return CheckResult.FAILED if any(_admits_by_address_too_widely(r) for r in rules) else CheckResult.PASSED


class EncryptedMessaging(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="SQS queues and SNS topics are encrypted at rest",
            id="CKV_STOCKFLOW_3",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["AWS::SQS::Queue", "AWS::SNS::Topic"],
        )

    def scan_resource_conf(self, conf):
        properties = conf.get("Properties") or {}
        if conf.get("Type") == "AWS::SQS::Queue":
            encrypted = properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
        else:
            encrypted = "KmsMasterKeyId" in properties
        return CheckResult.PASSED if encrypted else CheckResult.FAILED


no_wildcard_grants = NoWildcardGrants()
ingress_only_along_the_arrows = IngressOnlyAlongTheArrows()
encrypted_messaging = EncryptedMessaging()
