"""One run of a DISINFOX import the way the Python connector does it on pycti, for `make bench`.

    python python_connector.py helper|splitter NEWER_THAN

Reads DISINFOX_URL, DISINFOX_API_KEY, OPENCTI_URL, OPENCTI_TOKEN and CONNECTOR_ID from the
environment (the bench's stand-ins). The same steps as the connector's run:

- helper: pycti's OpenCTIConnectorHelper (registration, a work), a `requests` GET with the raw
  key, `json` parse, a new bundle, `send_stix2_bundle` over the API
  (CONNECTOR_QUEUE_PROTOCOL=api: pycti splits the bundle with OpenCTIStix2Splitter to count
  expectations, then sends it with one `stixBundlePush`), the work marked processed.
- splitter: the same work without the helper, for a platform the helper cannot start
  against: `requests` GET, `json` parse, OpenCTIStix2Splitter, `json.dumps`, then the
  `stixBundlePush` mutation over `requests`.

Prints one JSON line and exits 0 when the run pushed what it fetched (or found nothing new);
prints the error on one line and exits 2 otherwise.
"""

import json
import os
import sys
import uuid

import requests

PUSH = (
    "mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) "
    "{ stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }"
)


def fetch(newer_than):
    answer = requests.get(
        os.environ["DISINFOX_URL"],
        params={"newer_than": newer_than},
        headers={"Authorization": os.environ["DISINFOX_API_KEY"]},
    )
    answer.raise_for_status()
    return answer.json().get("objects") or []


def with_helper(newer_than):
    from pycti import OpenCTIConnectorHelper

    helper = OpenCTIConnectorHelper(
        {
            "opencti": {
                "url": os.environ["OPENCTI_URL"],
                "token": os.environ["OPENCTI_TOKEN"],
            },
            "connector": {
                "id": os.environ["CONNECTOR_ID"],
                "type": "EXTERNAL_IMPORT",
                "name": "DISINFOX",
                "scope": "stix2",
                "log_level": "warning",
                "queue_protocol": "api",
            },
        }
    )
    work_id = helper.api.work.initiate_work(
        helper.connect_id, "DISINFOX connector for OpenCTI"
    )
    objects = fetch(newer_than)
    if objects:
        bundle = helper.stix2_create_bundle(objects)
        helper.send_stix2_bundle(bundle, work_id=work_id)
    helper.api.work.to_processed(work_id, "DISINFOX run done")
    helper.force_ping()
    return len(objects)


def with_splitter(newer_than):
    from pycti.utils.opencti_stix2_splitter import OpenCTIStix2Splitter

    objects = fetch(newer_than)
    if not objects:
        return 0
    bundle = json.dumps(
        {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    )
    OpenCTIStix2Splitter().split_bundle_with_expectations(bundle=bundle, use_json=True)
    answer = requests.post(
        os.environ["OPENCTI_URL"].rstrip("/") + "/graphql",
        json={
            "query": PUSH,
            "variables": {
                "connectorId": os.environ["CONNECTOR_ID"],
                "bundle": bundle,
                "work_id": None,
            },
        },
        headers={"Authorization": "Bearer " + os.environ["OPENCTI_TOKEN"]},
    )
    answer.raise_for_status()
    if answer.json().get("data", {}).get("stixBundlePush") is not True:
        raise RuntimeError(f"stixBundlePush refused: {answer.text[:200]}")
    return len(objects)


def main():
    mode, newer_than = sys.argv[1], sys.argv[2]
    run = with_helper if mode == "helper" else with_splitter
    try:
        pushed = run(newer_than)
    except Exception as e:  # one line for the benchmark's notes, then a failed run
        print(f"{type(e).__name__}: {str(e)[:300]}")
        sys.stdout.flush()
        os._exit(2)
    print(json.dumps({"mode": mode, "objects": pushed}))
    sys.stdout.flush()
    # pycti's helper leaves non-daemon threads (ping, heartbeat) behind: end here, as a
    # run-and-terminate connector does.
    os._exit(0)


if __name__ == "__main__":
    main()
