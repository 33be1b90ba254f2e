# RDS for PostgreSQL 15, High-availability edition: a primary and a synchronous standby
# in two zones (the cloud fails over and keeps the endpoint), and a read replica in the
# third zone for resolution reads. Storage is ESSD and grows by itself.
#
# PolarDB for PostgreSQL (alicloud_polardb_cluster, db_type = "PostgreSQL") is the
# alternative when one primary's storage or replica count is the limit: its storage is
# shared and grows by itself, up to 15 read nodes. The module takes the same URLs.

resource "random_password" "db_owner" {
  length  = 32
  special = false
}

resource "alicloud_db_instance" "main" {
  engine                   = "PostgreSQL"
  engine_version           = "15.0"
  instance_name            = var.name
  instance_type            = var.db_instance_type
  instance_storage         = var.db_storage_gb
  db_instance_storage_type = "cloud_essd"
  category                 = "HighAvailability"
  instance_charge_type     = "Postpaid"
  zone_id                  = var.zones[0]
  zone_id_slave_a          = var.zones[1]
  vswitch_id               = join(",", [alicloud_vswitch.nodes[0].id, alicloud_vswitch.nodes[1].id])
  # The VPC only: no public endpoint is ever allocated.
  security_ips        = [var.vpc_cidr]
  deletion_protection = true
  # Minor versions (security fixes) in the maintenance window.
  auto_upgrade_minor_version = "Auto"
  maintain_time              = "18:00Z-19:00Z"
  # Storage that grows by itself: +15 % (at least 5 GB) when 30 % is left.
  storage_auto_scale  = "Enable"
  storage_threshold   = 30
  storage_upper_bound = var.db_storage_max_gb
  # TLS to the database, and transparent data encryption with the KMS key.
  ssl_action                 = "Open"
  tde_status                 = "Enabled"
  encryption_key             = alicloud_kms_key.main.id
  sql_collector_status       = "Enabled"
  sql_collector_config_value = 180
  monitoring_period          = 60

  parameters {
    name  = "log_connections"
    value = "on"
  }
  parameters {
    name  = "log_disconnections"
    value = "on"
  }
  parameters {
    name  = "log_duration"
    value = "on"
  }
  # An acknowledged write is on two servers.
  parameters {
    name  = "synchronous_commit"
    value = "on"
  }
}

resource "alicloud_rds_account" "owner" {
  db_instance_id   = alicloud_db_instance.main.id
  account_name     = "idnest"
  account_password = random_password.db_owner.result
  account_type     = "Super"
}

resource "alicloud_db_database" "idnest" {
  instance_id   = alicloud_db_instance.main.id
  name          = "idnest"
  character_set = "UTF8"
}

resource "alicloud_db_readonly_instance" "resolution" {
  master_db_instance_id = alicloud_db_instance.main.id
  engine_version        = alicloud_db_instance.main.engine_version
  instance_type         = var.db_replica_instance_type
  instance_storage      = var.db_storage_gb
  instance_name         = "${var.name}-ro"
  zone_id               = var.zones[2]
  vswitch_id            = alicloud_vswitch.nodes[2].id
  ssl_enabled           = 1
  deletion_protection   = true
}

resource "alicloud_db_backup_policy" "main" {
  instance_id                 = alicloud_db_instance.main.id
  backup_retention_period     = 30
  preferred_backup_period     = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
  preferred_backup_time       = "18:00Z-19:00Z"
  log_backup_retention_period = 30
  enable_backup_log           = true
}

locals {
  # The owner runs migrations, RLS and grants; idnest migrate creates the application
  # role (idnest_app, no BYPASSRLS) from database_url and grants it.
  db_host                = alicloud_db_instance.main.connection_string
  db_replica_host        = alicloud_db_readonly_instance.resolution.connection_string
  migration_database_url = "postgresql://idnest:${random_password.db_owner.result}@${local.db_host}:5432/idnest?sslmode=require"
  database_url           = "postgresql://idnest_app:${random_password.db_app.result}@${local.db_host}:5432/idnest?sslmode=require"
  database_replica_url   = "postgresql://idnest_app:${random_password.db_app.result}@${local.db_replica_host}:5432/idnest?sslmode=require"
}

resource "random_password" "db_app" {
  length  = 32
  special = false
}
