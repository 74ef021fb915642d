"""The local cluster's pure parts: the real node's configuration, the egress selector, the node
proxy's CONNECT parsing and the image cache keys (the e2e tests run all of them for real)."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest

from localcluster import components, images, node, nodeproxy

LAYOUT = node.NodeLayout("abcd1234", Path("/tmp/state/node"))


def test_containerd_runs_runc_with_cgroupfs_and_our_own_dirs() -> None:
    config = tomllib.loads(node.containerd_config(LAYOUT))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == node.PAUSE_IMAGE
    assert cri["restrict_oom_score_adj"] is True  # no CAP_SYS_RESOURCE on this machine
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert (runc["BinaryName"], runc["SystemdCgroup"]) == ("/usr/sbin/runc", False)
    assert config["grpc"]["address"] == "/run/dynoform/abcd1234/containerd.sock"
    assert config["root"].startswith("/tmp/state/node/")
    assert cri["cni"]["conf_dir"] == "/tmp/state/node/cni"


def test_the_kubelet_suits_this_machine_and_keeps_pods_off_dns() -> None:
    config = node.kubelet_config(LAYOUT, Path("ca"), Path("crt"), Path("key"))
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupRoot"] == "/dynoform-abcd1234"
    assert config["failCgroupV1"] is False
    assert config["resolvConf"] == ""  # pods get no resolver: no cluster name is looked up
    assert config["address"] == node.NODE_IP
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["registerWithTaints"] == [
        {"key": node.TAINT, "value": "true", "effect": "NoSchedule"}
    ]
    argv = node.kubelet(Path("/bin/kubelet"), LAYOUT)
    assert f"--node-ip={node.NODE_IP}" in argv
    assert "--node-labels=topology.kubernetes.io/zone=zone-a," in " ".join(argv)


def test_pods_get_a_bridge_with_no_masquerade_and_no_way_out() -> None:
    (bridge,) = node.cni_config(LAYOUT)["plugins"]
    assert bridge["type"] == "bridge"
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": node.POD_SUBNET}]]


def test_the_api_server_reaches_the_node_through_the_egress_socket_only() -> None:
    (selection,) = components.egress_selector(LAYOUT)["egressSelections"]
    assert selection["name"] == "cluster"
    assert selection["connection"] == {
        "proxyProtocol": "HTTPConnect",
        "transport": {"uds": {"udsName": "/run/dynoform/abcd1234/egress.sock"}},
    }
    flags = components.apiserver_node_flags(components.Layout(Path("/s"), Path("/e")))
    assert "--kubelet-preferred-address-types=InternalIP" in flags
    assert "--enable-aggregator-routing=true" in flags


def read_connect(raw: bytes) -> str:
    async def parse() -> str:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await nodeproxy._read_connect(reader)

    return asyncio.run(parse())


def test_the_node_proxy_reads_the_api_servers_connect_request() -> None:
    # What kube-apiserver's egress dialer sends (egressselector.tunnelHTTPConnect).
    assert read_connect(b"CONNECT 10.213.0.2:10250 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == (
        "10.213.0.2:10250"
    )
    with pytest.raises(ValueError, match="not a CONNECT"):
        read_connect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_an_images_key_follows_its_inputs(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text("print(1)\n")
    first = images._digest([source], "extra")
    assert images._digest([source], "extra") == first
    source.write_text("print(2)\n")
    assert images._digest([source], "extra") != first
    assert images._digest([source], "other") != images._digest([source], "extra")
