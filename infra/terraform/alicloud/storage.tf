# Storage that grows by itself:
# - NAS (General Purpose, pay by use: no size to outgrow) for IDNEST_VAR_DIR, the
#   ReadWriteMany volume the module mounts in the HTTP and worker pods;
# - OSS for tenant exports and escrow sets, mounted as directories of IDNEST_VAR_DIR
#   (the module's extra_volume_claims) through ACK's OSS CSI driver;
# - the database's ESSD (database.tf, storage_auto_scale).
# All of it encrypted with the KMS key.

resource "alicloud_nas_file_system" "var" {
  protocol_type    = "NFS"
  storage_type     = "Performance"
  file_system_type = "standard"
  description      = "${var.name} IDNEST_VAR_DIR"
  encrypt_type     = 2
  kms_key_id       = alicloud_kms_key.main.id
  zone_id          = var.zones[0]
}

resource "alicloud_nas_access_group" "vpc" {
  access_group_name = "${var.name}-vpc"
  access_group_type = "Vpc"
  file_system_type  = "standard"
}

resource "alicloud_nas_access_rule" "vpc" {
  access_group_name = alicloud_nas_access_group.vpc.access_group_name
  source_cidr_ip    = var.vpc_cidr
  rw_access_type    = "RDWR"
  user_access_type  = "no_squash"
  priority          = 1
}

resource "alicloud_nas_mount_target" "var" {
  file_system_id    = alicloud_nas_file_system.var.id
  access_group_name = alicloud_nas_access_group.vpc.access_group_name
  vswitch_id        = alicloud_vswitch.nodes[0].id
  vpc_id            = alicloud_vpc.main.id
}

resource "kubernetes_storage_class_v1" "nas" {
  metadata {
    name = "${var.name}-nas"
  }
  storage_provisioner    = "nasplugin.csi.alibabacloud.com"
  reclaim_policy         = "Retain"
  allow_volume_expansion = true
  parameters = {
    volumeAs        = "subpath"
    server          = "${alicloud_nas_mount_target.var.mount_target_domain}:/idnest/"
    archiveOnDelete = "true"
  }
  mount_options = ["nolock,tcp,noresvport", "vers=3"]
}

# Access logs of the two buckets.
resource "alicloud_oss_bucket" "logs" {
  #checkov:skip=CKV_ALI_12:this is the access-log bucket itself; logging it into itself would loop
  #checkov:skip=CKV_ALI_11:transfer acceleration speeds up uploads over the Internet from far away; the pods reach the bucket over the internal endpoint of the same region
  bucket        = "${var.name}-${var.region}-logs"
  storage_class = "Standard"

  server_side_encryption_rule {
    sse_algorithm     = "KMS"
    kms_master_key_id = alicloud_kms_key.main.id
  }

  versioning {
    status = "Enabled"
  }

  lifecycle_rule {
    id      = "expire-logs"
    enabled = true
    expiration {
      days = 180
    }
  }
}

resource "alicloud_oss_bucket" "archive" {
  #checkov:skip=CKV_ALI_11:transfer acceleration speeds up uploads over the Internet from far away; the pods reach the bucket over the internal endpoint of the same region
  for_each      = toset(["exports", "escrow"])
  bucket        = "${var.name}-${var.region}-${each.key}"
  storage_class = "Standard"

  server_side_encryption_rule {
    sse_algorithm     = "KMS"
    kms_master_key_id = alicloud_kms_key.main.id
  }

  versioning {
    status = "Enabled"
  }

  logging {
    target_bucket = alicloud_oss_bucket.logs.bucket
    target_prefix = "${each.key}/"
  }

  # Exports are fetched within their link's lifetime; escrow sets are kept (WORM below).
  lifecycle_rule {
    id      = "expire"
    enabled = true
    expiration {
      days = each.key == "exports" ? var.export_retention_days : var.escrow_retention_days + 30
    }
    noncurrent_version_expiration {
      days = 7
    }
  }
}

resource "alicloud_oss_bucket_acl" "private" {
  for_each = merge({ logs = alicloud_oss_bucket.logs.bucket }, { for k, b in alicloud_oss_bucket.archive : k => b.bucket })
  bucket   = each.value
  acl      = "private"
}

resource "alicloud_oss_bucket_public_access_block" "all" {
  for_each            = merge({ logs = alicloud_oss_bucket.logs.bucket }, { for k, b in alicloud_oss_bucket.archive : k => b.bucket })
  bucket              = each.value
  block_public_access = true
}

# Escrow sets cannot be deleted or overwritten before their retention ends.
resource "alicloud_oss_bucket_worm" "escrow" {
  bucket                   = alicloud_oss_bucket.archive["escrow"].bucket
  retention_period_in_days = var.escrow_retention_days
  status                   = "Locked"
}

# The pods reach OSS with the cluster's RRSA role (no access key in a Secret).
resource "kubernetes_persistent_volume_v1" "archive" {
  for_each = alicloud_oss_bucket.archive
  metadata {
    name = "${var.name}-${each.key}"
  }
  spec {
    capacity                         = { storage = "1Ti" }
    access_modes                     = ["ReadWriteMany"]
    persistent_volume_reclaim_policy = "Retain"
    storage_class_name               = "${var.name}-oss"
    persistent_volume_source {
      csi {
        driver        = "ossplugin.csi.alibabacloud.com"
        volume_handle = "${var.name}-${each.key}"
        volume_attributes = {
          bucket    = each.value.bucket
          url       = "oss-${var.region}-internal.aliyuncs.com"
          authType  = "rrsa"
          roleName  = "${var.name}-oss"
          otherOpts = "-o umask=007 -o allow_other -o uid=10001 -o gid=10001"
        }
      }
    }
  }
}

resource "kubernetes_persistent_volume_claim_v1" "archive" {
  for_each = alicloud_oss_bucket.archive
  metadata {
    name      = "${var.name}-${each.key}"
    namespace = kubernetes_namespace_v1.idnest.metadata[0].name
  }
  spec {
    access_modes       = ["ReadWriteMany"]
    storage_class_name = "${var.name}-oss"
    volume_name        = kubernetes_persistent_volume_v1.archive[each.key].metadata[0].name
    resources {
      requests = { storage = "1Ti" }
    }
  }
}

# The role the OSS volumes assume through RRSA (the cluster's OIDC provider): read and
# write on the two buckets, nothing else.
resource "alicloud_ram_role" "oss" {
  role_name = "${var.name}-oss"
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Federated = [alicloud_cs_managed_kubernetes.main.rrsa_metadata[0].ram_oidc_provider_arn] }
      Condition = {
        StringEquals = {
          "oidc:iss" = alicloud_cs_managed_kubernetes.main.rrsa_metadata[0].rrsa_oidc_issuer_url
          "oidc:aud" = "sts.aliyuncs.com"
        }
      }
    }]
  })
  description = "OSS volumes of ${var.name} (exports, escrow)"
}

resource "alicloud_ram_policy" "oss" {
  policy_name = "${var.name}-oss"
  policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect   = "Allow"
      Action   = ["oss:GetObject", "oss:PutObject", "oss:DeleteObject", "oss:ListObjects", "oss:GetBucketInfo", "oss:AbortMultipartUpload", "oss:ListParts"]
      Resource = flatten([for b in alicloud_oss_bucket.archive : ["acs:oss:*:*:${b.bucket}", "acs:oss:*:*:${b.bucket}/*"]])
    }]
  })
}

resource "alicloud_ram_role_policy_attachment" "oss" {
  policy_name = alicloud_ram_policy.oss.policy_name
  policy_type = "Custom"
  role_name   = alicloud_ram_role.oss.role_name
}
