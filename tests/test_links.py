import math

import pytest

from secfwt.links import PROFILES, Link, estimate_seconds, network_seconds, parse_link, parse_links


def test_named_profiles_are_the_papers():
    assert PROFILES["lan"] == Link("lan", 3e9, 0.8e-3)
    assert PROFILES["wan200"] == Link("wan200", 200e6, 40e-3)
    assert PROFILES["wan100"] == Link("wan100", 100e6, 80e-3)


@pytest.mark.parametrize("spec,bw,lat", [
    ("1gbit:10ms", 1e9, 10e-3), ("3Gbps:0.8ms", 3e9, 0.8e-3), ("500mbit:25ms", 500e6, 25e-3),
    ("10kbit:1s", 10e3, 1.0), ("100mbps:250us", 100e6, 250e-6),
])
def test_inline_profiles(spec, bw, lat):
    link = parse_link(spec)
    assert link.bandwidth_bps == pytest.approx(bw) and link.latency_s == pytest.approx(lat)


@pytest.mark.parametrize("spec", ["moon", "1gbit", "1gbit:", "fastgbit:1ms", "1zbit:1ms", "1gbit:1h", "0gbit:1ms", "",
                                  "1gbit:1ms:simplex", "1gbit:1ms:full:x"])
def test_bad_links_are_rejected(spec):
    with pytest.raises(ValueError):
        parse_links(spec)


def test_time_model_formula():
    link = Link("x", 1e9, 0.01)
    # 2 s compute + 100 rounds * 2 round trips * 10 ms + 1.25e9 bytes * 8 / 1e9 = 2 + 2 + 10
    assert estimate_seconds(2.0, 100, 1.25e9, link) == pytest.approx(14.0)
    # the model before it met a link: one latency per round
    assert estimate_seconds(2.0, 100, 1.25e9, link, round_trips=1) == pytest.approx(13.0)
    assert estimate_seconds(0.0, 0, 0, link) == 0.0


def test_duplex_decides_which_bytes_the_link_carries():
    """Half duplex carries both directions' bytes; full duplex only the busier direction's."""
    assert parse_link("1gbit:10ms").duplex == "half" and PROFILES["lan"].duplex == "half"
    full = parse_link("1gbit:10ms:full")
    assert (full.duplex, full.bandwidth_bps, full.latency_s) == ("full", 1e9, 0.01)
    half = Link("h", 1e9, 0.01)
    # 100 rounds * 2 * 10 ms + 1.25e9 bytes * 8 / 1e9 (half) or 0.5e9 busier-direction bytes (full)
    assert network_seconds(100, 1.25e9, half, duplex_bytes=0.5e9) == pytest.approx(12.0)
    assert network_seconds(100, 1.25e9, full, duplex_bytes=0.5e9) == pytest.approx(6.0)
    assert network_seconds(100, 1.25e9, half, duplex_bytes=0.5e9, duplex="full") == pytest.approx(6.0)
    assert estimate_seconds(2.0, 100, 1.25e9, full, duplex_bytes=0.5e9) == pytest.approx(8.0)
    assert math.isnan(network_seconds(100, 1.25e9, full))  # a record from before the counter
    with pytest.raises(ValueError):
        network_seconds(1, 1, half, duplex="simplex")
