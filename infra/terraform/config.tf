# Configuration: non-secret IDNEST_* settings in a ConfigMap, URLs and keys in Secrets.
# Every name is a field of core.settings.Settings (tests/test_infra.py checks that).

resource "random_password" "secret_key" {
  count   = var.secret_key == "" ? 1 : 0
  length  = 64
  special = false
}

resource "tls_private_key" "wire" {
  count     = var.wire_key_pem == "" ? 1 : 0
  algorithm = "RSA"
  rsa_bits  = 2048
}

locals {
  # Where the wire server key is mounted (HTTP, resolver and worker pods). The HTTP pods
  # need it too: they answer 0.NA/{prefix} (HS_SITE, with the key) over HTTP.
  wire_key_dir  = "/etc/idnest/wire"
  wire_key_file = "wire_key.pem"

  # The wire load balancer's IP addresses (IPv4 and IPv6 with dual stack), advertised
  # in HS_SITE unless wire_addresses says otherwise.
  wire_lb_ips = distinct(flatten([
    for svc in kubernetes_service_v1.wire : [
      for ing in try(svc.status[0].load_balancer[0].ingress, []) : ing.ip if try(length(ing.ip) > 0, false)
    ]
  ]))
  wire_addresses = var.wire_addresses != "" ? var.wire_addresses : join(",", local.wire_lb_ips)

  config_data = merge(
    {
      IDNEST_VAR_DIR         = local.var_dir
      IDNEST_NODE_PREFIX     = var.node_prefix
      IDNEST_NODE_NAME       = var.node_name
      IDNEST_PUBLIC_BASE_URL = var.public_base_url != "" ? var.public_base_url : "https://${var.ingress_host}"
      IDNEST_OID_ARC         = var.oid_arc
      IDNEST_LOG_LEVEL       = var.log_level
      IDNEST_DB_POOL_SIZE    = tostring(var.db_pool_size)
      IDNEST_COOKIE_SECURE   = var.ingress_tls_secret_name != "" ? "true" : "false"
      IDNEST_WIRE_PORT       = tostring(var.wire_port)
      IDNEST_WIRE_ADDRESSES  = local.wire_addresses
      IDNEST_WIRE_KEY_FILE   = "${local.wire_key_dir}/${local.wire_key_file}"
      IDNEST_UPSTREAM_URL    = var.upstream_url
      IDNEST_SMTP_HOST       = var.smtp_host
      IDNEST_SMTP_PORT       = tostring(var.smtp_port)
      IDNEST_SMTP_USER       = var.smtp_user
      IDNEST_SMTP_FROM       = var.smtp_from
      IDNEST_OIDC_ISSUER     = var.oidc_issuer
      IDNEST_OIDC_CLIENT_ID  = var.oidc_client_id
    },
    var.extra_config,
  )

  secret_base = {
    IDNEST_DATABASE_URL       = var.database_url
    IDNEST_REDIS_URL          = var.redis_url
    IDNEST_BROKER_URL         = var.broker_url != "" ? var.broker_url : var.redis_url
    IDNEST_SECRET_KEY         = var.secret_key != "" ? var.secret_key : random_password.secret_key[0].result
    IDNEST_UPSTREAM_TOKEN     = var.upstream_token
    IDNEST_UPSTREAM_USERNAME  = var.upstream_username
    IDNEST_UPSTREAM_PASSWORD  = var.upstream_password
    IDNEST_SMTP_PASSWORD      = var.smtp_password
    IDNEST_OIDC_CLIENT_SECRET = var.oidc_client_secret
  }
  secret_data = merge(local.secret_base, var.extra_secrets)
}

# A load balancer that got only a host name (no IP) leaves nothing to advertise: HS_SITE
# needs addresses, so say so instead of publishing 127.0.0.1.
check "wire_addresses" {
  assert {
    condition     = local.wire_addresses != ""
    error_message = "The wire load balancer has no IP address yet (or only a host name): set wire_addresses to the public IPv4/IPv6 addresses of port ${var.wire_port} and apply again."
  }
}

resource "kubernetes_config_map_v1" "idnest" {
  metadata {
    name      = "${var.name}-config"
    namespace = local.namespace
    labels    = local.labels
  }

  data = local.config_data
}

# Read by every container with env_from: the names are the IDNEST_* variables.
resource "kubernetes_secret_v1" "idnest" {
  metadata {
    name      = "${var.name}-env"
    namespace = local.namespace
    labels    = local.labels
  }

  type = "Opaque"
  data = local.secret_data
}

# The wire server's RSA key, mounted as a file (IDNEST_WIRE_KEY_FILE).
resource "kubernetes_secret_v1" "wire_key" {
  metadata {
    name      = "${var.name}-wire-key"
    namespace = local.namespace
    labels    = local.labels
  }

  type = "Opaque"
  data = {
    (local.wire_key_file) = var.wire_key_pem != "" ? var.wire_key_pem : tls_private_key.wire[0].private_key_pem
  }
}
