"""The embedded namespace's history retention: how long Temporal keeps a closed run."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client


async def keep_history_for(client: Client, namespace: str, days: int) -> bool:
    """Make the namespace keep closed runs ``days`` days (at least 1); True if it changed."""
    wanted = timedelta(days=max(1, days))
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace))
    if described.config.workflow_execution_retention_ttl.ToTimedelta() == wanted:
        return False
    ttl = Duration()
    ttl.FromTimedelta(wanted)
    config = NamespaceConfig()
    config.CopyFrom(described.config)
    config.workflow_execution_retention_ttl.CopyFrom(ttl)
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(namespace=namespace, config=config))
    return True
