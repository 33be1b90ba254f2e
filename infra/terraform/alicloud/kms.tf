# One customer master key: it encrypts the database (TDE), Redis, the OSS buckets, the
# cluster's Secrets in etcd, and the secrets kept in KMS Secrets Manager below.

resource "alicloud_kms_key" "main" {
  description            = "${var.name}: data at rest and secrets"
  key_spec               = "Aliyun_AES_256"
  key_usage              = "ENCRYPT/DECRYPT"
  protection_level       = "HSM"
  automatic_rotation     = "Enabled"
  rotation_interval      = "365d"
  pending_window_in_days = 30
  status                 = "Enabled"
}

resource "alicloud_kms_alias" "main" {
  alias_name = "alias/${var.name}"
  key_id     = alicloud_kms_key.main.id
}

# The passwords this layer made, kept where the operators read them (not in the repo):
# the Kubernetes Secret idnest-env is generated from the same values.
resource "alicloud_kms_secret" "database_owner" {
  secret_name                   = "${var.name}/database-owner"
  secret_data                   = random_password.db_owner.result
  version_id                    = "v1"
  encryption_key_id             = alicloud_kms_key.main.id
  force_delete_without_recovery = false
  recovery_window_in_days       = 30
}

resource "alicloud_kms_secret" "database_app" {
  secret_name                   = "${var.name}/database-app"
  secret_data                   = random_password.db_app.result
  version_id                    = "v1"
  encryption_key_id             = alicloud_kms_key.main.id
  force_delete_without_recovery = false
  recovery_window_in_days       = 30
}

resource "alicloud_kms_secret" "redis" {
  secret_name                   = "${var.name}/redis"
  secret_data                   = random_password.redis.result
  version_id                    = "v1"
  encryption_key_id             = alicloud_kms_key.main.id
  force_delete_without_recovery = false
  recovery_window_in_days       = 30
}
