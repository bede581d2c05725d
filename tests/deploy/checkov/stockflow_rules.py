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


class _Rule(BaseResourceCheck):
    """One of stockflow's rules: NAME, ID, CATEGORY and RESOURCES (the resource types it
    checks) are class attributes, and `holds(properties, kind)` says whether a resource of
    type `kind` with those `Properties` passes."""

    def __init__(self):
        super().__init__(
            name=self.NAME,
            id=self.ID,
            categories=[self.CATEGORY],
            supported_resources=self.RESOURCES,
        )

    def scan_resource_conf(self, conf):
        passes = self.holds(conf.get("Properties") or {}, conf.get("Type"))
        return CheckResult.PASSED if passes else CheckResult.FAILED


class NoWildcardGrants(_Rule):
    NAME = "IAM policies grant no wildcard action and no * resource where AWS allows a resource"
    ID, CATEGORY = "CKV_STOCKFLOW_1", CheckCategories.IAM
    RESOURCES = ["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]

    def holds(self, properties, kind):
        for document in _policy_documents(properties):
            for statement in _listed((document or {}).get("Statement") or []):
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                if "NotAction" in statement or "NotResource" in statement:
                    return False
                actions = [a for a in _listed(statement.get("Action", [])) if isinstance(a, str)]
                if any("*" in action for action in actions):
                    return False
                resources = _listed(statement.get("Resource", []))
                if "*" in resources and not set(actions) <= RESOURCELESS:
                    return False
        return True


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


class IngressOnlyAlongTheArrows(_Rule):
    NAME = "Security groups admit addresses only on 80/443, other ports only from security groups"
    ID, CATEGORY = "CKV_STOCKFLOW_2", CheckCategories.NETWORKING
    RESOURCES = ["AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"]

    def holds(self, properties, kind):
        if kind == "AWS::EC2::SecurityGroupIngress":
            rules = [properties]
        else:
            rules = _listed(properties.get("SecurityGroupIngress") or [])
        return not any(_admits_by_address_too_widely(r) for r in rules)


class EncryptedMessaging(_Rule):
    NAME = "SQS queues and SNS topics are encrypted at rest"
    ID, CATEGORY = "CKV_STOCKFLOW_3", CheckCategories.ENCRYPTION
    RESOURCES = ["AWS::SQS::Queue", "AWS::SNS::Topic"]

    def holds(self, properties, kind):
        # SSE-SQS (queues only), or a KMS key.
        sse_sqs = kind == "AWS::SQS::Queue" and properties.get("SqsManagedSseEnabled") is True
        return sse_sqs or "KmsMasterKeyId" in properties


no_wildcard_grants = NoWildcardGrants()
ingress_only_along_the_arrows = IngressOnlyAlongTheArrows()
encrypted_messaging = EncryptedMessaging()
