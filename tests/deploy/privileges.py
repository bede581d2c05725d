"""Keeps the task roles of deploy/aws/stockflow.yaml from drifting away from the code.

For each service it derives the AWS operations the code calls: every zero-argument call
`.operation_name()` in the service's crates, where `operation_name` is an operation of an AWS SDK
crate the crate depends on and the service builds a client of (`aws_sdk_x::Client::new`; the
SDK's own list of operations: the directories of `src/operation/` in
~/.cargo/registry/src/*/aws-sdk-<service>-<version>/, the versions of Cargo.lock), plus the same
in the modules of stockflow-messaging the service reaches (its `stockflow_messaging::<module>` paths
and, from those, `crate::<module>` paths, transitively). Test code (`#[cfg(test)] mod`) and
comments are left out. Operations map to IAM actions by name (`get_queue_url` ->
`sqs:GetQueueUrl`); the batch operations are authorized by their single action (BATCH_ACTIONS).
Publishing to the topics, which are encrypted with a KMS key, needs kms:GenerateDataKey and
kms:Decrypt (IMPLIED).

It then compares with the actions the service's task role allows and fails, naming the service
and the action, on an action granted but not called, or called but not granted. It also fails on
a task role it does not know (every TaskRoleArn must belong to a service below) and on a managed
policy (cannot be compared). Which resources a grant names is the policy check's concern
(tests/deploy/checkov, CKV_STOCKFLOW_1).

  python tests/deploy/privileges.py [--template deploy/aws/stockflow.yaml] [--registry DIR]
Exit 0 when every role matches; 1 with one line per problem.
"""

import argparse
import glob
import os
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

# service -> (its crates, the logical id of its task role). The smoke task runs the black-box
# suite, which runs stockctl.
SERVICES = {
    "sales": (["services/sales"], "SalesTaskRole"),
    "factory": (["services/factory"], "FactoryTaskRole"),
    "stock-worker": (["services/stock-worker"], "StockWorkerTaskRole"),
    "stock-inc-worker": (["services/stock-inc-worker"], "StockIncWorkerTaskRole"),
    "smoke": (["tests/blackbox", "services/stockctl"], "SmokeTaskRole"),
}
SHARED = "services/messaging"
SHARED_CRATE = "stockflow-messaging"
# The SDK crates whose calls are compared, with their IAM service prefix.
SDKS = {"aws-sdk-sqs": "sqs", "aws-sdk-sns": "sns", "aws-sdk-cloudwatch": "cloudwatch"}
# IAM has no action of their own for these: the single operation's action authorizes them.
BATCH_ACTIONS = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sns:PublishBatch": "sns:Publish",
}
# Actions a role needs because of what its calls touch, not a call of their own.
IMPLIED = {"sns:Publish": {"kms:GenerateDataKey", "kms:Decrypt"}}

ZERO_ARG_CALL = re.compile(r"\.([a-z][a-z0-9_]*)\(\)")


# ---------------------------------------------------------------- the template
class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) as their long forms."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path):
    return yaml.load(pathlib.Path(path).read_text(), Loader=_CfnLoader)


def listed(value):
    return value if isinstance(value, list) else [value]


def task_role_ids(resources):
    """The logical ids of the roles that task definitions use as TaskRoleArn."""
    ids = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::ECS::TaskDefinition":
            arn = resource.get("Properties", {}).get("TaskRoleArn")
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                target = arn["Fn::GetAtt"]
                ids.add(target[0] if isinstance(target, list) else target.split(".")[0])
    return ids


def granted(role_id, role, problems):
    """The actions a role allows (a wildcard stays as written, so it never matches a call; the
    policy check, CKV_STOCKFLOW_1, rejects it and `*` resources)."""
    properties = role.get("Properties", {})
    if properties.get("ManagedPolicyArns"):
        problems.append(f"{role_id}: managed policies cannot be compared with the code; use inline policies")
    actions = set()
    for policy in properties.get("Policies", []):
        for statement in listed(policy["PolicyDocument"].get("Statement", [])):
            if statement.get("Effect") == "Allow":
                actions |= set(listed(statement.get("Action", [])))
    return actions


# ---------------------------------------------------------------- the code
def locked_versions():
    text = (ROOT / "Cargo.lock").read_text()
    versions = {}
    for name, version in re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text):
        if name in SDKS:
            versions.setdefault(name, []).append(version)
    return versions


def sdk_operations(registry):
    """{sdk crate: set of operation names} from the SDK sources Cargo.lock pins."""
    operations = {}
    for crate, versions in locked_versions().items():
        ops = set()
        for version in versions:
            found = glob.glob(os.path.join(registry, "*", f"{crate}-{version}", "src", "operation"))
            if not found:
                sys.exit(f"privileges: {crate} {version} (Cargo.lock) not found under {registry}: run `cargo fetch`")
            ops |= {p.name for p in pathlib.Path(found[0]).iterdir() if p.is_dir()}
        operations[crate] = ops
    return operations


def crate_dependencies(crate_dir):
    text = (ROOT / crate_dir / "Cargo.toml").read_text()
    section = re.search(r"^\[dependencies\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    return set(re.findall(r"^([A-Za-z0-9_-]+)", section.group(1), re.M)) if section else set()


def strip_code(text):
    """The source without comments and without `#[cfg(test)]` modules."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    while True:
        match = re.search(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub\s+)?mod\s+\w+\s*\{", text)
        if not match:
            return text
        depth, i = 1, match.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[: match.start()] + text[i:]


def rust_files(path):
    """A .rs file, or every .rs file below a directory."""
    path = ROOT / path
    return sorted(path.rglob("*.rs")) if path.is_dir() else [path]


def referenced_modules(text, root_path):
    """Top-level module names reached through `root_path::name` or `root_path::{a, b::c}`."""
    names = set(re.findall(rf"\b{root_path}::([a-z_][a-z0-9_]*)\b", text))
    for group in re.findall(rf"\b{root_path}::\{{([^}}]*)\}}", text):
        names |= {item.strip().split("::")[0] for item in group.split(",") if item.strip()}
    return names - {"self", "super"}


def shared_module_files(start):
    """The files of stockflow-messaging's modules reached from `start`, transitively."""
    seen, todo, files = set(), list(start), []
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for candidate in (f"{SHARED}/src/{module}.rs", f"{SHARED}/src/{module}"):
            if (ROOT / candidate).exists():
                for file in rust_files(candidate):
                    files.append(file)
                    todo.extend(referenced_modules(strip_code(file.read_text()), "crate"))
    return files


def called_actions(crate_dirs, operations):
    """{IAM action: [where it is called]} for a service's crates and the shared modules they reach."""
    sources = []  # (file, the SDK crates its crate depends on)
    shared_start = set()
    for crate in crate_dirs:
        sdks = crate_dependencies(crate) & operations.keys()
        # a test crate's tests/ are what runs (the black-box suite); a service's are not
        for file in rust_files(f"{crate}/src") + (rust_files(f"{crate}/tests") if crate.startswith("tests/") else []):
            sources.append((file, sdks))
            shared_start |= referenced_modules(strip_code(file.read_text()), "stockflow_messaging")
        # every other workspace crate it depends on, whole (warehouse: no AWS calls today)
        for dependency in crate_dependencies(crate):
            if dependency != SHARED_CRATE and (ROOT / "services" / dependency / "Cargo.toml").exists():
                dep_sdks = crate_dependencies(f"services/{dependency}") & operations.keys()
                sources += [(f, dep_sdks) for f in rust_files(f"services/{dependency}/src")]
    shared_sdks = crate_dependencies(SHARED) & operations.keys()
    sources += [(f, shared_sdks) for f in shared_module_files(shared_start)]

    # A service can only call an SDK it builds a client of (shared code it reaches may hold
    # calls of another, e.g. aws.rs's queue lookup in sales, which has no SQS client).
    texts = {file: strip_code(file.read_text()) for file, _ in sources}
    def builds_client(sdk):
        constructor = re.compile(rf"\b{sdk.replace('-', '_')}::Client::(new|from_conf)\b")
        return any(constructor.search(text) for text in texts.values())

    clients = {sdk for sdk in operations if builds_client(sdk)}
    actions, problems = {}, []
    for file, sdks in sources:
        text = texts[file]
        mentioned = {sdk for sdk in sdks if sdk.replace("-", "_") in text}
        for match in ZERO_ARG_CALL.finditer(text):
            op = match.group(1)
            owners = {sdk for sdk in sdks & clients if op in operations[sdk]}
            if len(owners) > 1:
                owners &= mentioned
            if not owners:
                continue
            where = f"{file.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
            if len(owners) > 1:
                problems.append(f"{where}: .{op}() is an operation of {sorted(owners)}; cannot tell which")
                continue
            action = f"{SDKS[owners.pop()]}:{''.join(part.title() for part in op.split('_'))}"
            actions.setdefault(BATCH_ACTIONS.get(action, action), []).append(where)
    return actions, problems


# ---------------------------------------------------------------- the comparison
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default=str(ROOT / "deploy/aws/stockflow.yaml"))
    parser.add_argument("--registry", default=os.path.expanduser("~/.cargo/registry/src"))
    args = parser.parse_args()

    resources = load_template(args.template)["Resources"]
    operations = sdk_operations(args.registry)
    problems = []
    known = {role for _, role in SERVICES.values()}
    for role in sorted(task_role_ids(resources) - known):
        problems.append(f"{role}: a task role no service of tests/deploy/privileges.py owns; add it to SERVICES")

    for service, (crates, role_id) in SERVICES.items():
        if role_id not in resources:
            problems.append(f"{service}: task role {role_id} is missing from {args.template}")
            continue
        calls, call_problems = called_actions(crates, operations)
        problems += call_problems
        needed = set(calls)
        for action, implied in IMPLIED.items():
            if action in needed:
                needed |= implied
        allowed = granted(role_id, resources[role_id], problems)
        for action in sorted(allowed - needed):
            problems.append(f"{service}: {role_id} grants {action}, which its code never calls: remove the grant")
        for action in sorted(needed - allowed):
            why = ", ".join(calls[action][:3]) if action in calls else "implied by " + ", ".join(
                a for a, implied in IMPLIED.items() if action in implied and a in needed)
            problems.append(f"{service}: its code calls {action} ({why}) but {role_id} does not grant it: add the grant")
        print(f"[privileges] {service}: {len(needed)} actions called, {len(allowed)} granted", file=sys.stderr)

    for problem in problems:
        print(f"[privileges] FAIL {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"[privileges] every task role grants exactly what its service calls ({len(SERVICES)} roles)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
