#!/bin/bash
# LocalStack READY hook: creates the AWS resources a Coffer deployment has (see lib/coffer-control-plane.ts), so the
# AWS runtime and manual experiments find them. Safe to run again: existing resources are left alone.
#
#   - the items table: pk (S) hash key, sk (S) range key, on-demand, TTL on expiresAt (epoch seconds)
#   - a symmetric KMS key with alias alias/<name>/envelope (wraps per-version data keys)
#   - the audit bucket, versioned with Object Lock (COMPLIANCE default retention), as audit segments require
#
# The AWS integration tests do not depend on these: they create uniquely named resources of their own.
set -euo pipefail

name="${COFFER_NAME:-coffer}"
table="${COFFER_TABLE:-coffer-items}"
bucket="${COFFER_AUDIT_BUCKET:-coffer-audit}"
retention_days="${COFFER_AUDIT_RETENTION_DAYS:-1}"
alias="alias/${name}/envelope"

if awslocal dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
  echo "coffer: table $table exists"
else
  awslocal dynamodb create-table \
    --table-name "$table" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE >/dev/null
  awslocal dynamodb wait table-exists --table-name "$table"
  awslocal dynamodb update-time-to-live \
    --table-name "$table" \
    --time-to-live-specification Enabled=true,AttributeName=expiresAt >/dev/null
  echo "coffer: created table $table (TTL on expiresAt)"
fi

if awslocal kms describe-key --key-id "$alias" >/dev/null 2>&1; then
  echo "coffer: key $alias exists"
else
  key_id="$(awslocal kms create-key \
    --description "Coffer ($name): wraps per-version secret data keys" \
    --key-spec SYMMETRIC_DEFAULT \
    --key-usage ENCRYPT_DECRYPT \
    --query KeyMetadata.KeyId --output text)"
  awslocal kms create-alias --alias-name "$alias" --target-key-id "$key_id"
  echo "coffer: created key $key_id as $alias"
fi

if awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  echo "coffer: bucket $bucket exists"
else
  # Object Lock can only be turned on at creation; it turns versioning on with it.
  awslocal s3api create-bucket --bucket "$bucket" --object-lock-enabled-for-bucket >/dev/null
  awslocal s3api put-object-lock-configuration \
    --bucket "$bucket" \
    --object-lock-configuration \
    "{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":{\"DefaultRetention\":{\"Mode\":\"COMPLIANCE\",\"Days\":${retention_days}}}}"
  echo "coffer: created bucket $bucket (Object Lock, COMPLIANCE, ${retention_days} days)"
fi
