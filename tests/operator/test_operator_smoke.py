import time

from tests.operator.cluster import wait_for


def test_smoke(cluster, operator):
    with operator():
        cluster.create(
            {
                "apiVersion": "voicestack.io/v1alpha1",
                "kind": "VoiceStack",
                "metadata": {"name": "demo", "namespace": "default"},
                "spec": {},
            }
        )
        wait_for(lambda: cluster.get("Deployment", "demo-router"), what="router")
        time.sleep(2)
    print(cluster.get("VoiceStack", "demo"))
    print([(c.method, c.plural, c.name, c.subresource) for c in cluster.writes()])
