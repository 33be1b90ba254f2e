# The two doors, both dual stack over the three zones:
# - an NLB for the Handle wire protocol, UDP and TCP 2641. Terraform makes it; the
#   cluster's cloud controller adds the listeners and the resolver pods as backends
#   (the module's wire Service reuses it by id: wire_service_annotations below);
# - an ALB for HTTPS. Terraform makes it; the ALB Ingress controller (an ACK add-on)
#   takes it over through an AlbConfig that names its id, and the module's Ingress
#   (class "alb") gets its rules.

resource "alicloud_nlb_load_balancer" "wire" {
  load_balancer_name   = "${var.name}-wire"
  load_balancer_type   = "Network"
  address_type         = "Internet"
  address_ip_version   = "DualStack"
  ipv6_address_type    = "Internet"
  vpc_id               = alicloud_vpc.main.id
  cross_zone_enabled   = true
  bandwidth_package_id = alicloud_common_bandwidth_package.wire.id

  dynamic "zone_mappings" {
    for_each = range(3)
    content {
      zone_id    = var.zones[zone_mappings.value]
      vswitch_id = alicloud_vswitch.nodes[zone_mappings.value].id
    }
  }

  deletion_protection_config {
    enabled = true
    reason  = "the node's published HS_SITE addresses"
  }

  depends_on = [alicloud_vpc_ipv6_gateway.main]
}

resource "alicloud_log_project" "main" {
  project_name = "${var.name}-logs"
  description  = "ALB access logs of ${var.name}"
}

resource "alicloud_log_store" "alb" {
  project_name     = alicloud_log_project.main.project_name
  logstore_name    = "alb-access"
  retention_period = 180
}

resource "alicloud_alb_load_balancer" "http" {
  load_balancer_name     = "${var.name}-http"
  vpc_id                 = alicloud_vpc.main.id
  address_type           = "Internet"
  address_ip_version     = "DualStack"
  ipv6_address_type      = "Internet"
  address_allocated_mode = "Fixed"
  # The WAF-enabled edition: the portal faces the Internet.
  load_balancer_edition       = "StandardWithWaf"
  deletion_protection_enabled = true

  load_balancer_billing_config {
    pay_type = "PayAsYouGo"
  }

  dynamic "zone_mappings" {
    for_each = range(3)
    content {
      zone_id    = var.zones[zone_mappings.value]
      vswitch_id = alicloud_vswitch.nodes[zone_mappings.value].id
    }
  }

  access_log_config {
    log_project = alicloud_log_project.main.project_name
    log_store   = alicloud_log_store.alb.logstore_name
  }

  depends_on = [alicloud_vpc_ipv6_gateway.main]
}

# The ALB Ingress controller's view of the ALB: reuse it, HTTPS on 443 with the
# certificate, HTTP on 80 redirected. IngressClass "alb" points at it.
resource "kubernetes_manifest" "alb_config" {
  manifest = {
    apiVersion = "alibabacloud.com/v1"
    kind       = "AlbConfig"
    metadata   = { name = var.name }
    spec = {
      config = {
        id            = alicloud_alb_load_balancer.http.id
        forceOverride = false
      }
      listeners = [
        { port = 443, protocol = "HTTPS", certificates = [{ CertificateId = var.certificate_id, IsDefault = true }] },
        { port = 80, protocol = "HTTP" },
      ]
    }
  }
}

resource "kubernetes_ingress_class_v1" "alb" {
  metadata {
    name = "alb"
  }
  spec {
    controller = "ingresses.networking.k8s.io/alb"
    parameters {
      api_group = "alibabacloud.com"
      kind      = "AlbConfig"
      name      = var.name
    }
  }
  depends_on = [kubernetes_manifest.alb_config]
}

locals {
  # Cloud-specific only as annotations: the module stays cloud-neutral.
  wire_service_annotations = {
    "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id"                       = alicloud_nlb_load_balancer.wire.id
    "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-force-override-listeners" = "true"
    "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-ip-version"               = "DualStack"
  }
  ingress_annotations = {
    "alb.ingress.kubernetes.io/listen-ports"     = "[{\"HTTP\": 80},{\"HTTPS\": 443}]"
    "alb.ingress.kubernetes.io/ssl-redirect"     = "true"
    "alb.ingress.kubernetes.io/healthcheck-path" = "/readyz"
  }
}
