#!/usr/bin/env bash
# LocalStack ready hook: deploy the stockflow CloudFormation template (../../stockflow.yaml).
#
# Runs in two places:
#   - inside localstack/localstack:4.13 (compose mounts this file at
#     /etc/localstack/init/ready.d/10-deploy-stockflow.sh and the template at
#     /etc/localstack/stockflow.yaml); uses `awslocal`.
#   - natively (stockflow-devstack, services/devstack/src/localstack.rs, copies both into $FILESYSTEM_ROOT/etc/localstack/...);
#     uses `aws --endpoint-url http://$GATEWAY_LISTEN` with test credentials.
# It can also be run by hand against any LocalStack:
#   STOCKFLOW_PREFIX=t1_ STOCKFLOW_STACK_SUFFIX=-t1 localstack/init/ready.d/10-deploy-stockflow.sh
#
# Template: $STOCKFLOW_TEMPLATE, else <this script's dir>/../../stockflow.yaml
#           (= /etc/localstack/stockflow.yaml in the container).
# Stack:    stockflow${STOCKFLOW_STACK_SUFFIX}, parameters Prefix=${STOCKFLOW_PREFIX},
#           MaxReceiveCount=${STOCKFLOW_MAX_RECEIVE_COUNT:-5},
#           AlarmPeriodSeconds=${STOCKFLOW_ALARM_PERIOD_SECONDS:-60},
#           AlertEmail=${STOCKFLOW_ALERT_EMAIL}, AlertWebhookUrl=${STOCKFLOW_ALERT_WEBHOOK_URL}.
# Idempotent: a stack in *_COMPLETE whose tag stockflow:fingerprint matches the template and
# parameters is left alone; otherwise it is created or updated. Exits non-zero on failure, so
# LocalStack reports the hook as failed (/_localstack/init/ready).
set -euo pipefail

say() { printf '[stockflow-hook] %s\n' "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
template="${STOCKFLOW_TEMPLATE:-$(cd "$here/../.." && pwd)/stockflow.yaml}"
[ -f "$template" ] || die "template not found: $template (set STOCKFLOW_TEMPLATE or mount it at $(cd "$here/../.." 2>/dev/null && pwd)/stockflow.yaml)"

stack="stockflow${STOCKFLOW_STACK_SUFFIX:-}"
prefix="${STOCKFLOW_PREFIX:-}"
max_receive="${STOCKFLOW_MAX_RECEIVE_COUNT:-5}"
alarm_period="${STOCKFLOW_ALARM_PERIOD_SECONDS:-60}"
alert_email="${STOCKFLOW_ALERT_EMAIL:-}"
alert_webhook="${STOCKFLOW_ALERT_WEBHOOK_URL:-}"
timeout_s="${STOCKFLOW_DEPLOY_TIMEOUT:-180}"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export AWS_PAGER=""
export DISABLE_DEPRECATION_NOTICE=1   # awslocal's banner

# awslocal when the image has it (and no explicit endpoint was asked for), else aws + endpoint.
# In the container awslocal talks to its default (localhost:4566), which is this LocalStack.
if [ -z "${STOCKFLOW_AWS_ENDPOINT:-}" ] && command -v awslocal >/dev/null 2>&1; then
  awsc() { awslocal "$@"; }
  via="awslocal"
else
  endpoint="${STOCKFLOW_AWS_ENDPOINT:-}"
  if [ -z "$endpoint" ]; then
    listen="${GATEWAY_LISTEN:-127.0.0.1:4566}"
    listen="${listen%%,*}"                      # first of a comma-separated list
    host="${listen%:*}"; port="${listen##*:}"
    case "$host" in "" | 0.0.0.0 | "[::]" | ::) host=127.0.0.1 ;; esac
    endpoint="http://$host:$port"
  fi
  command -v aws >/dev/null 2>&1 || die "neither awslocal nor aws is on PATH"
  awsc() { aws --endpoint-url "$endpoint" "$@"; }
  via="aws --endpoint-url $endpoint"
fi

# Parameters as JSON (the shorthand syntax would split a webhook URL at its commas).
json_str() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
param() { printf '{"ParameterKey":"%s","ParameterValue":%s}' "$1" "$(json_str "$2")"; }
params="[$(param Prefix "$prefix"),$(param MaxReceiveCount "$max_receive"),$(param AlarmPeriodSeconds "$alarm_period"),$(param AlertEmail "$alert_email"),$(param AlertWebhookUrl "$alert_webhook")]"
fingerprint="$({ cat "$template"; printf '%s\n' "$params"; } | sha256sum | cut -c1-16)"

say "stack $stack (Prefix='$prefix', MaxReceiveCount=$max_receive, AlarmPeriodSeconds=$alarm_period) from $template via $via"

# One call (each CLI start costs ~0.5 s): "<status> <fingerprint tag or None>", or NONE if absent.
read -r status current < <(awsc cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].[StackStatus, Tags[?Key=='stockflow:fingerprint'].Value | [0]]" --output text 2>/dev/null \
  || echo NONE) || true
status="${status:-NONE}"

case "$status" in
  CREATE_COMPLETE | UPDATE_COMPLETE)
    if [ "$current" = "$fingerprint" ]; then
      say "stack $stack is $status and up to date: nothing to do"
      exit 0
    fi
    action=update ;;
  UPDATE_ROLLBACK_COMPLETE) action=update ;;
  NONE | DELETE_COMPLETE) action=create ;;
  ROLLBACK_COMPLETE | ROLLBACK_FAILED | CREATE_FAILED | DELETE_FAILED)
    say "stack $stack is $status: deleting it before creating it again"
    awsc cloudformation delete-stack --stack-name "$stack"
    for _ in $(seq 120); do   # polled: the CLI's waiter sleeps 30 s between checks
      s="$(awsc cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' \
        --output text 2>/dev/null || echo DELETE_COMPLETE)"
      case "$s" in DELETE_COMPLETE) break ;; DELETE_FAILED) die "could not delete $stack" ;; esac
      sleep 0.5
    done
    action=create ;;
  *) die "stack $stack is in state $status; not touching it" ;;
esac

t0=$(date +%s)
say "${action} stack $stack ..."
if [ "$action" = create ]; then
  awsc cloudformation create-stack --stack-name "$stack" --template-body "file://$template" \
    --parameters "$params" --tags "Key=stockflow:fingerprint,Value=$fingerprint" \
    --output text >/dev/null || die "create-stack $stack was refused"
else
  if ! out="$(awsc cloudformation update-stack --stack-name "$stack" --template-body "file://$template" \
      --parameters "$params" --tags "Key=stockflow:fingerprint,Value=$fingerprint" 2>&1)"; then
    case "$out" in
      *"No updates are to be performed"*) say "no changes to apply"; exit 0 ;;
      *) die "update-stack $stack was refused: $out" ;;
    esac
  fi
fi

# Poll instead of `aws cloudformation wait` (its waiters sleep 30 s between checks).
while :; do
  status="$(awsc cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null || echo UNKNOWN)"
  case "$status" in
    CREATE_COMPLETE | UPDATE_COMPLETE) break ;;
    *_IN_PROGRESS | UNKNOWN) ;;
    *)
      say "stack $stack ended in $status; failed resources:" >&2
      awsc cloudformation describe-stack-events --stack-name "$stack" \
        --query "StackEvents[?contains(ResourceStatus, 'FAILED')].[LogicalResourceId,ResourceStatus,ResourceStatusReason]" \
        --output text >&2 || true
      exit 1 ;;
  esac
  [ $(( $(date +%s) - t0 )) -lt "$timeout_s" ] || die "stack $stack still $status after ${timeout_s} s"
  sleep 0.5
done

say "stack $stack is $status after $(( $(date +%s) - t0 )) s; outputs:"
awsc cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text | sed 's/^/[stockflow-hook]   /'
