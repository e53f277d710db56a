#!/usr/bin/env python3
"""Seed and read an S3-compatible server (moto in the tests) with boto3, for the Rust e2e tests.

One command per run, a JSON request on stdin, a JSON answer on stdout:

  users   {"endpoint"}
          Create the IAM users the tests sign with (moto checks SigV4 signatures and IAM
          policies once its unauthenticated-action budget is spent): "seeder" (s3:*),
          "reader" (only s3:ListBucket + s3:GetObject, the permissions docs/sources/s3.md asks
          for) and "nobody" (no policy). Answers {"<user>": {"access_key_id", "secret_access_key"}}.
          Uses exactly USERS_ACTIONS unauthenticated actions.

  apply   {"endpoint", "credentials", "buckets": [{"name", "create": bool,
           "put": [{"key", "content" | "content_base64", "content_type"?, "metadata"?}],
           "generate": {"prefix", "count", "start"?, "size"?}?, "delete": ["key", ...]}]}
          Create buckets, put and delete objects (concurrently). Answers {"put", "deleted", "seconds"}.

  truth   {"endpoint", "credentials", "bucket", "prefix"?}
          Every object as the server lists it: {"objects": [{"id", "key", "etag", "size",
          "last_modified", "storage_class"}]} (etag without quotes, last_modified to the second,
          UTC; id: the S3 source's document id, hex SHA-256 of "<bucket>/<key>", computed here
          independently of the component).

  fetch   {"endpoint", "credentials", "bucket"}
          The benchmark floor: list the bucket and GET every object (WORKERS threads) with boto3.
          Answers {"objects", "bytes", "list_seconds", "seconds"}.
"""

import base64
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

REGION = "us-east-1"
USERS_ACTIONS = 8
WORKERS = 16

READER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::*"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::*/*"]},
    ],
}
SEEDER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}],
}


def client(service, endpoint, credentials=None):
    kwargs = {}
    if credentials:
        kwargs["aws_access_key_id"] = credentials["access_key_id"]
        kwargs["aws_secret_access_key"] = credentials["secret_access_key"]
    else:
        # Unauthenticated actions still need a syntactically signed request.
        kwargs["aws_access_key_id"] = "bootstrap"
        kwargs["aws_secret_access_key"] = "bootstrap"
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=WORKERS * 2,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
        **kwargs,
    )


def users(req):
    iam = client("iam", req["endpoint"])
    out = {}
    # 3 CreateUser + 2 PutUserPolicy + 3 CreateAccessKey = USERS_ACTIONS.
    for name, policy in (("seeder", SEEDER_POLICY), ("reader", READER_POLICY), ("nobody", None)):
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(
                UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
            )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        out[name] = {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
        }
    return out


def body_of(obj):
    if "content_base64" in obj:
        return base64.b64decode(obj["content_base64"])
    return obj.get("content", "").encode("utf-8")


def apply(req):
    s3 = client("s3", req["endpoint"], req["credentials"])
    started = time.monotonic()
    puts, deletes = [], []
    for b in req["buckets"]:
        name = b["name"]
        if b.get("create"):
            s3.create_bucket(Bucket=name)
        for obj in b.get("put", []):
            puts.append((name, obj))
        gen = b.get("generate")
        if gen:
            size = gen.get("size", 16)
            start = gen.get("start", 0)
            for i in range(start, start + gen["count"]):
                content = f"object {i} " + "x" * max(0, size - 12)
                puts.append((name, {"key": f"{gen['prefix']}{i:06d}.txt", "content": content}))
        for key in b.get("delete", []):
            deletes.append((name, key))

    def put(item):
        bucket, obj = item
        kwargs = {"Bucket": bucket, "Key": obj["key"], "Body": body_of(obj)}
        if obj.get("content_type"):
            kwargs["ContentType"] = obj["content_type"]
        if obj.get("metadata"):
            kwargs["Metadata"] = obj["metadata"]
        s3.put_object(**kwargs)

    def delete(item):
        bucket, key = item
        s3.delete_object(Bucket=bucket, Key=key)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, puts))
        list(pool.map(delete, deletes))
    return {"put": len(puts), "deleted": len(deletes), "seconds": time.monotonic() - started}


def truth(req):
    s3 = client("s3", req["endpoint"], req["credentials"])
    objects = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=req["bucket"], Prefix=req.get("prefix", "")
    )
    for page in pages:
        for o in page.get("Contents", []):
            objects.append(
                {
                    "id": hashlib.sha256(f"{req['bucket']}/{o['Key']}".encode("utf-8")).hexdigest(),
                    "key": o["Key"],
                    "etag": o["ETag"].strip('"'),
                    "size": o["Size"],
                    "last_modified": o["LastModified"].strftime("%Y-%m-%dT%H:%M:%S"),
                    "storage_class": o.get("StorageClass"),
                }
            )
    return {"objects": objects}


def fetch(req):
    s3 = client("s3", req["endpoint"], req["credentials"])
    started = time.monotonic()
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=req["bucket"]):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    listed = time.monotonic() - started

    def get(key):
        return len(s3.get_object(Bucket=req["bucket"], Key=key)["Body"].read())

    with ThreadPoolExecutor(WORKERS) as pool:
        size = sum(pool.map(get, keys))
    return {
        "objects": len(keys),
        "bytes": size,
        "list_seconds": listed,
        "seconds": time.monotonic() - started,
    }


COMMANDS = {"users": users, "apply": apply, "truth": truth, "fetch": fetch}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(COMMANDS)} < request.json")
    req = json.load(sys.stdin)
    json.dump(COMMANDS[sys.argv[1]](req), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
