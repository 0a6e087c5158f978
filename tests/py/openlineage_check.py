"""Reads OpenLineage events (one JSON object per line) and rebuilds each with the
openlineage-python client's own event and facet classes, whose validators check run ids, times
and URIs; the rebuilt event must serialize back to exactly the input. Prints how many passed."""
import json
import sys

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
from openlineage.client.generated import (
    dataset_version_dataset,
    execution_parameters_run,
    job_type_job,
    processing_engine_run,
    schema_dataset,
    source_code_location_job,
)
from openlineage.client.generated.base import EventType
from openlineage.client.serde import Serde

FACETS = {
    "version": dataset_version_dataset.DatasetVersionDatasetFacet,
    "schema": schema_dataset.SchemaDatasetFacet,
    "executionParameters": execution_parameters_run.ExecutionParametersRunFacet,
    "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    "jobType": job_type_job.JobTypeJobFacet,
    "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet,
}


def facet(name, data):
    data = dict(data)
    producer = data.pop("_producer")
    schema_url = data.pop("_schemaURL")
    if name == "schema":
        data["fields"] = [schema_dataset.SchemaDatasetFacetFields(**f) for f in data["fields"]]
    if name == "executionParameters":
        data["parameters"] = [
            execution_parameters_run.ExecutionParameter(**p) for p in data["parameters"]
        ]
    built = FACETS[name](**data, producer=producer)
    if built._schemaURL != schema_url:
        raise ValueError(f"facet {name}: schema {schema_url} is not {built._schemaURL}")
    return built


def facets(data):
    return {name: facet(name, value) for name, value in data.items()}


def rebuild(event):
    def datasets(cls, items):
        return [cls(namespace=d["namespace"], name=d["name"], facets=facets(d["facets"])) for d in items]

    return RunEvent(
        eventType=EventType[event["eventType"]],
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=facets(event["run"]["facets"])),
        job=Job(
            namespace=event["job"]["namespace"],
            name=event["job"]["name"],
            facets=facets(event["job"]["facets"]),
        ),
        inputs=datasets(InputDataset, event["inputs"]),
        outputs=datasets(OutputDataset, event["outputs"]),
        producer=event["producer"],
    )


def without_added_defaults(back, original):
    """The client writes empty defaults ({} or []) for optional fields the input left out."""
    if isinstance(back, dict) and isinstance(original, dict):
        return {
            k: without_added_defaults(v, original.get(k))
            for k, v in back.items()
            if k in original or v not in ({}, [])
        }
    if isinstance(back, list) and isinstance(original, list) and len(back) == len(original):
        return [without_added_defaults(b, o) for b, o in zip(back, original)]
    return back


count = 0
for line in sys.stdin:
    event = json.loads(line)
    back = without_added_defaults(json.loads(Serde.to_json(rebuild(event))), event)
    if back != event:
        sys.exit(f"event {count + 1} does not round-trip:\n{json.dumps(event, sort_keys=True)}\n{json.dumps(back, sort_keys=True)}")
    count += 1
print(f"ok {count}")
