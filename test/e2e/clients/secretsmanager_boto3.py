#!/usr/bin/env python3
"""boto3, the AWS SDK for Python, against Coffer's Secrets Manager-compatible API.

Usage: secretsmanager_boto3.py <scenario> <prefix>

The endpoint comes from COFFER_SM_ENDPOINT and the credentials and region from the usual AWS_* variables, so the
client is built exactly as an application written for AWS builds it, plus `endpoint_url`. A scenario creates only
secrets whose names begin with <prefix>, and prints one JSON object on stdout: what boto3 returned, reduced to the
parts the test (test/e2e/secretsmanager-boto3.test.ts) asserts on. Errors are reported as botocore surfaces them
(`e.response['Error']['Code']` and `['Message']`, and the HTTP status), which is what Python code matching on AWS
errors reads.

To add a scenario (regions, replication, …), write a function taking the prefix and returning a JSON-able dict, and
decorate it with @scenario; `client(region)` gives a client for another signing region.
"""

import json
import os
import sys
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def client(region=None):
    return boto3.client(
        "secretsmanager",
        endpoint_url=os.environ["COFFER_SM_ENDPOINT"],
        region_name=region or os.environ["AWS_DEFAULT_REGION"],
        # One attempt: a retried error would hide which answer came first.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def error_of(call):
    """The error a call raised, as botocore surfaces it, or None if it succeeded."""
    try:
        call()
    except ClientError as e:
        return {
            "code": e.response["Error"]["Code"],
            "message": e.response["Error"]["Message"],
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return None


def age_seconds(value):
    """How long ago a timestamp botocore parsed was: proves it reached Python as a datetime, not a raw number."""
    assert isinstance(value, datetime), f"not a datetime: {value!r}"
    return abs((datetime.now(timezone.utc) - value).total_seconds())


@scenario
def lifecycle(prefix):
    sm = client()
    name = f"{prefix}/app"
    out = {}
    created = sm.create_secret(
        Name=name,
        Description="Payments database",
        SecretString='{"user":"app","password":"pw-1"}',
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    out["create"] = {"arn": created["ARN"], "name": created["Name"], "versionId": created["VersionId"]}
    got = sm.get_secret_value(SecretId=name)
    out["get"] = {
        "secretString": got["SecretString"],
        "versionId": got["VersionId"],
        "versionStages": got["VersionStages"],
        "createdAgeSeconds": age_seconds(got["CreatedDate"]),
    }
    put = sm.put_secret_value(SecretId=name, SecretString="pw-2")
    out["put"] = {"versionId": put["VersionId"], "versionStages": put["VersionStages"]}
    by_arn = sm.get_secret_value(SecretId=created["ARN"])
    out["getByArn"] = {"secretString": by_arn["SecretString"]}
    binary = sm.create_secret(Name=f"{prefix}/binary", SecretBinary=b"\x00\x01\xff")
    out["binary"] = list(sm.get_secret_value(SecretId=binary["ARN"])["SecretBinary"])

    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "prod"}])
    sm.untag_resource(SecretId=name, TagKeys=["team"])
    described = sm.describe_secret(SecretId=name)
    out["describe"] = {
        "name": described["Name"],
        "description": described["Description"],
        "tags": described.get("Tags"),
        "versionIdsToStages": described["VersionIdsToStages"],
        "lastChangedAgeSeconds": age_seconds(described["LastChangedDate"]),
    }
    versions = sm.list_secret_version_ids(SecretId=name)
    out["versions"] = sorted(v["VersionId"] for v in versions["Versions"])

    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])
    out["list"] = [s["Name"] for s in listed["SecretList"]]
    pages = sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 1}
    )
    out["paginated"] = [s["Name"] for page in pages for s in page["SecretList"]]

    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    out["deletionAgeDays"] = (deleted["DeletionDate"] - datetime.now(timezone.utc)).total_seconds() / 86400
    out["readWhilePending"] = error_of(lambda: sm.get_secret_value(SecretId=name))
    out["listedWhilePending"] = [
        s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    ]
    out["listedWithPlanned"] = [
        s["Name"]
        for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}], IncludePlannedDeletion=True)[
            "SecretList"
        ]
    ]
    sm.restore_secret(SecretId=name)
    out["afterRestore"] = sm.get_secret_value(SecretId=name)["SecretString"]
    sm.delete_secret(SecretId=f"{prefix}/binary", ForceDeleteWithoutRecovery=True)
    out["afterForceDelete"] = error_of(lambda: sm.describe_secret(SecretId=f"{prefix}/binary"))
    return out


@scenario
def filters(prefix):
    """The AWS-recorded filter examples (see test/unit/core/secrets/secret-filters.test.ts), through boto3."""
    sm = client()
    secrets = [
        ("one", "a secret", [{"Key": "Env", "Value": "Production"}]),
        ("two", "an secret", [{"Key": "Env", "Value": "prod"}]),
        ("three", "asecret", []),
        ("four", "thesecret", [{"Key": "Team", "Value": "blue"}]),
        ("MyTestPhrase", "one two", []),
    ]
    for short, description, tags in secrets:
        sm.create_secret(Name=f"{prefix}/{short}", Description=description, SecretString="x", Tags=tags)

    def names(*extra, **kwargs):
        found = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}, *extra], **kwargs)["SecretList"]
        return [s["Name"][len(prefix) + 1 :] for s in found]

    out = {
        "description a": names({"Key": "description", "Values": ["a"]}),
        "description a secret": names({"Key": "description", "Values": ["a secret"]}),
        "description !a": names({"Key": "description", "Values": ["!a"]}),
        "description one, description two": names(
            {"Key": "description", "Values": ["one"]}, {"Key": "description", "Values": ["two"]}
        ),
        "tag-key Env": names({"Key": "tag-key", "Values": ["Env"]}),
        "tag-key !Env": names({"Key": "tag-key", "Values": ["!Env"]}),
        "tag-value Prod": names({"Key": "tag-value", "Values": ["Prod"]}),
        "all test phrase": names({"Key": "all", "Values": ["test phrase"]}),
        "all blue, thesecret": names({"Key": "all", "Values": ["blue", "thesecret"]}),
        "desc order": names({"Key": "description", "Values": ["secret", "a"]}, SortOrder="desc"),
    }
    batch = sm.batch_get_secret_value(
        Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "description", "Values": ["a secret"]}]
    )
    out["batch description a secret"] = [v["Name"][len(prefix) + 1 :] for v in batch["SecretValues"]]
    out["no values"] = error_of(lambda: sm.list_secrets(Filters=[{"Key": "description"}]))
    return out


@scenario
def errors(prefix):
    """AWS error codes as botocore surfaces them."""
    sm = client()
    name = f"{prefix}/err"
    sm.create_secret(Name=name, SecretString="x")
    return {
        "missing": error_of(lambda: sm.get_secret_value(SecretId=f"{prefix}/missing")),
        "duplicate": error_of(lambda: sm.create_secret(Name=name, SecretString="y")),
        "bothValues": error_of(lambda: sm.put_secret_value(SecretId=name, SecretString="a", SecretBinary=b"b")),
        "noStage": error_of(lambda: sm.get_secret_value(SecretId=name, VersionStage="NOPE")),
        "recoveryAndForce": error_of(
            lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
        ),
        "badNextToken": error_of(lambda: sm.list_secrets(NextToken="not-a-token")),
        "batchBoth": error_of(
            lambda: sm.batch_get_secret_value(SecretIdList=[name], Filters=[{"Key": "name", "Values": [name]}])
        ),
        "batchPerSecret": sm.batch_get_secret_value(SecretIdList=[name, f"{prefix}/missing"])["Errors"],
        # Not served (docs/secretsmanager-compat.md): botocore must still see an AWS error, not a transport failure.
        "validateResourcePolicy": error_of(
            lambda: sm.validate_resource_policy(ResourcePolicy='{"Version":"2012-10-17","Statement":[]}')
        ),
    }


def wait_for_status(sm, secret_id, region, status, seconds=30):
    """Polls DescribeSecret until the replica in `region` has `status` (replication is asynchronous, as in AWS)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        described = sm.describe_secret(SecretId=secret_id)
        found = [r for r in described.get("ReplicationStatus", []) if r["Region"] == region]
        if found and found[0]["Status"] == status:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"replica in {region} never reached {status}: {described.get('ReplicationStatus')}")
        time.sleep(0.05)


@scenario
def regions(prefix):
    """Secrets are regional: the same name in two regions, listed and addressed per region."""
    home, other = os.environ["AWS_DEFAULT_REGION"], os.environ["COFFER_OTHER_REGION"]
    a, b = client(home), client(other)
    name = f"{prefix}/dup"
    first = a.create_secret(Name=name, SecretString="home")
    second = b.create_secret(Name=name, SecretString="other")
    listed = lambda sm: [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]]
    return {
        "arns": [first["ARN"], second["ARN"]],
        "values": [a.get_secret_value(SecretId=name)["SecretString"], b.get_secret_value(SecretId=name)["SecretString"]],
        "listed": [listed(a), listed(b)],
        # An ARN names its region: the other region does not find it.
        "crossRegionArn": error_of(lambda: b.get_secret_value(SecretId=first["ARN"])),
    }


@scenario
def replication(prefix):
    """Create with a replica, write at the primary, read at the replica, refusals, then promote it."""
    home, other = os.environ["AWS_DEFAULT_REGION"], os.environ["COFFER_OTHER_REGION"]
    primary, replica = client(home), client(other)
    name = f"{prefix}/replicated"
    created = primary.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": other}])
    wait_for_status(primary, name, other, "InSync")
    put = primary.put_secret_value(SecretId=name, SecretString="v2")
    # The new version reaches the replica: poll until it reads it.
    import time

    deadline = time.monotonic() + 30
    while replica.get_secret_value(SecretId=name)["VersionId"] != put["VersionId"]:
        if time.monotonic() > deadline:
            raise AssertionError("the replica never got the new version")
        time.sleep(0.05)
    replica_value = replica.get_secret_value(SecretId=name)["SecretString"]
    replica_described = replica.describe_secret(SecretId=name)
    filtered = [
        s["Name"]
        for s in primary.list_secrets(Filters=[{"Key": "primary-region", "Values": [home]}])["SecretList"]
        if s["Name"].startswith(prefix)
    ]
    refusals = {
        "writeAtReplica": error_of(lambda: replica.put_secret_value(SecretId=name, SecretString="nope")),
        "deletePrimary": error_of(lambda: primary.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)),
    }
    promoted = replica.stop_replication_to_replica(SecretId=name)
    after = primary.describe_secret(SecretId=name)
    written = replica.put_secret_value(SecretId=name, SecretString="mine now")
    return {
        "createdReplicationStatus": [r["Region"] for r in created.get("ReplicationStatus", [])],
        "replicaValue": replica_value,
        "replicaPrimaryRegion": replica_described.get("PrimaryRegion"),
        "replicaArn": replica_described["ARN"],
        "primaryArn": created["ARN"],
        "primaryRegionFilter": filtered,
        "refusals": refusals,
        "promotedArn": promoted["ARN"],
        "primaryReplicationAfterPromotion": after.get("ReplicationStatus", []),
        "writtenAfterPromotion": bool(written["VersionId"]),
        "primaryValueAfterPromotion": primary.get_secret_value(SecretId=name)["SecretString"],
    }


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS:
        print(f"usage: {sys.argv[0]} <{'|'.join(SCENARIOS)}> <prefix>", file=sys.stderr)
        return 2
    print(json.dumps(SCENARIOS[sys.argv[1]](sys.argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
