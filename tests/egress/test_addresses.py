"""The address policy: only public unicast addresses, whatever the spelling, and never a mixed answer."""

from __future__ import annotations

import ipaddress

import pytest

from app.egress import AddressPolicy, AddressRefused, Egress, NameResolutionFailed, refusal
from tests.egress.conftest import FAST, FakeDNS, LocalServer

REFUSED = [
    # IPv4 special-purpose ranges
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.100.100.200", "CGNAT"),  # Alibaba Cloud's metadata service
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),  # AWS, GCP, Azure, OpenStack metadata
    ("169.254.170.2", "link-local"),  # AWS ECS task metadata
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.192", "IETF"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("192.168.0.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    # IPv6
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", "unique local"),
    ("fd00:ec2::254", "unique local"),  # AWS metadata over IPv6
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"),
    ("fe80::a9fe:a9fe", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001::1", "Teredo"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "reserved"),  # discard-only
    ("64:ff9b:1::1", "reserved"),  # local-use NAT64
    ("4000::1", "reserved"),
    # IPv4 inside IPv6, judged by the IPv4 address
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:10.0.0.1", "private"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
    ("::169.254.169.254", "link-local"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254
    ("2002:c0a8:0101::1", "private"),  # 6to4 of 192.168.1.1
]

ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.215.14",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "192.169.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of a public address: IPv6-only networks reach IPv4 sites this way
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_special_purpose_addresses_are_refused(address: str, reason: str) -> None:
    verdict = refusal(ipaddress.ip_address(address))
    assert verdict is not None and reason in verdict


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_let_chosen_ranges_through_and_nothing_else() -> None:
    policy = AddressPolicy.from_strings(["127.0.0.1/32", "10.1.0.0/16"])
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None  # its mapped form
    assert policy.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert policy.refusal(ipaddress.ip_address("10.2.0.1")) is not None
    assert policy.refusal(ipaddress.ip_address("::1")) == "loopback"
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is not None


# Hosts the real resolver (getaddrinfo, as the fetch uses it) turns into refused addresses. {port} is a live
# server on 127.0.0.1 that counts connections: none may reach it.
REFUSED_URLS = [
    "https://localhost:{port}/doc",
    "https://LOCALHOST:{port}/doc",
    "https://127.0.0.1:{port}/doc",
    "https://127.1:{port}/doc",
    "https://127.000.000.001:{port}/doc",
    "https://2130706433:{port}/doc",  # decimal
    "https://0x7f000001:{port}/doc",  # hex
    "https://0x7f.1:{port}/doc",
    "https://0177.0.0.1:{port}/doc",  # octal
    "https://017700000001:{port}/doc",
    "https://[::ffff:127.0.0.1]:{port}/doc",
    "https://[::ffff:7f00:1]:{port}/doc",
    "https://0:{port}/doc",  # 0.0.0.0 reaches the local host on Linux
    "https://0.0.0.0:{port}/doc",
    "https://[::1]/doc",
    "https://[::]/doc",
    "https://[0:0:0:0:0:0:0:1]/doc",
    "https://169.254.169.254/latest/meta-data/",
    "https://2852039166/latest/meta-data/",  # 169.254.169.254 in decimal
    "https://0xa9fea9fe/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://[::ffff:169.254.169.254]/latest/meta-data/",
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "https://100.100.100.200/latest/meta-data/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://224.0.0.1/",
    "https://255.255.255.255/",
    "https://198.18.0.1/",
    "https://240.0.0.1/",
]


@pytest.mark.parametrize("template", REFUSED_URLS)
def test_refused_hosts_are_never_connected_to(strict, https: LocalServer, template: str) -> None:
    before = https.connections
    with pytest.raises(AddressRefused) as raised:
        strict.fetch(template.replace("{port}", str(https.port)))
    assert raised.value.description == "the host is not a public internet address"
    assert https.connections == before
    # The detail (for the log) says which address and why; the client-safe text names neither.
    detail = str(raised.value)
    assert "refused" in detail
    for internal in ("127.", "169.254", "::1", "10.0", "192.168", "fd00", "fe80"):
        assert internal not in raised.value.description


def test_a_name_that_does_not_resolve_is_a_resolution_failure(strict) -> None:
    with pytest.raises(NameResolutionFailed) as raised:
        strict.fetch("https://no-such-host.invalid/doc")
    assert raised.value.description == "the host name could not be resolved"


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1", "10.0.0.1"],
        ["10.0.0.1", "127.0.0.1"],
        ["127.0.0.1", "169.254.169.254"],
        ["127.0.0.1", "::1"],  # ::1 is not in this test's allowed networks
    ],
)
def test_a_mixed_answer_is_refused_whole(pki, https: LocalServer, fake_dns: FakeDNS, answer: list[str]) -> None:
    """One refused address refuses the host: trying the 'good' one first would still let an attacker pick."""
    client = Egress(AddressPolicy.from_strings(["127.0.0.1/32"]), str(pki.ca_file), FAST)
    fake_dns.answers["mixed.test"] = [answer]
    before = https.connections
    with pytest.raises(AddressRefused):
        client.fetch(https.url("/doc", host="mixed.test"))
    assert https.connections == before
