# A dual-stack VPC over three zones: per zone one vSwitch for the nodes and one for
# pods (Terway gives pods VPC addresses, so the load balancers reach them directly and
# the clients' source addresses survive: the UDP rate limit is per source).

resource "alicloud_vpc" "main" {
  vpc_name    = var.name
  cidr_block  = var.vpc_cidr
  enable_ipv6 = true
  ipv6_isp    = "BGP"
}

resource "alicloud_vswitch" "nodes" {
  count                = 3
  vswitch_name         = "${var.name}-nodes-${count.index}"
  vpc_id               = alicloud_vpc.main.id
  zone_id              = var.zones[count.index]
  cidr_block           = cidrsubnet(var.vpc_cidr, 8, count.index)
  enable_ipv6          = true
  ipv6_cidr_block_mask = count.index
}

resource "alicloud_vswitch" "pods" {
  count                = 3
  vswitch_name         = "${var.name}-pods-${count.index}"
  vpc_id               = alicloud_vpc.main.id
  zone_id              = var.zones[count.index]
  cidr_block           = cidrsubnet(var.vpc_cidr, 4, count.index + 1)
  enable_ipv6          = true
  ipv6_cidr_block_mask = count.index + 8
}

# IPv6 to and from the Internet goes through the IPv6 gateway.
resource "alicloud_vpc_ipv6_gateway" "main" {
  ipv6_gateway_name = var.name
  vpc_id            = alicloud_vpc.main.id
}

# IPv4 egress of the nodes (image pulls, the top-level node, Stripe, SMTP).
resource "alicloud_nat_gateway" "main" {
  vpc_id           = alicloud_vpc.main.id
  nat_gateway_name = var.name
  payment_type     = "PayAsYouGo"
  vswitch_id       = alicloud_vswitch.nodes[0].id
  nat_type         = "Enhanced"
}

resource "alicloud_eip_address" "nat" {
  address_name         = "${var.name}-nat"
  isp                  = "BGP"
  internet_charge_type = "PayByTraffic"
  payment_type         = "PayAsYouGo"
}

resource "alicloud_eip_association" "nat" {
  allocation_id = alicloud_eip_address.nat.id
  instance_id   = alicloud_nat_gateway.main.id
}

resource "alicloud_snat_entry" "nodes" {
  count             = 3
  snat_table_id     = alicloud_nat_gateway.main.snat_table_ids
  source_vswitch_id = alicloud_vswitch.nodes[count.index].id
  snat_ip           = alicloud_eip_address.nat.ip_address
  depends_on        = [alicloud_eip_association.nat]
}

# Egress of the answers. The guideline's 10,000 resolutions/s with 3x headroom, at
# 500-byte answers plus 48 bytes of IPv6+UDP headers (28 for IPv4):
#   3 x 10,000/s x 548 B x 8 bit = 131.5 Mbit/s, x 1.25 for bursts = 165 Mbit/s.
# The NLB's public IPv4 addresses draw on this shared bandwidth package.
locals {
  egress_mbps = ceil(3 * var.peak_qps * (var.answer_bytes + 48) * 8 / 1000000 * 1.25)
}

resource "alicloud_common_bandwidth_package" "wire" {
  bandwidth_package_name = "${var.name}-wire"
  bandwidth              = tostring(local.egress_mbps)
  internet_charge_type   = "PayByBandwidth"
  isp                    = "BGP"
}
