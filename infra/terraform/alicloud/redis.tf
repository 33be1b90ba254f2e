# Tair (Redis 7 compatible), master-replica across two zones: the cache-invalidation
# bus, sessions, rate limits, wire challenges and the Dramatiq jobs (database 1).

resource "random_password" "redis" {
  length  = 32
  special = false
}

resource "alicloud_kvstore_instance" "main" {
  db_instance_name  = var.name
  instance_type     = "Redis"
  engine_version    = "7.0"
  instance_class    = var.redis_instance_class
  zone_id           = var.zones[0]
  secondary_zone_id = var.zones[1]
  vswitch_id        = alicloud_vswitch.nodes[0].id
  payment_type      = "PostPaid"
  password          = random_password.redis.result
  security_ips      = [var.vpc_cidr]
  ssl_enable        = "Enable"
  # Data at rest encrypted with the KMS key.
  tde_status     = "Enabled"
  encryption_key = alicloud_kms_key.main.id
  # No key may be evicted: sessions and rate-limit counters must not vanish silently.
  config = {
    "maxmemory-policy" = "noeviction"
  }
}

locals {
  redis_host = alicloud_kvstore_instance.main.connection_domain
  redis_url  = "rediss://:${random_password.redis.result}@${local.redis_host}:6379/0"
  broker_url = "rediss://:${random_password.redis.result}@${local.redis_host}:6379/1"
}
